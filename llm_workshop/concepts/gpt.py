"""GPT-2 built from its pieces (LayerNorm, GELU, MLP, the pre-LN block), loading the real transformers weights.

`GPT2.from_hf` copies a transformers `GPT2LMHeadModel` into these classes; module_01/05 and tests/test_gpt.py check
that the logits agree within 1e-4 in fp32 (`qwen2` does the same for the modern decoder). Attention reuses
module_01/03's `attention`. No KV cache, no padding masks: one plain forward pass over a batch of equal-length
sequences, the shortest code that reproduces the real model.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from llm_workshop.concepts.attention import MultiHeadAttention, causal_mask

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
        length = validate_ids(input_ids, self.n_positions)
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


# --- using the models ----------------------------------------------------------------------------------------------


def validate_ids(input_ids: torch.Tensor, max_length: int | None = None) -> int:
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
