"""Exercise graders of 2.3 Prompting and evaluation: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import math
from collections.abc import Callable

from llm_workshop.concepts.metrics import rouge_l
from llm_workshop.course.verdict import attempt, grader


@grader(
    "With `p` and `r` the two token lists, `table = [[0] * (len(r) + 1) for _ in range(len(p) + 1)]`; cell "
    "`[i + 1][j + 1]` is `table[i][j] + 1` when `p[i] == r[j]`, else `max(table[i][j + 1], table[i + 1][j])`.",
    "The LCS length is `table[-1][-1]`; return it divided by `len(r)`, the reference's token count "
    "(tokens from `metrics.rouge_tokenize`, so case and punctuation do not matter).",
)
def check_rouge_l_recall(fn: Callable[[str, str], float]) -> tuple[bool, str]:
    """Exercise check: `fn(pred, ref)` must return ROUGE-L recall (longest common subsequence / reference tokens)."""
    cases = [
        ("it is not cold outside", "it is very cold outside"),
        ("A goose found Holmes inside the hidden Christmas jewel stolen.", "Holmes found the stolen jewel in a goose"),
        ("the the the the", "the cat sat on the mat"),
        ("a completely different sentence", "nothing in common here"),
        ("", "an empty prediction recalls nothing"),
    ]
    for pred, ref in cases:
        got, error = attempt(fn, pred, ref)
        if error:
            return False, error
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return False, f"return a number (a float between 0 and 1), not {type(got).__name__}"
        expected = rouge_l(pred, ref).recall
        if not math.isclose(got, expected, abs_tol=1e-9):
            hint = "the LCS keeps word order (gaps allowed); divide its length by the reference's number of tokens"
            return False, f"for pred={pred!r}, ref={ref!r} you gave {got!r}, expected {expected:.4f}: {hint}."
    return True, ""


@grader(
    "Three cases: `c >= r` gives 1.0, `c == 0` gives 0.0, anything else `math.exp(1 - r / c)`.",
    "Check `c >= r` first (no penalty), then `c == 0` (no division by zero), then the exponential.",
)
def check_brevity_penalty(fn: Callable[[int, int], float]) -> tuple[bool, str]:
    """Exercise check: `fn(candidate_len, reference_len)` must return BLEU's brevity penalty, as `bleu` computes it."""
    for c, r in [(10, 10), (12, 10), (9, 10), (5, 10), (1, 20), (0, 4)]:
        answer, error = attempt(fn, c, r)
        if error:
            return False, error
        expected = 1.0 if c >= r else (math.exp(1 - r / c) if c > 0 else 0.0)
        if not isinstance(answer, int | float) or abs(answer - expected) > 1e-9:
            return (
                False,
                f"candidate {c} tokens, reference {r}: expected {expected:.4f}, got {answer!r} (c = 0 gives 0)",
            )
    return True, ""
