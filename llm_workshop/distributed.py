"""Data parallelism in one process: the all-reduce that keeps data-parallel ranks in lock-step."""

from __future__ import annotations

from collections.abc import Callable

import torch

from llm_workshop.exercises import attempt, verdict


def allreduce_mean(grads_per_rank: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """What every rank holds after `all_reduce(SUM)` divided by the world size: the mean gradient per name."""
    if not grads_per_rank:
        raise ValueError("allreduce_mean needs the gradients of at least one rank")
    names = grads_per_rank[0].keys()
    if any(g.keys() != names for g in grads_per_rank):
        raise ValueError("every rank must hold gradients for the same parameter names")
    return {name: torch.stack([g[name] for g in grads_per_rank]).mean(dim=0) for name in names}


def check_allreduce_mean(fn: Callable[[list[dict[str, torch.Tensor]]], dict[str, torch.Tensor]]) -> bool:
    """Exercise check: does `fn` average each named gradient over the ranks?"""
    generator = torch.Generator().manual_seed(0)
    ranks = [{"w": torch.randn(3, 2, generator=generator), "b": torch.randn(2, generator=generator)} for _ in range(3)]
    expected = allreduce_mean(ranks)
    answer, error = attempt(fn, [{k: v.clone() for k, v in r.items()} for r in ranks])
    if error:
        return verdict(False, error)
    ok = isinstance(answer, dict) and answer.keys() == expected.keys()
    ok = ok and all(torch.allclose(answer[k], expected[k], atol=1e-6) for k in expected)
    return verdict(ok, "each rank's gradient should become the mean of that gradient over all ranks.")
