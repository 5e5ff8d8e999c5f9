"""Exercise graders of 1.5 GPT from scratch: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from llm_workshop.concepts.attention import MultiHeadAttention, causal_mask
from llm_workshop.course.verdict import attempt, grader


class _WeightsOnly(MultiHeadAttention):
    """The learner gets the projections to compute with, but not a forward pass to call."""

    def forward(self, *args, **kwargs):
        raise NotImplementedError("write the attention yourself from attn.q_proj, k_proj, v_proj and out_proj")


def _heads(attn: MultiHeadAttention, t: torch.Tensor) -> torch.Tensor:
    """(batch, length, d_model) -> (batch, heads, length, d_head)."""
    return t.view(*t.shape[:2], attn.n_heads, attn.d_head).transpose(1, 2)


def _slips(attn: MultiHeadAttention, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The outputs of the common slips, so that the hint can name the one the learner made."""
    length = x.shape[1]
    q, k, v = _heads(attn, attn.q_proj(x)), _heads(attn, attn.k_proj(x)), _heads(attn, attn.v_proj(x))
    mask = causal_mask(length)

    def attend(scale: float, masked: bool = True, dim: int = -1) -> torch.Tensor:
        scores = q @ k.transpose(-2, -1) / scale
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim) if masked else scores.softmax(dim)
        return torch.nan_to_num(weights) @ v

    def merged(heads: torch.Tensor) -> torch.Tensor:
        return heads.transpose(1, 2).reshape(*x.shape[:2], attn.d_model)

    d_head = attn.d_head
    one_head = attn.q_proj(x) @ attn.k_proj(x).transpose(-2, -1) / math.sqrt(attn.d_model)
    one_head = one_head.masked_fill(~mask, float("-inf"))
    return {
        "mask the future: scores of keys j > i become -inf before the softmax (attention.causal_mask(T)).": (
            attn.out_proj(merged(attend(math.sqrt(d_head), masked=False)))
        ),
        "divide the scores by sqrt(d_head), the width of ONE head (attn.d_head), before the softmax.": (
            attn.out_proj(merged(attend(1.0)))
        ),
        "scale by sqrt(d_head), the width of one head, not sqrt(d_model).": (
            attn.out_proj(merged(attend(math.sqrt(attn.d_model))))
        ),
        "the softmax runs over the keys, the last dimension of the scores (dim=-1).": (
            attn.out_proj(merged(attend(math.sqrt(d_head), dim=-2)))
        ),
        "finish with the output projection: attn.out_proj(merged heads).": merged(attend(math.sqrt(d_head))),
        "merge the heads back with .transpose(1, 2) before the reshape to (batch, length, d_model).": attn.out_proj(
            attend(math.sqrt(d_head)).reshape(*x.shape[:2], attn.d_model)
        ),
        "split q, k and v into attn.n_heads heads of attn.d_head dimensions; each head attends on its own.": (
            attn.out_proj(one_head.softmax(-1) @ attn.v_proj(x))
        ),
    }


@grader(
    "q = attn.q_proj(x) (k, v alike), viewed as (batch, length, heads, d_head) and transposed to (batch, heads, "
    "length, d_head); scores = q @ k.transpose(-2, -1) / sqrt(d_head); mask; softmax(-1); weights @ v.",
    "then heads.transpose(1, 2).reshape(batch, length, d_model) and attn.out_proj(...). The mask: "
    "scores.masked_fill(~attention.causal_mask(length), float('-inf')).",
)
def check_attention(fn: Callable[[MultiHeadAttention, torch.Tensor], torch.Tensor]) -> tuple[bool, str]:
    """Exercise check: `fn(attn, x)` is causal multi-head self-attention with `attn`'s weights (within 1e-5)."""
    generator = torch.Generator().manual_seed(0)
    for d_model, n_heads, length in ((16, 4, 6), (24, 2, 5), (8, 1, 3)):
        torch.manual_seed(d_model)
        attn = MultiHeadAttention(d_model, n_heads).eval()
        weights_only = _WeightsOnly(d_model, n_heads).eval()
        weights_only.load_state_dict(attn.state_dict())
        x = torch.randn(2, length, d_model, generator=generator)
        with torch.no_grad():
            expected = attn(x, mask=causal_mask(length))[0]
            got, error = attempt(fn, weights_only, x.clone())
            if error:
                return False, error
            if isinstance(got, tuple):
                return False, "return only the output tensor, not (output, weights)."
            if not isinstance(got, torch.Tensor) or got.shape != x.shape:
                shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
                return False, f"return a tensor of the input's shape {tuple(x.shape)}, got {shape}."
            if torch.allclose(got.float(), expected, atol=1e-5):
                continue
            if n_heads == 1:
                return False, "with one head it should still be softmax(q k^T / sqrt(d)) v under the causal mask."
            slip = next((h for h, out in _slips(attn, x).items() if torch.allclose(got.float(), out, atol=1e-5)), None)
            return (
                False,
                slip or "the output differs from causal multi-head attention; go through the steps one by one.",
            )
    return True, ""


@grader(
    "in Meta's layout a head's dimensions pair as (0, 1), (2, 3), ...; in transformers' as (0, d/2), (1, d/2 + 1), "
    "...: the first member of every pair goes to the first half, the second member to the second half.",
    "the even indices, then the odd ones: list(range(0, head_dim, 2)) + list(range(1, head_dim, 2)).",
)
def check_rotate_half_order(fn: Callable[[int], list[int]]) -> tuple[bool, str]:
    """Exercise check: `fn(head_dim)` is the order that takes interleaved RoPE pairs to the rotate-half layout."""
    for head_dim in (2, 4, 8, 64):
        expected = [*range(0, head_dim, 2), *range(1, head_dim, 2)]
        got, error = attempt(fn, head_dim)
        if error:
            return False, error
        try:
            got = [int(i) for i in got]
        except (TypeError, ValueError):
            return False, "return a list of ints: the position in Meta's layout of each dimension, in the new order."
        if got == expected:
            continue
        if sorted(got) != list(range(head_dim)):
            return False, f"for head_dim={head_dim} list every index 0..{head_dim - 1} exactly once."
        if got == list(range(head_dim)):
            return False, "that leaves the layout as it is; the pairs must move."
        inverse = sorted(range(head_dim), key=expected.__getitem__)
        if got == inverse:
            return False, "that is the way back (rotate-half to interleaved); we need interleaved to rotate-half."
        return False, f"for head_dim={head_dim} dimension i of the new layout comes from index order[i] of the old."
    return True, ""
