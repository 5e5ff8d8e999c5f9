"""LoRA from scratch: a frozen linear layer plus a trainable low-rank update, y = W x + b + (α/r) · B A x.

The reference that module_03 compares with `peft`: same base weights and same A, B give the same
outputs, and `merge()` folds B A into W for inference at no extra latency. Works on `nn.Linear`
and on GPT-2's `Conv1D` (which stores its weight transposed, as (in, out)).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D


def _weight_out_in(base: nn.Module) -> torch.Tensor:
    """The base weight as (out_features, in_features), whatever layout the layer stores."""
    return base.weight.T if isinstance(base, Conv1D) else base.weight


class LoRALinear(nn.Module):
    """Wrap a linear layer: the base stays frozen; only A (r × in, random) and B (out × r, zero) train.

    B starts at zero so the wrapped layer computes exactly what the base did until training moves it.
    """

    def __init__(self, base: nn.Module, r: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(base, (nn.Linear, Conv1D)):
            raise ValueError(
                f"LoRALinear wraps an nn.Linear (or GPT-2's Conv1D), got {type(base).__name__}; "
                "pick linear sub-modules such as 'c_attn' or 'q_proj' as targets"
            )
        if not isinstance(r, int) or r < 1:
            raise ValueError(f"the LoRA rank r must be an integer >= 1, got {r!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        out_features, in_features = _weight_out_in(base).shape
        self.base = base
        self.base.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        like = {"dtype": base.weight.dtype, "device": base.weight.device}
        self.lora_A = nn.Parameter(torch.empty(r, in_features, **like))
        self.lora_B = nn.Parameter(torch.zeros(out_features, r, **like))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # what nn.Linear (and peft) use
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def delta_weight(self) -> torch.Tensor:
        """The update (α/r) · B A, shaped (out_features, in_features) like nn.Linear.weight."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def merge(self) -> nn.Linear:
        """A plain nn.Linear with W + (α/r) B A: the same function with no extra matmuls at inference."""
        weight = _weight_out_in(self.base)
        merged = nn.Linear(weight.shape[1], weight.shape[0], bias=self.base.bias is not None)
        merged = merged.to(dtype=weight.dtype, device=weight.device)
        with torch.no_grad():
            merged.weight.copy_(weight + self.delta_weight())
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}"


class FusedLoRA(nn.Module):
    """LoRA on parts of a fused projection: GPT-2's `c_attn` computes [q | k | v] in one matmul, so adapting W_v alone
    means a low-rank update on the v rows of its weight. Each named part (first row, row after the last) gets its own
    A (r × in) and B (rows × r); the other rows stay as they were."""

    def __init__(self, base: nn.Module, parts: dict[str, tuple[int, int]], r: int, alpha: float) -> None:
        super().__init__()
        if not isinstance(base, (nn.Linear, Conv1D)):
            raise ValueError(f"FusedLoRA wraps an nn.Linear (or GPT-2's Conv1D), got {type(base).__name__}")
        if not isinstance(r, int) or r < 1:
            raise ValueError(f"the LoRA rank r must be an integer >= 1, got {r!r}")
        self.out_features, self.in_features = _weight_out_in(base).shape
        rows = sorted(parts.values())
        if (
            not rows
            or any(not 0 <= a < b <= self.out_features for a, b in rows)
            or any(b > c for (_, b), (c, _) in zip(rows, rows[1:]))
        ):
            raise ValueError(f"parts must be non-overlapping row ranges inside 0..{self.out_features}, got {parts}")
        self.base, self.parts, self.r, self.scaling = base, dict(parts), r, alpha / r
        self.base.requires_grad_(False)
        like = {"dtype": base.weight.dtype, "device": base.weight.device}
        self.lora_A = nn.ParameterDict({k: nn.Parameter(torch.empty(r, self.in_features, **like)) for k in parts})
        self.lora_B = nn.ParameterDict({k: nn.Parameter(torch.zeros(b - a, r, **like)) for k, (a, b) in parts.items()})
        for a in self.lora_A.values():
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))

    def delta_weight(self) -> torch.Tensor:
        """(α/r) B A of every part on its rows of an (out_features, in_features) matrix, zero elsewhere."""
        delta = self.base.weight.new_zeros(self.out_features, self.in_features)
        for name, (start, stop) in self.parts.items():
            delta[start:stop] = self.lora_B[name] @ self.lora_A[name]
        return delta * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + x @ self.delta_weight().T

    def extra_repr(self) -> str:
        return f"parts={self.parts}, r={self.r}"


def apply_attention_lora(model: nn.Module, projections: Iterable[str], r: int, alpha: float) -> nn.Module:
    """Freeze a GPT-2 model and put LoRA of rank r on the attention projections named in `projections`: any of
    "q", "k", "v" (parts of the fused `c_attn`) and "o" (`attn.c_proj`) in every block; returns the model."""
    chosen = set(projections)
    if not chosen or not chosen <= {"q", "k", "v", "o"}:
        raise ValueError(f"projections are some of 'q', 'k', 'v', 'o', got {sorted(chosen)}")
    d = model.config.n_embd
    rows = {"q": (0, d), "k": (d, 2 * d), "v": (2 * d, 3 * d)}
    model.requires_grad_(False)
    for block in model.transformer.h:
        if chosen - {"o"}:
            block.attn.c_attn = FusedLoRA(block.attn.c_attn, {p: rows[p] for p in rows if p in chosen}, r, alpha)
        if "o" in chosen:
            block.attn.c_proj = LoRALinear(block.attn.c_proj, r, alpha)
    return model


def _matches(name: str, targets: Iterable[str]) -> bool:
    return any(name == t or name.endswith("." + t) for t in targets)


def apply_lora(
    model: nn.Module, target_modules: Iterable[str], r: int, alpha: float, dropout: float = 0.0
) -> nn.Module:
    """Freeze every parameter of `model`, then replace each sub-module named in `target_modules` (by its
    last name part, e.g. 'c_attn') with a `LoRALinear`; returns the same model, changed in place."""
    targets = [target_modules] if isinstance(target_modules, str) else list(target_modules)
    model.requires_grad_(False)
    found = [(name, module) for name, module in model.named_modules() if name and _matches(name, targets)]
    if not found:
        raise ValueError(f"no sub-module of the model is named {targets}; print(model) to see the names")
    for name, module in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(module, r, alpha, dropout))
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every `LoRALinear` in `model` by its merged nn.Linear (in place) and return the model."""
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, module.merge())
    return model


def count_trainable(model: nn.Module) -> tuple[int, int]:
    """(trainable parameters, all parameters) of `model`; shared (tied) tensors count once."""
    seen, trainable, total = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return trainable, total


def lora_param_count(d_out: int, d_in: int, r: int) -> int:
    """Parameters LoRA trains for one d_out × d_in weight at rank r: A is r × d_in, B is d_out × r."""
    if r < 1 or d_out < 1 or d_in < 1:
        raise ValueError(f"need positive sizes and rank, got d_out={d_out}, d_in={d_in}, r={r}")
    return r * (d_in + d_out)
