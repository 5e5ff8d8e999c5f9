"""Exercise graders of 1.3 Transformers from the inside: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from llm_workshop.concepts.attention import causal_mask
from llm_workshop.concepts.objectives import span_corrupt
from llm_workshop.course.verdict import attempt, grader


@grader(
    "start from torch.ones(n, n, dtype=torch.bool): row i is query i, column j key j; keep j <= i.",
    "torch.ones(n, n, dtype=torch.bool).tril() keeps the diagonal and everything below it.",
)
def check_causal_mask(fn: Callable[[int], torch.Tensor]) -> tuple[bool, str]:
    """Exercise check: `fn(n)` must return an (n, n) boolean mask, True on and below the diagonal."""
    for n in (1, 2, 5, 9):
        got, error = attempt(fn, n)
        if error:
            return False, error
        if not isinstance(got, torch.Tensor) or got.shape != (n, n):
            return False, f"for n={n} return a torch.Tensor of shape ({n}, {n})."
        if got.dtype != torch.bool:
            return False, "return a boolean tensor (True = may attend); try `.bool()` or torch.tril."
        if not torch.equal(got, causal_mask(n)):
            return False, "query i may attend to keys 0..i only: True on and below the diagonal."
    return True, ""


_CHECK_CASES = [
    ("thank you for inviting me to your party last week".split(), [(2, 4), (8, 9)]),
    ("holmes lit his pipe and looked at the fire".split(), [(0, 1), (3, 6)]),
    ("elementary my dear watson".split(), [(1, 3)]),
    ("the game is afoot".split(), []),
]


@grader(
    "walk through the spans in order with a position that starts at 0: inputs get tokens[position:start] and then "
    "sentinel(i); targets get sentinel(i) and then tokens[start:end]; position becomes end.",
    "after the loop: inputs += tokens[position:], and targets end with sentinel(len(spans)).",
)
def check_span_corruption(
    fn: Callable[[Sequence[str], Sequence[tuple[int, int]]], tuple[list[str], list[str]]],
) -> tuple[bool, str]:
    """Check `fn(tokens, spans)`: the (inputs, targets) token lists of T5 span corruption, against `span_corrupt`."""
    for tokens, spans in _CHECK_CASES:
        expected_inputs, expected_targets = span_corrupt(tokens, spans)
        got, error = attempt(lambda t, s: tuple(list(part) for part in fn(t, s)), tokens, spans)
        if error:
            return False, error
        if len(got) != 2:
            return False, "return two lists: (inputs, targets)."
        inputs, targets = got
        case = f"for {' '.join(tokens)!r} and spans {spans}"
        if inputs != expected_inputs:
            if any(token not in inputs for token in expected_inputs if token.startswith("<extra_id")):
                hint = f"each span becomes ONE sentinel, <extra_id_0>, <extra_id_1>, ... in order ({case})."
            else:
                hint = f"inputs: the tokens outside the spans, with each span replaced by its sentinel ({case})."
            return False, hint
        if targets != expected_targets:
            if targets == expected_targets[:-1]:
                hint = f"the target ends with one more sentinel, {expected_targets[-1]}, after the last span."
            else:
                hint = f"targets: each span's sentinel followed by the tokens it hides ({case})."
            return False, hint
    return True, ""
