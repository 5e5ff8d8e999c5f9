"""Exercise graders of 3.5 Distributed training: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

from collections.abc import Callable

import torch

from llm_workshop.concepts.distributed import allreduce_mean
from llm_workshop.concepts.estimate import ZERO_STAGES, training_memory_gb
from llm_workshop.course.verdict import attempt, grader


@grader(
    "For each name in grads_per_rank[0]: add that gradient over all the ranks' dicts, then divide by the number of ranks.",
    "{name: sum(g[name] for g in grads_per_rank) / len(grads_per_rank) for name in grads_per_rank[0]}",
)
def check_allreduce_mean(fn: Callable[[list[dict[str, torch.Tensor]]], dict[str, torch.Tensor]]) -> tuple[bool, str]:
    """Exercise check: does `fn` average each named gradient over the ranks?"""
    generator = torch.Generator().manual_seed(0)
    ranks = [{"w": torch.randn(3, 2, generator=generator), "b": torch.randn(2, generator=generator)} for _ in range(3)]
    expected = allreduce_mean(ranks)
    answer, error = attempt(fn, [{k: v.clone() for k, v in r.items()} for r in ranks])
    if error:
        return False, error
    ok = isinstance(answer, dict) and answer.keys() == expected.keys()
    ok = ok and all(torch.allclose(answer[k], expected[k], atol=1e-6) for k in expected)
    return ok, "each rank's gradient should become the mean of that gradient over all ranks."


@grader(
    "Per parameter: 2 bytes of weights, 2 of gradients, 12 of optimizer state; divide each sharded part by n_gpus.",
    "Stage 1 shards the optimizer (12 / n), stage 2 also the gradients (2 / n), stage 3 also the weights (2 / n).",
)
def check_zero_gb_per_gpu(fn: Callable[[float, int, int], float]) -> tuple[bool, str]:
    """Exercise check: does `fn(n_params, zero_stage, n_gpus)` give the GB per GPU of mixed-precision Adam's model
    states under DDP (stage 0) and ZeRO stages 1-3, as `estimate.training_memory_gb` computes them?"""
    cases = [(7.5e9, stage, 64) for stage in ZERO_STAGES] + [(1e9, 2, 8), (70e9, 3, 16), (3e9, 1, 1)]
    for n_params, stage, n_gpus in cases:
        answer, error = attempt(fn, n_params, stage, n_gpus)
        if error:
            return False, error
        expected = training_memory_gb(n_params, "mixed", "adam", zero_stage=stage, n_gpus=n_gpus)
        if not isinstance(answer, int | float) or abs(answer - expected) > 1e-6 * expected:
            return False, (
                f"{n_params / 1e9:g}B parameters, stage {stage}, {n_gpus} GPUs: expected {expected:.2f} GB, got "
                f"{answer!r}. Bytes per parameter: 2 weights + 2 gradients + 12 optimizer; stage s shards the "
                "first s of (optimizer, gradients, weights) over the GPUs; 1 GB = 1e9 bytes."
            )
    return True, ""
