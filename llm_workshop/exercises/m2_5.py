"""Exercise graders of 2.5 Judging models: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import math
from collections.abc import Callable

from llm_workshop.concepts.arena import Match, bt_log_likelihood, elo_update
from llm_workshop.course.verdict import attempt, grader

_ELO_CASES = [(1000.0, 1000.0, 1.0, 32), (1200.0, 1000.0, 0.0, 32), (1000.0, 1400.0, 0.5, 16), (1500, 1100, 1.0, 4)]


@grader()
def check_elo_update(fn: Callable[[float, float, float, float], tuple[float, float]]) -> tuple[bool, str]:
    """Exercise check: `fn(rating_a, rating_b, outcome, k)` must return both ratings after one Elo update."""
    for r_a, r_b, outcome, k in _ELO_CASES:
        got, hint = attempt(fn, r_a, r_b, outcome, k)
        if hint:
            return False, hint
        if not isinstance(got, tuple | list) or len(got) != 2:
            return False, f"return a pair (new_rating_a, new_rating_b), not {got!r}"
        expected = elo_update(r_a, r_b, outcome, k)
        if not all(isinstance(g, int | float) and math.isclose(g, e, abs_tol=1e-6) for g, e in zip(got, expected)):
            return False, (
                f"for R_a={r_a}, R_b={r_b}, outcome={outcome}, k={k} expected ({expected[0]:.2f}, {expected[1]:.2f}), "
                f"got {got!r}: E_a = 1 / (1 + 10**((R_b - R_a) / 400)), then R_a + k (S - E_a) and R_b - k (S - E_a)."
            )
    return True, ""


_BT_RATINGS = {"gpt2": 950.0, "qwen": 1130.0, "smoke": 920.0}


_BT_MATCHES = [("qwen", "gpt2", 1.0), ("gpt2", "smoke", 0.5), ("smoke", "qwen", 1.0), ("gpt2", "qwen", 0.0)]


@grader()
def check_bt_log_likelihood(fn: Callable[[dict[str, float], list[Match]], float]) -> tuple[bool, str]:
    """Exercise check: `fn(ratings, matches)` must return the Bradley–Terry log-likelihood in nats on the Elo scale."""
    for matches in (_BT_MATCHES[:1], _BT_MATCHES[1:2], _BT_MATCHES):
        got, hint = attempt(fn, dict(_BT_RATINGS), list(matches))
        if hint:
            return False, hint
        expected = bt_log_likelihood(_BT_RATINGS, matches)
        if isinstance(got, bool) or not isinstance(got, int | float) or not math.isclose(got, expected, abs_tol=1e-6):
            return False, (
                f"for {matches} expected {expected:.6f}, got {got!r}: p = 1 / (1 + 10**((R_b - R_a) / 400)), "
                "add y log p + (1 - y) log(1 - p) with natural logs; a tie has y = 0.5."
            )
    return True, ""
