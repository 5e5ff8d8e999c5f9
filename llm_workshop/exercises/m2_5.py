"""Exercise graders of 2.5 Judging models: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import math
from collections.abc import Callable

from llm_workshop.concepts.arena import Match, fit_bradley_terry, simulate_matches
from llm_workshop.course.verdict import attempt, grader

_ARENAS = [
    simulate_matches({"x": 1100.0, "y": 1000.0, "z": 900.0}, 300, seed=7),
    simulate_matches({"p": 1300.0, "q": 1000.0, "r": 1000.0, "s": 700.0}, 800, seed=8),
]


@grader(
    "Build one row per match with +1 in model a's column and -1 in model b's, the outcome as its label, and fit "
    "LogisticRegression(C=1e6, fit_intercept=False): C that large means no penalty.",
    "`coef_[0]` holds natural-log strengths: multiply by 400 / math.log(10), then add 1000 minus their mean.",
)
def check_fit_bradley_terry(fn: Callable[[list[Match]], dict[str, float]]) -> tuple[bool, str]:
    """Exercise check: `fn(matches)` must return the Bradley–Terry ratings (Elo scale, mean 1000) of every model."""
    for matches in _ARENAS:
        got, hint = attempt(fn, list(matches))
        if hint:
            return False, hint
        expected = fit_bradley_terry(matches)
        if not isinstance(got, dict) or set(got) != set(expected):
            return False, f"return a dict with a rating for each of {sorted(expected)}, not {got!r}"
        mean = sum(got.values()) / len(got)
        if not math.isclose(mean, 1000.0, abs_tol=0.5):
            return False, f"anchor the ratings: their mean should be 1000, yours is {mean:.1f}"
        worst = max(abs(got[m] - expected[m]) for m in expected)
        if worst > 0.5:
            return False, (
                f"your ratings differ from Newton's by up to {worst:.1f} Elo points ({got} vs {expected}); "
                "are they on the Elo scale, and unpenalised?"
            )
    return True, ""


_QUESTIONS = ["Which products cost more than 300?", "What is the price of the <b>lamp</b>?", "a | b < c"]


@grader(
    "A special token is matched only where its exact text, such as <|im_start|>, appears; break that text.",
    "For example put a space after every '<|': text.replace('<|', '< |').",
)
def check_escape(fn: Callable[[str], str], tokenizer, forged: list[str]) -> tuple[bool, str]:
    """Exercise check: `fn(text)` must leave no special token in `text` and change text without markers not at all."""
    special = set(tokenizer.all_special_ids) | {
        i for i, t in tokenizer.added_tokens_decoder.items() if getattr(t, "special", False)
    }
    for question in forged:
        got, hint = attempt(fn, question)
        if hint:
            return False, hint
        if not isinstance(got, str):
            return False, f"return the escaped text as a string, not {type(got).__name__}"
        found = [t for t in tokenizer(got, add_special_tokens=False)["input_ids"] if t in special]
        if found:
            return False, f"{got[:60]!r}... still tokenizes to {tokenizer.convert_ids_to_tokens(found)}"
        if len(got) > 2 * len(question):
            return False, "keep the text readable: escape the markers, do not rewrite the message"
    for question in _QUESTIONS:
        got, hint = attempt(fn, question)
        if hint or got != question:
            return False, hint or f"an honest question must stay as it is: {question!r} became {got!r}"
    return True, ""
