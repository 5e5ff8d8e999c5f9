"""Wall-clock timing for the benchmarks and the notebooks that measure speed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def best_of(fn: Callable[[], T], repeats: int = 5, before: Callable[[], object] | None = None) -> tuple[float, T]:
    """(the fastest of `repeats` calls of `fn` in seconds, the last call's result). The minimum is the run least
    disturbed by other work on the machine; `before` runs untimed ahead of each call (e.g. to reseed)."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    best = float("inf")
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result
