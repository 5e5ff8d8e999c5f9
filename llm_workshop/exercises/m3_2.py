"""Exercise graders of 3.2 Quantization and PEFT: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import math

from llm_workshop.concepts.lora import lora_param_count
from llm_workshop.concepts.quant import weight_bytes
from llm_workshop.course.verdict import attempt, grader


@grader()
def check_lora_params(answer: int, d_out: int = 512, d_in: int = 64, r: int = 8) -> tuple[bool, str]:
    """Exercise check: the number of trainable LoRA parameters for a d_out × d_in weight at rank r."""
    expected = lora_param_count(d_out, d_in, r)
    if answer == d_out * d_in:
        return False, "That is the full matrix W; LoRA trains only A (r × d_in) and B (d_out × r)."
    if answer in (r * d_in, r * d_out):
        return False, "That is only one of the two matrices; add A (r × d_in) and B (d_out × r)."
    return answer == expected, f"Count the entries of A (r × d_in) plus B (d_out × r) for r={r}."


@grader()
def check_weight_memory(answer_gb: float, n_params: float, bits: float, rel_tol: float = 0.01) -> tuple[bool, str]:
    """Exercise check: is `answer_gb` (in GB = 1e9 bytes) the memory of `n_params` weights at `bits` bits each?"""
    expected = weight_bytes(n_params, bits) / 1e9
    answer, error = attempt(float, answer_gb)
    if error:
        return False, f"Give a number of gigabytes, not {answer_gb!r}."
    ok = math.isclose(answer, expected, rel_tol=rel_tol)
    hint = "Bytes = parameters × bits per parameter / 8; then divide by 1e9 for GB."
    if not ok and math.isclose(answer, expected * 8, rel_tol=rel_tol):
        hint = "That looks like bits, not bytes: divide by 8."
    elif not ok and math.isclose(answer, expected * 1e9 / 2**30, rel_tol=rel_tol):
        hint = "That is GiB (2**30 bytes); the exercise asks for GB (1e9 bytes)."
    return ok, hint
