"""The modern decoder (Llama, Qwen2) built from its pieces: RMSNorm, SwiGLU, rotary positions (RoPE) and
grouped-query attention; `Qwen2.from_hf` loads a transformers `Qwen2ForCausalLM` into it with the same logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llm_workshop.concepts.attention import causal_mask, scaled_dot_product_attention
from llm_workshop.concepts.gpt import validate_ids

# --- the modern decoder (Llama, Qwen2): RMSNorm, SwiGLU, rotary positions, grouped-query attention -------------


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight: LayerNorm without centring and without a bias (computed in fp32)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        return self.weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


class SwiGLU(nn.Module):
    """The gated feed-forward network: down(silu(gate(x)) * up(x)), three matrices and no biases."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def rope_angles(
    length: int,
    head_dim: int,
    theta: float = 10000.0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotary angles p * theta^(-2i/d), shape (length, head_dim), each half repeated twice.

    Computed in fp32 by default, as transformers does; pass dtype=torch.float64 to see the exact rotation.
    """
    if head_dim % 2:
        raise ValueError(f"rotary embeddings rotate pairs of dimensions: head_dim must be even, got {head_dim}")
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=dtype, device=device) / head_dim))
    angles = torch.arange(length, device=device).to(dtype)[:, None] * inv_freq
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x_i, x_{i+d/2}) of the last dimension by its angle (the 'rotate half' layout of Llama/Qwen)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)


class GroupedQueryAttention(nn.Module):
    """Causal attention where `n_heads` query heads share `n_kv_heads` key/value heads, with RoPE on q and k."""

    def __init__(self, dim: int, n_heads: int, n_kv_heads: int, head_dim: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if n_heads % n_kv_heads:
            raise ValueError(f"n_heads={n_heads} must be a multiple of n_kv_heads={n_kv_heads}: each group shares one")
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, head_dim
        self.q_proj = nn.Linear(dim, n_heads * head_dim, bias=qkv_bias)
        self.k_proj = nn.Linear(dim, n_kv_heads * head_dim, bias=qkv_bias)
        self.v_proj = nn.Linear(dim, n_kv_heads * head_dim, bias=qkv_bias)
        self.o_proj = nn.Linear(n_heads * head_dim, dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        q = self.q_proj(x).view(batch, length, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        group = self.n_heads // self.n_kv_heads  # query heads per key/value head
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        heads, _ = scaled_dot_product_attention(q, k, v, mask)
        return self.o_proj(heads.transpose(1, 2).reshape(batch, length, -1))


class DecoderBlock(nn.Module):
    """A Llama/Qwen2 block: x + GQA(RMSNorm(x)), then x + SwiGLU(RMSNorm(x))."""

    def __init__(self, dim: int, n_heads: int, n_kv_heads: int, head_dim: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.norm_1 = RMSNorm(dim, eps)
        self.attn = GroupedQueryAttention(dim, n_heads, n_kv_heads, head_dim)
        self.norm_2 = RMSNorm(dim, eps)
        self.mlp = SwiGLU(dim, hidden)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm_1(x), cos, sin, mask)
        return x + self.mlp(self.norm_2(x))


class Qwen2(nn.Module):
    """Qwen2 (Llama with biases on q, k, v): token embeddings, `n_layers` decoder blocks, RMSNorm, the output layer.

    No position embedding table: positions enter through the rotation of queries and keys (RoPE).
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        n_layers: int,
        n_heads: int,
        n_kv_heads: int,
        hidden: int,
        head_dim: int | None = None,
        rope_theta: float = 10000.0,
        eps: float = 1e-6,
        tie_embeddings: bool = True,
    ) -> None:
        super().__init__()
        self.head_dim, self.rope_theta = head_dim or dim // n_heads, rope_theta
        self.embed = nn.Embedding(vocab_size, dim)
        self.blocks = nn.ModuleList(
            DecoderBlock(dim, n_heads, n_kv_heads, self.head_dim, hidden, eps) for _ in range(n_layers)
        )
        self.norm = RMSNorm(dim, eps)
        self.lm_head = None if tie_embeddings else nn.Linear(dim, vocab_size, bias=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, length, vocab) for token ids of shape (batch, length)."""
        length = validate_ids(input_ids)
        x = self.embed(input_ids)
        cos, sin = rope_angles(length, self.head_dim, self.rope_theta, device=input_ids.device)
        mask = causal_mask(length, device=input_ids.device)
        for block in self.blocks:
            x = block(x, cos, sin, mask)
        head = self.embed.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(self.norm(x), head)

    @classmethod
    def from_hf(cls, model: nn.Module) -> Qwen2:
        """A copy of a transformers `Qwen2ForCausalLM`, same dtype and device, giving the same logits."""
        from transformers import Qwen2ForCausalLM

        if not isinstance(model, Qwen2ForCausalLM):
            raise TypeError(
                f"Qwen2.from_hf expects a transformers Qwen2ForCausalLM, got {type(model).__name__}; "
                "use GPT2.from_hf for GPT2LMHeadModel"
            )
        c = model.config
        rope = c.rope_parameters or {}
        if c.hidden_act != "silu":
            raise ValueError(f"Qwen2.from_hf supports config.hidden_act='silu' only, got {c.hidden_act!r}")
        if rope.get("rope_type", "default") != "default":
            raise ValueError(f"Qwen2.from_hf supports plain RoPE only, got rope_type={rope['rope_type']!r}")
        if "sliding_attention" in (c.layer_types or []):
            raise ValueError("Qwen2.from_hf supports full attention only; this config uses sliding-window layers")
        tied = model.lm_head.weight is model.model.embed_tokens.weight
        head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        with torch.device("meta"):
            ours = cls(
                c.vocab_size,
                c.hidden_size,
                c.num_hidden_layers,
                c.num_attention_heads,
                c.num_key_value_heads,
                c.intermediate_size,
                head_dim,
                rope.get("rope_theta", 10000.0),
                c.rms_norm_eps,
                tied,
            )
        ours.load_state_dict(_qwen2_state(model, tied), assign=True)
        return ours.eval()


def _qwen2_state(model: nn.Module, tied: bool) -> dict[str, torch.Tensor]:
    """Our parameter names -> copies of the transformers weights (both use nn.Linear: no transposes)."""
    renames = {"input_layernorm": "norm_1", "post_attention_layernorm": "norm_2", "self_attn": "attn"}
    state = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and tied:
            continue
        if name.startswith("model."):
            name = name.removeprefix("model.").replace("embed_tokens", "embed").replace("layers.", "blocks.")
            for theirs, ours in renames.items():
                name = name.replace(f".{theirs}.", f".{ours}.")
        state[name] = tensor.detach().clone()
    return state
