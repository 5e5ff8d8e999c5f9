"""Exercise graders of 2.6 Retrieval-augmented generation: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence

import numpy as np

from llm_workshop.concepts.bm25 import term_score
from llm_workshop.concepts.fusion import reciprocal_rank_fusion
from llm_workshop.course.verdict import attempt, grader

# (tf, df, doc_len, n_docs, avgdl, k1, b): a common and a rare term, short and long documents, k1 and b varied
_TERM_CASES = [
    (1.0, 3, 100.0, 1311, 100.0, 1.5, 0.75),
    (4.0, 3, 50.0, 1311, 100.0, 1.5, 0.75),
    (2.0, 900, 200.0, 1311, 100.0, 1.2, 0.3),
    (np.array([1.0, 2.0, 5.0]), 40, np.array([80.0, 100.0, 160.0]), 1311, 100.0, 1.5, 0.75),
]


def _idf(df: int, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


# common mistakes, recognised so the hint can name them: tf, df, doc_len, n, avgdl, k1, b -> score
_TERM_MISTAKES = {
    "your idf lacks the 1 + inside the log (Robertson's original form, negative for a term in most documents); "
    "use log(1 + (N - df + 0.5) / (df + 0.5)).": lambda tf, df, dl, n, avg, k1, b: (
        math.log((n - df + 0.5) / (df + 0.5)) * tf / (tf + k1 * (1 - b + b * dl / avg))
    ),
    "that is 1.1's TF-IDF idf, log(N / df); BM25 smooths it: log(1 + (N - df + 0.5) / (df + 0.5)).": (
        lambda tf, df, dl, n, avg, k1, b: math.log(n / df) * tf / (tf + k1 * (1 - b + b * dl / avg))
    ),
    "you multiplied by k1 + 1 (rank_bm25's Okapi form); bm25s and Lucene leave it out, which changes no ranking "
    "but does change the scores.": lambda tf, df, dl, n, avg, k1, b: (
        (k1 + 1) * _idf(df, n) * tf / (tf + k1 * (1 - b + b * dl / avg))
    ),
    "the length normalisation is missing: k1 is multiplied by (1 - b + b * doc_len / avgdl).": (
        lambda tf, df, dl, n, avg, k1, b: _idf(df, n) * tf / (tf + k1)
    ),
    "the idf factor is missing: multiply the saturated count by log(1 + (N - df + 0.5) / (df + 0.5)).": (
        lambda tf, df, dl, n, avg, k1, b: tf / (tf + k1 * (1 - b + b * dl / avg))
    ),
    "use the natural logarithm (math.log or np.log), not log10.": lambda tf, df, dl, n, avg, k1, b: (
        term_score(tf, df, dl, n, avg, k1, b) / math.log(10)
    ),
}


@grader(
    "the saturation part is tf / (tf + k1 * (1 - b + b * doc_len / avgdl)); multiply it by the idf.",
    "write it with arithmetic on tf and doc_len only (no loops, no int()), so NumPy arrays work as numbers do.",
)
def check_bm25_term(fn: Callable[..., float | np.ndarray]) -> tuple[bool, str]:
    """Exercise check: `fn(tf, df, doc_len, n_docs, avgdl, k1, b)` must be the Lucene BM25 term score (arrays too)."""
    for case in _TERM_CASES:
        got, error = attempt(fn, *case)
        if error:
            return False, error
        expected = term_score(*case)
        if got is None or np.shape(got) != np.shape(expected):
            return False, f"return one score per document: shape {np.shape(expected)}, got {got!r}."
        if not np.allclose(np.asarray(got, dtype=float), expected, rtol=1e-9, atol=1e-12):
            hint = next((h for h, f in _TERM_MISTAKES.items() if np.allclose(got, f(*case), rtol=1e-9)), None)
            tf, df, dl, n, avg, k1, b = case
            return False, hint or (
                f"for tf={tf}, df={df}, doc_len={dl}, N={n}, avgdl={avg}, k1={k1}, b={b} expected "
                f"{np.round(expected, 4)}, got {np.round(np.asarray(got, dtype=float), 4)}."
            )
    return True, ""


_RRF_CASES = [
    ([["a", "b", "c"], ["c", "a"]], 60),
    ([["x", "both", "y"], ["z", "both", "w"]], 60),
    ([[1, 2], [2, 1]], 0),  # a tie (1 + 1/2 both): the document met first comes first
    ([[7, 8, 9, 10], [10, 9]], 1),
]


@grader(
    "rank r (counting from 1) in one list adds 1 / (k + r) to that document's fused score; add over the lists.",
    "keep a dict document -> score, filled list by list, then sorted(scores, key=scores.get, reverse=True): "
    "documents with equal scores then keep the order you first met them in.",
)
def check_rrf(fn: Callable[[Sequence[Sequence[Hashable]], int], list[Hashable]]) -> tuple[bool, str]:
    """Exercise check: `fn(rankings, k)` must return the documents fused by reciprocal rank fusion, best first."""
    for rankings, k in _RRF_CASES:
        got, error = attempt(fn, [list(r) for r in rankings], k)
        if error:
            return False, error
        expected = [doc for doc, _ in reciprocal_rank_fusion(rankings, k)]
        if not isinstance(got, list | tuple) or (got and isinstance(got[0], tuple) and got[0] not in expected):
            return False, f"return the documents as a list, best first, e.g. {expected!r} (not scores or pairs)."
        if list(got) != expected:
            if sorted(map(str, got)) == sorted(map(str, expected)):
                return False, (
                    f"for {rankings} with k={k} expected the order {expected}, got {list(got)}: check the 1-based "
                    "ranks and that higher fused scores come first."
                )
            return False, f"for {rankings} with k={k} expected {expected}, got {got!r}: every document of any list."
    return True, ""
