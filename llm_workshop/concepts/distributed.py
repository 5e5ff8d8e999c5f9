"""Data parallelism in one process: the all-reduce that keeps data-parallel ranks in lock-step."""

from __future__ import annotations

import torch


def allreduce_mean(grads_per_rank: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """What every rank holds after `all_reduce(SUM)` divided by the world size: the mean gradient per name."""
    if not grads_per_rank:
        raise ValueError("allreduce_mean needs the gradients of at least one rank")
    names = grads_per_rank[0].keys()
    if any(g.keys() != names for g in grads_per_rank):
        raise ValueError("every rank must hold gradients for the same parameter names")
    return {name: torch.stack([g[name] for g in grads_per_rank]).mean(dim=0) for name in names}
