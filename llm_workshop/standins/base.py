"""What every smoke build shares: one CPU thread, so that the weights are the same on any number of cores."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Compute on one CPU thread inside the block: sums split across threads round differently, so a smoke build
    would give other weights on another number of cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
