"""The calculator never evaluates code; arguments are schema-checked; bad tool calls become sentences."""

import json

import pytest

from llm_workshop.concepts import tools
from llm_workshop.concepts.tools import ToolCall, ToolError


@pytest.mark.parametrize(
    "expression, value",
    [("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("2 ** 10", 1024), ("-3 + 4", 1), ("7 // 2 + 7 % 2", 4), ("sqrt(16) / 8", 0.5),
     ("max(3, 9, 4) - abs(-2)", 7), ("round(2.567, 2)", 2.57), ("1.5e3", 1500.0)],
)  # fmt: skip
def test_calculator_matches_python_arithmetic(expression, value):
    assert tools.calculate(expression) == pytest.approx(value)


@pytest.mark.parametrize(
    "expression, message",
    [("__import__('os').system('echo pwned')", "not allowed"), ("open('/etc/passwd').read()", "not allowed"),
     ("(1).__class__", "not allowed"), ("x + 1", "not allowed"), ("9 ** 9 ** 9", "exponents above"),
     ("1 / 0", "divides by zero"), ("2 +", "not valid arithmetic"), ("", "empty"), ("'a' * 3", "not allowed"),
     ("[1, 2]", "not allowed"), ("sqrt(-1)", "cannot be computed")],
)  # fmt: skip
def test_calculator_refuses_everything_else_with_a_sentence(expression, message):
    with pytest.raises(ToolError, match=message):
        tools.calculate(expression)


def test_parse_tool_calls_reads_qwen_blocks():
    reply = 'Let me compute.\n<tool_call>\n{"name": "calculator", "arguments": {"expression": "6 * 7"}}\n</tool_call>'
    assert tools.parse_tool_calls(reply) == [ToolCall("calculator", {"expression": "6 * 7"})]
    as_string = '<tool_call>{"name": "calculator", "arguments": "{\\"expression\\": \\"1+1\\"}"}</tool_call>'
    assert tools.parse_tool_calls(as_string) == [ToolCall("calculator", {"expression": "1+1"})]
    assert tools.parse_tool_calls("The answer is 42.") == []


@pytest.mark.parametrize(
    "reply, message",
    [('<tool_call>{"name": "calculator", "arguments": {"expression": "1+1"</tool_call>', "not valid JSON"),
     ('<tool_call>{"name": "calculator", "arguments": {"expression": "1+1"}}', "never closes"),
     ('<tool_call>["calculator"]</tool_call>', '"name" string'),
     ('<tool_call>{"name": "calculator", "arguments": [1]}</tool_call>', "must be a JSON object")],
)  # fmt: skip
def test_malformed_tool_calls_become_sentences(reply, message):
    with pytest.raises(ToolError, match=message):
        tools.parse_tool_calls(reply)


def test_registry_allows_only_listed_tools_with_valid_arguments():
    registry = tools.Registry([tools.calculator_tool()])
    assert registry.run(ToolCall("calculator", {"expression": "6 * 7"})) == "The result is 42."
    assert registry.run(ToolCall("calculator", {"expression": "1 / 3"})) == "The result is 0.33."
    with pytest.raises(ToolError, match="no tool named 'shell'; the tools are calculator"):
        registry.run(ToolCall("shell", {"command": "rm -rf /"}))
    with pytest.raises(ToolError, match="'expression' is a required property"):
        registry.run(ToolCall("calculator", {}))
    with pytest.raises(ToolError, match="expression: 42 is not of type 'string'"):
        registry.run(ToolCall("calculator", {"expression": 42}))
    with pytest.raises(ToolError, match="Additional properties"):
        registry.run(ToolCall("calculator", {"expression": "1", "unsafe": True}))
    with pytest.raises(ValueError, match="unique"):
        tools.Registry([tools.calculator_tool(), tools.calculator_tool()])


def test_specs_render_in_qwens_chat_template():
    from transformers import AutoTokenizer

    from llm_workshop.course.data import HUB_ASSETS

    tokenizer = AutoTokenizer.from_pretrained(HUB_ASSETS / "Qwen__Qwen2.5-0.5B-Instruct")
    registry = tools.Registry([tools.calculator_tool()])
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "6 x 7?"}], tools=registry.specs(), tokenize=False
    )
    assert '"name": "calculator"' in prompt and "<tool_call>" in prompt, prompt


def test_sql_tool_reads_and_never_writes(tmp_path):
    from llm_workshop.concepts import injection
    from llm_workshop.concepts.sql import shop

    db = tmp_path / "shop.db"
    shop.make_database(db)
    before = injection.file_digest(db)
    registry = tools.Registry([tools.sql_tool(db, allowed_tables={"products"})])
    result = registry.run(ToolCall("run_sql", {"query": "SELECT COUNT(*) FROM products"}))
    rows = json.loads(result.removeprefix("The result is ").removesuffix("."))
    assert rows[0][0] > 0, rows
    for query, message in [("DROP TABLE products", "only a single SELECT"), ("SELECT name FROM customers", "allow-list"),
                           ("SELECT nonsense FROM products", "the query failed")]:  # fmt: skip
        with pytest.raises(ToolError, match=message):
            registry.run(ToolCall("run_sql", {"query": query}))
    assert injection.file_digest(db) == before, "the database file changed"


def test_search_tool_returns_passages_or_says_it_found_none():
    from llm_workshop.concepts import bm25, chunking, text

    chunks = chunking.token_chunks(100, 20)
    index = bm25.BM25([text.tokenize(c.text) for c in chunks])

    def search(query, k):
        ids, _ = index.top_k(text.tokenize(query), k)
        return [chunks[i].text for i in ids]

    registry = tools.Registry([tools.search_tool(search)])
    found = registry.run(ToolCall("search", {"query": "swamp adder", "k": 2})).split("\n")
    assert [line[:4] for line in found] == ["[1] ", "[2] "] and "swamp adder" in found[0].lower(), found
    assert registry.run(ToolCall("search", {"query": "xyzzy plugh"})).startswith("No passage matches")
    with pytest.raises(ToolError, match="k: 50 is greater than the maximum of 10"):
        registry.run(ToolCall("search", {"query": "goose", "k": 50}))
