"""Exercise verdicts: right, or not yet with a hint that gets sharper on each wrong try; and the notebook's tally.

A grader is a `check_...(answer, ...) -> (ok, hint)` function wrapped by `grader`: it prints a one-line verdict and
never raises, so a notebook with an unsolved exercise still runs top to bottom. The hidden solution cell right after
an exercise calls the same check with `solution=True`: it confirms the solution without counting it as the learner's.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

_tries: Counter[str] = Counter()  # wrong tries per exercise, in this kernel
_solved: set[str] = set()  # exercises the learner's own answer passed
_exercises: dict[str, list[str]] = {}  # grader module -> the exercises it checks, in definition order


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str]:
    """Run a learner's function: (its result, "") or (None, a hint naming the error) — a bug is a hint, not a crash."""
    try:
        return fn(*args, **kwargs), ""
    except Exception as error:  # a half-written answer may fail in any way
        return None, f"your code raised {type(error).__name__}: {error}"


def grader(*sharper: str) -> Callable[[Callable[..., tuple[bool, str]]], Callable[..., bool]]:
    """Wrap `check_x(...) -> (ok, hint)` into the exercise check a notebook calls: it prints ✅ or ❌ with the hint,
    adds the next of the `sharper` hints on each further wrong try, records what the learner solved, returns ok."""

    def wrap(check: Callable[..., tuple[bool, str]]) -> Callable[..., bool]:
        name = check.__name__.removeprefix("check_")
        _exercises.setdefault(check.__module__, []).append(name)

        @functools.wraps(check)
        def run(*args: Any, solution: bool = False, **kwargs: Any) -> bool:
            ok, hint = check(*args, **kwargs)
            if solution:
                print("✅ The solution passes." if ok else f"❌ The solution fails: {hint}")
                return ok
            if ok:
                _solved.add(name)
                print("✅ Correct!")
                return True
            _tries[name] += 1
            extra = sharper[: _tries[name] - 1]
            print(" ".join(["❌ Not yet.", hint, *(f"Hint: {h}" for h in extra)]).rstrip())
            return False

        return run

    return wrap


def tally(exercises: ModuleType) -> str:
    """Print and return "exercises: N of M solved" for the graders in `exercises` (one notebook's module)."""
    names = _exercises.get(exercises.__name__, [])
    line = f"exercises: {sum(name in _solved for name in names)} of {len(names)} solved"
    print(line)
    return line
