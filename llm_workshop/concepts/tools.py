"""Tools a model may call: a safe calculator, JSON-schema checks on arguments, an allow-listed registry, and the parser
for the `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks that Qwen2.5's chat template asks for.

Nothing a model writes is trusted: the calculator parses arithmetic with `ast` and evaluates only allowed operators
(never `eval`), arguments are validated against each tool's schema, and an unknown tool or a bad call becomes a
one-sentence error the agent can show the model, not an exception that ends the program.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
import sqlite3
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from llm_workshop.concepts.sql.sandbox import execute_readonly

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}  # fmt: skip
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS = {"sqrt": math.sqrt, "abs": abs, "round": round, "min": min, "max": max}
MAX_EXPONENT = 100  # 9 ** 9 ** 9 would run for hours: refuse big powers instead
TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


class ToolError(ValueError):
    """A problem with a tool call, described in one sentence the model can read and correct."""


def calculate(expression: str) -> float | int:
    """The value of an arithmetic expression: numbers, + - * / // % **, parentheses, and sqrt/abs/round/min/max."""
    if not isinstance(expression, str) or not expression.strip():
        raise ToolError("the expression is empty; pass arithmetic such as '12 * (3 + 4)'")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ToolError(f"{expression!r} is not valid arithmetic; use numbers, + - * / ** and parentheses") from None
    try:
        return _evaluate(tree.body)
    except ZeroDivisionError:
        raise ToolError(f"{expression!r} divides by zero") from None
    except (OverflowError, ValueError, TypeError) as error:
        raise ToolError(f"{expression!r} cannot be computed ({error})") from None


def _evaluate(node: ast.AST) -> float | int:
    """Evaluate an allowed expression node; anything else (names, attributes, calls of other functions) is refused."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ToolError(f"exponents above {MAX_EXPONENT} are not allowed, got {right}")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_evaluate(arg) for arg in node.args))
    raise ToolError(f"{ast.unparse(node)!r} is not allowed; use numbers, + - * / // % ** and {', '.join(_FUNCTIONS)}")


def schema_error(arguments: Any, schema: dict) -> str | None:
    """None if `arguments` satisfy the JSON schema, else one sentence naming the first problem and where it is."""
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(arguments))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "the arguments"
    return f"{where}: {error.message}"


@dataclass(frozen=True)
class Tool:
    """A callable with the name, description and JSON schema of its arguments that the chat template shows the model."""

    name: str
    description: str
    parameters: dict
    function: Callable[..., Any]

    def spec(self) -> dict:
        """The OpenAI-style function description that `apply_chat_template(tools=[...])` renders."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}  # fmt: skip


@dataclass(frozen=True)
class ToolCall:
    """A parsed request to run tool `name` with `arguments`."""

    name: str
    arguments: dict = field(default_factory=dict)


class Registry:
    """The allow-list: only tools registered here can run, and only with arguments their schema accepts."""

    def __init__(self, tools: list[Tool]) -> None:
        names = [t.name for t in tools]
        if len(set(names)) != len(names):
            raise ValueError(f"tool names must be unique, got {names}")
        self.tools = {t.name: t for t in tools}

    def specs(self) -> list[dict]:
        """Every tool's description for the chat template's `tools=` argument."""
        return [t.spec() for t in self.tools.values()]

    def check(self, call: ToolCall) -> None:
        """Raise a ToolError if the tool is not on the allow-list or the arguments fail its schema."""
        if call.name not in self.tools:
            raise ToolError(f"there is no tool named {call.name!r}; the tools are {', '.join(sorted(self.tools))}")
        problem = schema_error(call.arguments, self.tools[call.name].parameters)
        if problem:
            raise ToolError(f"the arguments of {call.name} are invalid: {problem}")

    def run(self, call: ToolCall) -> str:
        """Check the call, run it, and return its result as text (a ToolError from the tool passes through)."""
        self.check(call)
        result = self.tools[call.name].function(**call.arguments)
        return result if isinstance(result, str) else json.dumps(result)


