"""Attention written out: scaled dot-product attention, causal masks, multi-head attention, positional encodings.

These are the reference implementations that module_01/03 compares with
`torch.nn.functional.scaled_dot_product_attention` and `torch.nn.MultiheadAttention`.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def causal_mask(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """An (n, n) boolean mask, True where query i may attend to key j (j <= i): no peeking at the future."""
    if n < 1:
        raise ValueError(f"a causal mask needs at least one position, got n={n}")
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d_k + mask) v over the last two dimensions; returns (output, attention weights).

    `mask` is boolean (True = may attend, as in PyTorch) or additive (0 or -inf, added to the scores);
    it broadcasts against the (..., L_q, L_k) scores.
    """
    if q.size(-1) != k.size(-1):
        raise ValueError(f"queries and keys need the same last dimension, got {q.size(-1)} and {k.size(-1)}")
    if k.size(-2) != v.size(-2):
        raise ValueError(f"keys and values need the same length, got {k.size(-2)} and {v.size(-2)}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """Multi-head attention: project to q, k, v, split into heads, attend in each, merge, project out.

    Inputs are batch-first, (batch, length, d_model), like `nn.MultiheadAttention(batch_first=True)`.
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True) -> None:
        super().__init__()
        if n_heads < 1 or d_model % n_heads != 0:
            raise ValueError(
                f"d_model={d_model} must be divisible by n_heads={n_heads} so every head gets the same width; "
                "choose n_heads among the divisors of d_model"
            )
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, length, d_model) → (batch, heads, length, d_head)."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.n_heads, self.d_head).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-attention when only `query` is given; returns (output, weights of shape (batch, heads, L_q, L_k))."""
        key = query if key is None else key
        value = key if value is None else value
        q, k, v = self._split(self.q_proj(query)), self._split(self.k_proj(key)), self._split(self.v_proj(value))
        heads, weights = scaled_dot_product_attention(q, k, v, mask)
        batch, _, length, _ = heads.shape
        merged = heads.transpose(1, 2).reshape(batch, length, self.d_model)
        return self.out_proj(merged), weights

    @torch.no_grad()
    def load_from_torch(self, reference: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a `torch.nn.MultiheadAttention` (its q, k, v projections are stacked in one matrix)."""
        if reference.embed_dim != self.d_model or reference.num_heads != self.n_heads:
            raise ValueError("the reference module must have the same d_model and n_heads")
        for i, proj in enumerate((self.q_proj, self.k_proj, self.v_proj)):
            proj.weight.copy_(reference.in_proj_weight[i * self.d_model : (i + 1) * self.d_model])
            if proj.bias is not None:
                proj.bias.copy_(reference.in_proj_bias[i * self.d_model : (i + 1) * self.d_model])
        self.out_proj.weight.copy_(reference.out_proj.weight)
        if self.out_proj.bias is not None:
            self.out_proj.bias.copy_(reference.out_proj.bias)
        return self


def sinusoidal_positional_encoding(max_len: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The (max_len, d_model) encoding of "Attention Is All You Need": PE[p, 2i] = sin(p / base^(2i/d)), PE[p, 2i+1] = cos(...)."""
    if max_len < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"need max_len >= 1 and an even d_model >= 2, got max_len={max_len}, d_model={d_model}")
    positions = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    frequencies = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    angles = positions * frequencies
    encoding = torch.empty(max_len, d_model, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles)
    return encoding.float()
