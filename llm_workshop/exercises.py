"""The verdict every `check_...` exercise function prints: right, or not yet with a hint.

Checks never raise, so a notebook with an unsolved exercise still runs top to bottom; the hidden
solution cell right after asserts that its own answer passes.
"""

from collections.abc import Callable
from typing import Any


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str]:
    """Run a learner's function: (its result, "") or (None, a hint naming the error) — a bug is a hint, not a crash."""
    try:
        return fn(*args, **kwargs), ""
    except Exception as error:  # a half-written answer may fail in any way
        return None, f"your code raised {type(error).__name__}: {error}"


def verdict(ok: bool, hint: str = "") -> bool:
    """Print a one-line verdict for a learner's answer and return whether it was right."""
    print("✅ Correct!" if ok else f"❌ Not yet. {hint}".rstrip())
    return ok
