"""Exercise graders of 3.2 Quantization and PEFT: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn

from llm_workshop.concepts.forgetting import anchor_penalty, snapshot
from llm_workshop.concepts.quant import weight_bytes
from llm_workshop.course.verdict import attempt, grader


@grader(
    "NF4 with double quantization costs 4 + 8/64 + 32/(64·256) bits per weight.",
    "6.74e9 × 4.127 / 8 bytes, then divide by 1e9.",
)
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
    elif not ok and math.isclose(answer, n_params * 4 / 8 / 1e9, rel_tol=rel_tol):
        hint = "That is 4 bits per weight; NF4 also stores its block scales (double-quantized): about 4.127 bits."
    return ok, hint


def _toy_model() -> nn.Module:
    """A small two-layer model whose weights the check moves away from their starting values."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


@grader(
    "Sum over the names in anchor: params = dict(model.named_parameters()); add (F * (params[name] - start) ** 2).sum().",
    "Keep it a tensor (no .item(), no torch.no_grad()): training backpropagates through your penalty.",
)
def check_anchor_penalty(fn: Callable[..., torch.Tensor]) -> tuple[bool, str]:
    """Exercise check: `fn(model, anchor, importance=None)` must equal `forgetting.anchor_penalty` and carry gradients."""
    model = _toy_model()
    anchor = snapshot(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    partial = {name: start for name, start in anchor.items() if name.startswith("2.")}  # the second layer only
    importance = {name: torch.rand(t.shape, generator=torch.Generator().manual_seed(1)) for name, t in anchor.items()}
    for label, args in [("plain (L2-SP)", (anchor, None)), ("with importance (EWC)", (anchor, importance)),
                        ("an anchor naming some weights only", (partial, None))]:  # fmt: skip
        answer, error = attempt(fn, model, *[copy.deepcopy(a) for a in args])
        if error:
            return False, error
        if not isinstance(answer, torch.Tensor) or answer.numel() != 1:
            return False, f"{label}: return one number as a tensor, got {type(answer).__name__}"
        expected = anchor_penalty(model, *args)
        if not torch.isclose(answer.detach().float(), expected.detach(), rtol=1e-5):
            return False, f"{label}: expected {expected.item():.4f}, got {answer.item():.4f}"
        if not answer.requires_grad:
            return False, f"{label}: the value is right but no gradient flows through it, so training could not use it"
    return True, ""
