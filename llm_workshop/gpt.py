"""GPT-2 and the modern (Llama/Qwen2-style) decoder built from their pieces, loading the real transformers weights.

`GPT2.from_hf` and `Qwen2.from_hf` copy a transformers `GPT2LMHeadModel` / `Qwen2ForCausalLM` into these
classes; module_01/05 and tests/test_gpt.py check that the logits agree within 1e-4 in fp32. Attention reuses
module_01/03's `llm_workshop.attention`. No KV cache, no padding masks: one plain forward pass over a batch of
equal-length sequences, the shortest code that reproduces the real models.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from llm_workshop.attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from llm_workshop.exercises import attempt, verdict

# --- GPT-2's pieces ----------------------------------------------------------------------------------------------


class LayerNorm(nn.Module):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last dimension: each token's vector rescaled alone."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's GELU, the tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class MLP(nn.Module):
    """The feed-forward network: widen (usually 4x), GELU, project back; applied to each position alone."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, hidden)
        self.proj = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(gelu_tanh(self.fc(x)))


class Block(nn.Module):
    """A pre-LN transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, n_heads: int, hidden: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(dim, eps)
        self.attn = MultiHeadAttention(dim, n_heads)
        self.ln_2 = LayerNorm(dim, eps)
        self.mlp = MLP(dim, hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    """GPT-2: token + learned position embeddings, `n_layers` pre-LN blocks, a final LayerNorm, the output layer.

    With `tie_embeddings` the output layer is the token embedding matrix itself (GPT-2 does this).
    """

    def __init__(
        self,
        vocab_size: int,
        n_positions: int,
        dim: int,
        n_layers: int,
        n_heads: int,
        hidden: int | None = None,
        eps: float = 1e-5,
        tie_embeddings: bool = True,
    ) -> None:
        super().__init__()
        self.n_positions = n_positions
        self.wte = nn.Embedding(vocab_size, dim)
        self.wpe = nn.Embedding(n_positions, dim)
        self.blocks = nn.ModuleList(Block(dim, n_heads, hidden or 4 * dim, eps) for _ in range(n_layers))
        self.ln_f = LayerNorm(dim, eps)
        self.lm_head = None if tie_embeddings else nn.Linear(dim, vocab_size, bias=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits of shape (batch, length, vocab) for token ids of shape (batch, length)."""
        length = _check_ids(input_ids, self.n_positions)
        positions = torch.arange(length, device=input_ids.device)
        x = self.wte(input_ids) + self.wpe(positions)
        mask = causal_mask(length, device=input_ids.device)
        for block in self.blocks:
            x = block(x, mask)
        head = self.wte.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(self.ln_f(x), head)

    @classmethod
    def from_hf(cls, model: nn.Module) -> GPT2:
        """A copy of a transformers `GPT2LMHeadModel`, same dtype and device, giving the same logits."""
        from transformers import GPT2LMHeadModel

        if not isinstance(model, GPT2LMHeadModel):
            raise TypeError(
                f"GPT2.from_hf expects a transformers GPT2LMHeadModel, got {type(model).__name__}; "
                "use Qwen2.from_hf for Qwen2ForCausalLM"
            )
        c = model.config
        unsupported = {
            "activation_function": (c.activation_function, "gelu_new"),
            "scale_attn_weights": (c.scale_attn_weights, True),
            "scale_attn_by_inverse_layer_idx": (c.scale_attn_by_inverse_layer_idx, False),
            "add_cross_attention": (c.add_cross_attention, False),
        }
        for name, (value, wanted) in unsupported.items():
            if value != wanted:
                raise ValueError(f"GPT2.from_hf supports config.{name}={wanted!r} only, got {value!r}")
        tied = model.lm_head.weight is model.transformer.wte.weight
        with torch.device("meta"):
            ours = cls(
                c.vocab_size, c.n_positions, c.n_embd, c.n_layer, c.n_head, c.n_inner, c.layer_norm_epsilon, tied
            )
        ours.load_state_dict(_gpt2_state(model, tied), assign=True)
        return ours.eval()