def parse_tool_calls(text: str) -> list[ToolCall]:
    """The tool calls in a model's reply (empty when it called none); a malformed block raises a ToolError."""
    calls = []
    for block in TOOL_CALL.findall(text):
        try:
            data = json.loads(block)
        except json.JSONDecodeError as error:
            raise ToolError(f"the tool call is not valid JSON ({error.msg} at character {error.pos})") from None
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise ToolError('a tool call must be a JSON object with a "name" string and an "arguments" object')
        arguments = data.get("arguments", {})
        if isinstance(arguments, str):  # some models send the arguments as a JSON string
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                raise ToolError(f'the "arguments" of {data["name"]} are a string that is not JSON') from None
        if not isinstance(arguments, dict):
            raise ToolError(f'the "arguments" of {data["name"]} must be a JSON object, got {type(arguments).__name__}')
        calls.append(ToolCall(data["name"], arguments))
    if not calls and "<tool_call>" in text:
        raise ToolError("the reply opens <tool_call> but never closes it with </tool_call>")
    return calls


def number_text(value: float | int) -> str:
    """A number as a tool reports it: integers without a decimal point, others rounded to 2 decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def result_sentence(value: str) -> str:
    """How the calculator and the SQL tool report a value: a sentence the answer can repeat word for word."""
    return f"The result is {value}."


def calculator_tool() -> Tool:
    """The calculator as a Tool: one required string argument, `expression`; it reports `The result is <value>.`"""
    schema = {"type": "object", "properties": {"expression": {"type": "string", "minLength": 1, "maxLength": 200}},
              "required": ["expression"], "additionalProperties": False}  # fmt: skip

    def calculator(expression: str) -> str:
        return result_sentence(number_text(calculate(expression)))

    return Tool("calculator", "Evaluate an arithmetic expression, e.g. '(17 + 4) * 3'.", schema, calculator)


def sql_tool(db_path: str | Path, allowed_tables: Collection[str] | None = None, description: str = "") -> Tool:
    """3.3's read-only sandbox as a Tool: one SELECT on the shop database, reported as `The result is [[rows]].`;
    refusals and SQL errors become sentences. `description` is added to the tool's (e.g. the tables' columns)."""

    def run_sql(query: str) -> str:
        try:
            rows = execute_readonly(db_path, query, allowed_tables=allowed_tables, max_rows=20)
        except (ValueError, TimeoutError, sqlite3.Error) as error:
            raise ToolError(f"the query failed: {error}") from None
        return result_sentence(json.dumps([[number_text(v) if isinstance(v, float) else v for v in r] for r in rows]))

    schema = {"type": "object", "properties": {"query": {"type": "string", "minLength": 1, "maxLength": 500}},
              "required": ["query"], "additionalProperties": False}  # fmt: skip
    about = "Run one read-only SQLite SELECT on the shop database and return its rows."
    return Tool("run_sql", f"{about} {description}".strip(), schema, run_sql)


def search_tool(
    search: Callable[[str, int], list[str]], description: str = "Find passages that answer a question."
) -> Tool:
    """2.6's retriever as a Tool: `search(query, k)` returns passage texts, reported one a line as `[1] text` (2.6's
    format, so the answer can cite them); a search that finds nothing says so."""

    def search_passages(query: str, k: int = 1) -> str:
        passages = search(query, k)
        if not passages:
            return f"No passage matches {query!r}; do not guess an answer."
        return "\n".join(f"[{i}] {p}" for i, p in enumerate(passages, 1))

    schema = {"type": "object", "properties": {"query": {"type": "string", "minLength": 1, "maxLength": 200},
              "k": {"type": "integer", "minimum": 1, "maximum": 10}}, "required": ["query"], "additionalProperties": False}  # fmt: skip
    return Tool("search", description, schema, search_passages)
