"""Exercise graders of 1.5 GPT from scratch: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from llm_workshop.concepts.attention import causal_mask
from llm_workshop.concepts.gpt import Block
from llm_workshop.concepts.qwen2 import RMSNorm
from llm_workshop.course.verdict import attempt, grader


@grader()
def check_rms_norm(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> tuple[bool, str]:
    """Exercise check: `fn(x, weight, eps)` must equal RMSNorm's output (within 1e-5)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 16, generator=generator) * 3 + 1
    weight = torch.rand(16, generator=generator) + 0.5
    for eps in (1e-6, 0.5):
        norm = RMSNorm(16, eps)
        with torch.no_grad():
            norm.weight.copy_(weight)
            expected = norm(x)
        got, error = attempt(fn, x.clone(), weight.clone(), eps)
        if error:
            return False, error
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            return False, f"return a tensor of the input's shape {tuple(x.shape)}."
        got = got.detach().float()
        if torch.allclose(got, expected, atol=1e-5):
            continue
        centred = F.layer_norm(x, (16,), weight, eps=eps)
        if torch.allclose(got, centred, atol=1e-5):
            return False, "that is LayerNorm: RMSNorm does not subtract the mean."
        if torch.allclose(got, expected / weight, atol=1e-5):
            return False, "multiply by the learned weight at the end."
        rms = x.pow(2).mean(-1, keepdim=True).sqrt()
        if any(torch.allclose(got, x / wrong * weight, atol=1e-5) for wrong in (rms, rms + eps)):
            return False, "add eps inside the square root: sqrt(mean(x^2) + eps)."
        return False, "divide x by the root of the mean of x^2 over the last dimension (keepdim=True)."
    return True, ""


@grader()
def check_block_forward(fn: Callable[[Block, torch.Tensor, torch.Tensor], torch.Tensor]) -> tuple[bool, str]:
    """Exercise check: `fn(block, x, mask)` must give the pre-LN block's output (within 1e-5)."""
    torch.manual_seed(0)
    block = Block(dim=16, n_heads=4, hidden=32).eval()
    x, mask = torch.randn(2, 6, 16), causal_mask(6)
    with torch.no_grad():
        expected = block(x, mask)
        got, error = attempt(fn, block, x, mask)
        if error:
            return False, error
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            return False, f"return a tensor of the input's shape {tuple(x.shape)}."
        got = got.float()
        if torch.allclose(got, expected, atol=1e-5):
            return True, ""
        attn = block.attn(block.ln_1(x), mask=mask)[0]
        post_ln = block.ln_1(x + block.attn(x, mask=mask)[0])
        post_ln = block.ln_2(post_ln + block.mlp(post_ln))
        hints = {
            "that is the post-LN block of the 2017 Transformer; GPT-2 normalises before each sub-layer: x + f(LN(x)).": post_ln,
            "keep the residual connections: add each sub-layer's output to its input.": block.mlp(block.ln_2(attn)),
            "pass the causal mask to the attention, or tokens see the future.": (
                x + block.attn(block.ln_1(x))[0] + block.mlp(block.ln_2(x + block.attn(block.ln_1(x))[0]))
            ),
            "the MLP reads the output of the attention step, LN_2(x + attention), not the original x.": (
                x + attn + block.mlp(block.ln_2(x))
            ),
        }
    for hint, wrong in hints.items():
        if torch.allclose(got, wrong, atol=1e-5):
            return False, hint
    return False, "x = x + attn(ln_1(x), mask=mask)[0], then x + mlp(ln_2(x))."