def _gpt2_state(model: nn.Module, tied: bool) -> dict[str, torch.Tensor]:
    """Our parameter names -> copies of the transformers weights; Conv1D stores (in, out), nn.Linear (out, in)."""
    hf = {name: t.detach().clone() for name, t in model.state_dict().items()}
    state = {name: hf[f"transformer.{name}"] for name in ("wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias")}
    for i in range(model.config.n_layer):
        h, b = f"transformer.h.{i}", f"blocks.{i}"
        for ln in ("ln_1", "ln_2"):
            state.update({f"{b}.{ln}.{p}": hf[f"{h}.{ln}.{p}"] for p in ("weight", "bias")})
        q, k, v = hf[f"{h}.attn.c_attn.weight"].t().chunk(3, dim=0)
        qb, kb, vb = hf[f"{h}.attn.c_attn.bias"].chunk(3)
        for name, w, bias in (("q_proj", q, qb), ("k_proj", k, kb), ("v_proj", v, vb)):
            state[f"{b}.attn.{name}.weight"], state[f"{b}.attn.{name}.bias"] = w.contiguous(), bias.contiguous()
        state[f"{b}.attn.out_proj.weight"] = hf[f"{h}.attn.c_proj.weight"].t().contiguous()
        state[f"{b}.attn.out_proj.bias"] = hf[f"{h}.attn.c_proj.bias"]
        for ours, theirs in (("fc", "c_fc"), ("proj", "c_proj")):
            state[f"{b}.mlp.{ours}.weight"] = hf[f"{h}.mlp.{theirs}.weight"].t().contiguous()
            state[f"{b}.mlp.{ours}.bias"] = hf[f"{h}.mlp.{theirs}.bias"]
    if not tied:
        state["lm_head.weight"] = hf["lm_head.weight"]
    return state


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
        length = _check_ids(input_ids)
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


# --- using the models ----------------------------------------------------------------------------------------------


def _check_ids(input_ids: torch.Tensor, max_length: int | None = None) -> int:
    """The sequence length of a (batch, length) tensor of token ids, or a clear error."""
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 or input_ids.dtype != torch.long:
        raise TypeError(
            "input_ids must be a torch.long tensor of shape (batch, length); add a batch dimension with [None]"
        )
    length = input_ids.shape[1]
    if length == 0 or (max_length is not None and length > max_length):
        most = f"1 to {max_length}" if max_length is not None else "at least 1"
        raise ValueError(f"input_ids has {length} positions; this model reads {most}")
    return length


@torch.no_grad()
def greedy(
    model: nn.Module, input_ids: torch.Tensor, max_new_tokens: int, eos_token_id: int | None = None
) -> torch.Tensor:
    """Greedy decoding without a cache: append the most likely next token, `max_new_tokens` times or until eos.

    With `eos_token_id`, one prompt at a time (generate() pads rows that finish early; this loop does not).
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    if eos_token_id is not None and input_ids.shape[0] != 1:
        raise ValueError(f"stopping at eos needs one prompt (batch size 1), got a batch of {input_ids.shape[0]}")
    ids = input_ids
    for _ in range(max_new_tokens):
        next_id = model(ids)[:, -1].argmax(dim=-1, keepdim=True)
        ids = torch.cat([ids, next_id], dim=1)
        if eos_token_id is not None and bool((next_id == eos_token_id).all()):
            break
    return ids


def next_token_loss(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting token t+1 from positions <= t (what `labels=input_ids` computes)."""
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), input_ids[:, 1:].flatten())


# --- exercise checks (they print a verdict and never raise) ---------------------------------------------------------


def check_rms_norm(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> bool:
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
            return verdict(False, error)
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            return verdict(False, f"return a tensor of the input's shape {tuple(x.shape)}.")
        got = got.detach().float()
        if torch.allclose(got, expected, atol=1e-5):
            continue
        centred = F.layer_norm(x, (16,), weight, eps=eps)
        if torch.allclose(got, centred, atol=1e-5):
            return verdict(False, "that is LayerNorm: RMSNorm does not subtract the mean.")
        if torch.allclose(got, expected / weight, atol=1e-5):
            return verdict(False, "multiply by the learned weight at the end.")
        rms = x.pow(2).mean(-1, keepdim=True).sqrt()
        if any(torch.allclose(got, x / wrong * weight, atol=1e-5) for wrong in (rms, rms + eps)):
            return verdict(False, "add eps inside the square root: sqrt(mean(x^2) + eps).")
        return verdict(False, "divide x by the root of the mean of x^2 over the last dimension (keepdim=True).")
    return verdict(True)


def check_block_forward(fn: Callable[[Block, torch.Tensor, torch.Tensor], torch.Tensor]) -> bool:
    """Exercise check: `fn(block, x, mask)` must give the pre-LN block's output (within 1e-5)."""
    torch.manual_seed(0)
    block = Block(dim=16, n_heads=4, hidden=32).eval()
    x, mask = torch.randn(2, 6, 16), causal_mask(6)
    with torch.no_grad():
        expected = block(x, mask)
        got, error = attempt(fn, block, x, mask)
        if error:
            return verdict(False, error)
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            return verdict(False, f"return a tensor of the input's shape {tuple(x.shape)}.")
        got = got.float()
        if torch.allclose(got, expected, atol=1e-5):
            return verdict(True)
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
            return verdict(False, hint)
    return verdict(False, "x = x + attn(ln_1(x), mask=mask)[0], then x + mlp(ln_2(x)).")
