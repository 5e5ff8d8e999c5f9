"""Exercise graders of 2.7 Tools and agents: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

from collections.abc import Callable

import torch

from llm_workshop.concepts.tools import ToolCall, ToolError, parse_tool_calls
from llm_workshop.course.verdict import attempt, grader

_CALL = '<tool_call>\n{"name": "calculator", "arguments": {"expression": "6 * 7"}}\n</tool_call>'
_GOOD = [  # replies whose calls parse (the reference parser gives the expected list)
    "The answer is 42.",
    _CALL,
    'Let me look.\n<tool_call>\n{"name": "search", "arguments": {"query": "Ada\'s pet"}}\n</tool_call>',
    _CALL + "\n" + _CALL.replace("6 * 7", "1 + 1"),
    '<tool_call>{"name": "run_sql", "arguments": {"query": "SELECT 1"}}</tool_call>',
    '<tool_call>\n{"name": "calculator", "arguments": {"expression": "2 ** 10"}}\n</tool_call>',
]
_BAD = {  # replies that must raise a ToolError, and what is wrong with them
    '<tool_call>\n{"name": "calculator", "arguments": {"expression": "6 *\n</tool_call>': "a block that is not JSON",
    '<tool_call>\n{"arguments": {"expression": "6 * 7"}}\n</tool_call>': 'a block without a "name"',
    '<tool_call>\n["calculator", "6 * 7"]\n</tool_call>': "a block that is a JSON list, not an object",
    '<tool_call>\n{"name": "calculator", "arguments": "6 * 7"}\n</tool_call>': 'an "arguments" that is not an object',
    '<tool_call>\n{"name": "calculator", "arguments": {"expression": "6 * 7"}}': "a block that is never closed",
}


@grader(
    "re.findall(r'<tool_call>(.*?)</tool_call>', text, re.DOTALL) gives the blocks; json.loads each one, and turn "
    "json.JSONDecodeError into tools.ToolError.",
    "after json.loads, check isinstance(data, dict), isinstance(data.get('name'), str) and that "
    "data.get('arguments', {}) is a dict; if no block was found but '<tool_call>' is in the text, raise ToolError.",
)
def check_parse_tool_calls(fn: Callable[[str], list[ToolCall]]) -> tuple[bool, str]:
    """Exercise check: `fn(text)` must return the reply's ToolCalls and raise ToolError on a malformed one."""
    for text in _GOOD:
        got, error = attempt(fn, text)
        if error:
            return False, f"for {text!r} {error}"
        expected = parse_tool_calls(text)
        if not isinstance(got, list) or got != expected:
            return False, f"for {text!r} expected {expected}, got {got!r}."
    for text, what in _BAD.items():
        try:
            got = fn(text)
        except ToolError:
            continue
        except Exception as error:  # the learner's code may fail in any way
            return False, f"for {what} raise tools.ToolError with a sentence, not {type(error).__name__}: {error}"
        return False, f"for {what} ({text!r}) raise tools.ToolError; your function returned {got!r}."
    return True, ""


_SCORES = [
    (torch.tensor([1.0, -2.0, 3.5, 0.0, 7.0]), [2, 0]),
    (torch.tensor([0.5, 0.25, -1.0]), [1]),
    (torch.linspace(-3, 3, 11), [10, 3, 4, 0]),
    (torch.tensor([2.0, 1.0, 0.0, -1.0]), [0, 1, 2, 3]),
]


@grader(
    "start from torch.full_like(scores, float('-inf')) and copy scores[allowed] into the same positions.",
    "out = torch.full_like(scores, float('-inf')); out[allowed] = scores[allowed]; return out (scores unchanged).",
)
def check_keep_allowed(fn: Callable[[torch.Tensor, list[int]], torch.Tensor]) -> tuple[bool, str]:
    """Exercise check: `fn(scores, allowed)` must keep the allowed scores, set the rest to -inf, and not modify
    `scores`."""
    for scores, allowed in _SCORES:
        before = scores.clone()
        got, error = attempt(fn, scores, list(allowed))
        if error:
            return False, error
        expected = torch.full_like(scores, float("-inf"))
        expected[allowed] = scores[allowed]
        if not torch.equal(scores, before):
            return False, "you changed `scores` in place; build a new tensor (generate() may reuse the scores)."
        if not isinstance(got, torch.Tensor) or got.shape != scores.shape:
            return False, f"return a tensor of the scores' shape {tuple(scores.shape)}, got {got!r}."
        if not torch.equal(got, expected):
            return (
                False,
                f"for scores {scores.tolist()} and allowed {allowed} expected {expected.tolist()}, got {got.tolist()}.",
            )
    return True, ""
