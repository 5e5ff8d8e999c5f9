"""Exercise graders of 3.1 Scaling and memory: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import math

from llm_workshop.concepts.estimate import GB, _positive, training_memory_gb
from llm_workshop.course.verdict import attempt, grader

# Full fine-tuning of Llama-2-7B (6,738,415,616 parameters) with mixed-precision Adam on 8 GPUs, ZeRO stage 2.
EXERCISE = {"n_params": 6_738_415_616, "precision": "mixed", "optimizer": "adam", "zero_stage": 2, "n_gpus": 8}


def _compare_number(
    given: object, expected: float, unit: str, hints: dict[str, float], otherwise: str
) -> tuple[bool, str]:
    """Verdict on a numeric answer: right within 2% of `expected`; a known wrong value (within 2%) gets its hint."""
    answer, error = attempt(float, given)
    if error:
        return False, f"Give a number of {unit}, not {given!r}."
    if math.isclose(answer, expected, rel_tol=0.02):
        return True, ""
    for hint, wrong in hints.items():
        if math.isclose(answer, wrong, rel_tol=0.02):
            return False, hint
    return False, otherwise


@grader()
def check_training_memory(answer_gb: float) -> tuple[bool, str]:
    """Exercise check: GB per GPU of weights + gradients + Adam states for the `EXERCISE` setup (within 2%)."""
    expected = training_memory_gb(**EXERCISE)
    n = EXERCISE["n_params"]
    hints = {
        "That is the unsharded total: ZeRO-2 splits the gradients and optimizer states over the 8 GPUs.": (
            training_memory_gb(n)
        ),
        "That is ZeRO-3 (weights sharded too); stage 2 keeps a full 16-bit copy of the weights on every GPU.": (
            training_memory_gb(n, zero_stage=3, n_gpus=8)
        ),
        "That is ZeRO-1; stage 2 shards the gradients as well.": training_memory_gb(n, zero_stage=1, n_gpus=8),
        "Looks like GiB (2**30 bytes); this course uses GB = 1e9 bytes.": expected * GB / 2**30,
    }
    otherwise = (
        "Per parameter: 2 B weights (replicated) + (2 B gradients + 12 B fp32 master copy and Adam m, v) / 8 GPUs."
    )
    return _compare_number(answer_gb, expected, "GB", hints, otherwise)


# The stretch exercise: the largest model whose full fine-tuning fits one node.
LARGEST = {"n_gpus": 8, "gpu_gb": 80, "states_share": 0.75, "precision": "mixed", "optimizer": "adam", "zero_stage": 3}


def largest_trainable_params(
    n_gpus: int, gpu_gb: float, states_share: float, precision: str, optimizer: str, zero_stage: int
) -> float:
    """Parameters whose model states fill `states_share` of every GPU (the rest kept for activations and buffers)."""
    per_param_gb = training_memory_gb(1, precision, optimizer, zero_stage, n_gpus)  # GB per GPU for one parameter
    return _positive("gpu_gb", gpu_gb) * _positive("states_share", states_share) / per_param_gb


@grader()
def check_largest_trainable(answer_params: float) -> tuple[bool, str]:
    """Exercise check: the most parameters fully fine-tunable in the `LARGEST` setup (within 2%)."""
    expected = largest_trainable_params(**LARGEST)
    hints = {
        "Count parameters, not billions: write 12e9 for 12B.": expected / 1e9,
        "Keep a quarter of each GPU for activations: only 75% holds model states.": expected / 0.75,
        "That is one GPU's worth: ZeRO-3 shards the weights, gradients and Adam states over all 8 GPUs.": expected / 8,
        "That is ZeRO-2: stage 3 shards the 16-bit weights too.": largest_trainable_params(
            **{**LARGEST, "zero_stage": 2}
        ),
        "Mixed-precision Adam takes 16 bytes per parameter (2 + 2 + 12), not 12.": expected * 16 / 12,
    }
    return _compare_number(
        answer_params, expected, "parameters", hints, "Solve 16 bytes x N / 8 GPUs = 0.75 x 80 GB for N."
    )
