"""Exercise graders of 3.1 Scaling and memory: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import math
from collections.abc import Callable

from llm_workshop.concepts.estimate import GB, chinchilla_optimal, training_memory_gb
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


@grader(
    "Per GPU: the 2-byte weights stay whole; the 2-byte gradients and the 12 bytes of Adam states are split 8 ways.",
    "6,738,415,616 × (2 + (2 + 12) / 8) bytes, divided by 1e9 for GB.",
)
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
    otherwise = "Add up the bytes per parameter on one GPU: what ZeRO-2 shards is divided by the number of GPUs."
    return _compare_number(answer_gb, expected, "GB", hints, otherwise)


BUDGETS = (5.76e23, 1.21e20, 3.85e24)  # Gopher's budget and two rows of Chinchilla's Table 3


@grader("Put D = 20·N into C = 6·N·D: then C = 120·N².", "N = math.sqrt(C / 120) and D = 20 * N.")
def check_compute_optimal(fn: Callable[[float], tuple[float, float]]) -> tuple[bool, str]:
    """Exercise check: `fn(compute_flops)` must return the compute-optimal (n_params, n_tokens) of C = 6ND, D = 20N."""
    for budget in BUDGETS:
        answer, error = attempt(fn, budget)
        if error:
            return False, error
        try:
            n, d = (float(x) for x in answer)
        except (TypeError, ValueError):
            return False, f"Return two numbers, (n_params, n_tokens); got {answer!r}."
        n_ref, d_ref = chinchilla_optimal(budget)
        if math.isclose(n, n_ref, rel_tol=1e-6) and math.isclose(d, d_ref, rel_tol=1e-6):
            continue
        if math.isclose(n, d_ref, rel_tol=1e-6) and math.isclose(d, n_ref, rel_tol=1e-6):
            return False, "You swapped them: return (n_params, n_tokens), parameters first."
        if math.isclose(n, math.sqrt(budget / 6), rel_tol=1e-6):
            return False, "That N solves C = 6·N² (D = N); Chinchilla trains on 20 tokens per parameter."
        if n > 0 and not math.isclose(d, 20 * n, rel_tol=1e-6):
            return False, f"For {budget:.3g} FLOPs your tokens are {d / n:.3g} per parameter; Chinchilla's rule is 20."
        return False, (
            f"For {budget:.3g} FLOPs: expected {n_ref:.3g} parameters and {d_ref:.3g} tokens, got {n:.3g} and {d:.3g}; "
            "the budget must be spent exactly: 6 × N × D = C."
        )
    return True, ""
