"""Weight quantization from scratch: absmax and zero-point integers, and QLoRA's blockwise NF4 with double quantization.

These are reference implementations that module_03 compares with `bitsandbytes` (NF4 codes and
dequantized values equal `bitsandbytes.functional.quantize_4bit`'s bit for bit) and with `torch.quantize_per_tensor`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

NF4_OFFSET = 0.9677083  # QLoRA's outermost quantile: the largest level sits at Φ⁻¹(0.9677) ≈ 1.848 σ
# The 16 NF4 levels exactly as QLoRA's code publishes them (float32 literals; bitsandbytes' `get_4bit_type("nf4")`).
# `nf4_code()` derives the same levels from normal quantiles, but computed here they differ by up to 1.2e-7, enough to
# put a weight that sits on a rounding boundary into the neighbouring bucket. Quantizing uses this table, so our codes
# are bitsandbytes' codes bit for bit.
NF4_TABLE = torch.tensor(
    [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ],
    dtype=torch.float32,
)  # fmt: skip


def _require_bits(bits: int, low: int = 2, high: int = 8) -> None:
    if not isinstance(bits, int) or not low <= bits <= high:
        raise ValueError(
            f"bits must be an integer from {low} to {high} (the values are stored in 8-bit integers), got {bits!r}"
        )


def _require_float(x: torch.Tensor) -> None:
    if not torch.is_tensor(x) or not x.is_floating_point() or x.numel() == 0:
        raise ValueError("expected a non-empty floating-point tensor to quantize")


# --- absmax (symmetric) and zero-point (asymmetric) integer quantization -------------------


def absmax_quantize(x: torch.Tensor, bits: int = 8, dim: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric quantization: q = round(x · (2^(bits-1) − 1) / max|x|), stored as int8; returns (q, scale).

    `dim=None` uses one scale for the whole tensor; `dim=-1` one per row (LLM.int8's vector-wise scheme).
    """
    _require_float(x)
    _require_bits(bits)
    qmax = 2 ** (bits - 1) - 1
    absmax = x.abs().amax() if dim is None else x.abs().amax(dim=dim, keepdim=True)
    scale = absmax.float().clamp(min=1e-12) / qmax
    q = torch.round(x.float() * (qmax / absmax.float().clamp(min=1e-12))).clamp(-qmax, qmax).to(torch.int8)
    return q, scale


def absmax_dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Undo `absmax_quantize`: x ≈ q · scale."""
    return q.float() * scale


def zeropoint_quantize(x: torch.Tensor, bits: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asymmetric quantization onto 0 … 2^bits − 1: q = round(x / scale) + zero_point; returns (q, scale, zero_point).

    The range [min, max] maps onto all the integer levels, so a skewed tensor (e.g. after a ReLU)
    wastes none of them; the zero point is the integer that represents 0.0 exactly.
    """
    _require_float(x)
    _require_bits(bits)
    levels = 2**bits - 1
    low, high = min(x.min().item(), 0.0), max(x.max().item(), 0.0)  # keep 0.0 representable
    scale = torch.tensor(max(high - low, 1e-12) / levels)
    zero_point = torch.round(-low / scale).clamp(0, levels).to(torch.int64)
    q = (torch.round(x.float() / scale) + zero_point).clamp(0, levels).to(torch.uint8)
    return q, scale, zero_point


def zeropoint_dequantize(q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor) -> torch.Tensor:
    """Undo `zeropoint_quantize`: x ≈ (q − zero_point) · scale."""
    return (q.float() - zero_point) * scale


# --- NF4: 4-bit NormalFloat, blockwise, with optional double quantization ------------------


def nf4_code() -> torch.Tensor:
    """The 16 NF4 levels: quantiles of N(0, 1) scaled to [-1, 1], with an exact zero (8 positive, 7 negative).

    Built as in QLoRA: 9 evenly spaced probabilities from 0.5 to `NF4_OFFSET` give the positive
    side, 8 the negative side (one fewer, so 0 is shared), then everything is divided by the largest.
    Equal to the published `NF4_TABLE` within 2e-7, which is what quantizing uses.
    """
    positive = torch.special.ndtri(torch.linspace(0.5, NF4_OFFSET, 9, dtype=torch.float64)[1:])
    negative = -torch.special.ndtri(torch.linspace(0.5, NF4_OFFSET, 8, dtype=torch.float64)[1:])
    levels = torch.cat([negative, torch.zeros(1, dtype=torch.float64), positive]).sort().values
    return (levels / levels.max()).float()


@dataclass
class NF4Tensor:
    """A tensor stored in NF4: two 4-bit codes per byte plus one scale (absmax) per block.

    With double quantization the block scales are themselves stored as int8 (one fp32 scale per
    `dq_blocksize` of them, plus one fp32 offset), which is what brings 4.5 bits/param down to ≈ 4.127.
    """

    packed: torch.Tensor  # uint8, two codes per byte, first code in the high nibble (as bitsandbytes)
    absmax: torch.Tensor  # fp32 per block, or int8 per block with double quantization
    shape: torch.Size
    blocksize: int
    dq_scale: torch.Tensor | None = None  # fp32, one per dq_blocksize block scales
    dq_offset: torch.Tensor | None = None  # fp32, the mean subtracted from the block scales
    dq_blocksize: int = 256

    @property
    def double_quant(self) -> bool:
        return self.dq_scale is not None

    def storage_bits(self) -> int:
        """Bits actually stored: codes, block scales and (with double quantization) their scales and offset."""
        tensors = [self.packed, self.absmax] + ([self.dq_scale, self.dq_offset] if self.double_quant else [])
        return sum(t.numel() * t.element_size() * 8 for t in tensors)

    def bits_per_param(self) -> float:
        """Stored bits divided by the number of original values (4 + the block constants' share)."""
        return self.storage_bits() / math.prod(self.shape)


def nf4_bits_per_param(blocksize: int = 64, double_quant: bool = False, dq_blocksize: int = 256) -> float:
    """The formula: 4 + 32/blocksize, or 4 + 8/blocksize + 32/(blocksize·dq_blocksize) with double quantization."""
    if double_quant:
        return 4 + 8 / blocksize + 32 / (blocksize * dq_blocksize)
    return 4 + 32 / blocksize


def _blocks(flat: torch.Tensor, blocksize: int) -> torch.Tensor:
    """Zero-pad a 1-D tensor to a multiple of `blocksize` and view it as (n_blocks, blocksize)."""
    pad = -flat.numel() % blocksize
    return torch.nn.functional.pad(flat, (0, pad)).view(-1, blocksize)


def nf4_quantize(
    x: torch.Tensor, blocksize: int = 64, double_quant: bool = False, dq_blocksize: int = 256
) -> NF4Tensor:
    """Quantize `x` to NF4 in blocks of `blocksize` values, each scaled by its own absmax, then rounded to the nearest level.

    `double_quant=True` also quantizes the block scales: subtract their mean, then absmax-int8 in
    blocks of `dq_blocksize` (bitsandbytes uses an 8-bit dynamic float there; the error is alike).
    """
    _require_float(x)
    for name, size in (("blocksize", blocksize), ("dq_blocksize", dq_blocksize)):
        if not isinstance(size, int) or size < 2 or size % 2:
            raise ValueError(f"{name} must be an even integer >= 2 (QLoRA uses 64 and 256), got {size!r}")
    blocks = _blocks(x.detach().float().flatten(), blocksize)
    absmax = blocks.abs().amax(dim=1)
    scaled = (blocks * (1.0 / absmax.clamp(min=1e-38)).unsqueeze(1)).clamp(-1, 1).flatten()
    codes = torch.bucketize(scaled, (NF4_TABLE[:-1] + NF4_TABLE[1:]) / 2).to(torch.uint8)  # nearest level
    packed = (codes[0::2] << 4) | codes[1::2]
    if not double_quant:
        return NF4Tensor(packed, absmax, x.shape, blocksize)
    offset = absmax.mean()
    centred = _blocks(absmax - offset, dq_blocksize)
    dq_scale = centred.abs().amax(dim=1).clamp(min=1e-12) / 127
    q_absmax = torch.round(centred / dq_scale.unsqueeze(1)).to(torch.int8).flatten()[: absmax.numel()]
    return NF4Tensor(packed, q_absmax, x.shape, blocksize, dq_scale, offset.reshape(1), dq_blocksize)


def nf4_dequantize(q: NF4Tensor) -> torch.Tensor:
    """Back to fp32: look each 4-bit code up in the NF4 table and multiply by its block's absmax."""
    if not isinstance(q, NF4Tensor):
        raise ValueError(f"nf4_dequantize expects the NF4Tensor returned by nf4_quantize, got {type(q).__name__}")
    codes = torch.stack([q.packed >> 4, q.packed & 0xF], dim=1).flatten().long()
    absmax = q.absmax
    if q.double_quant:
        scales = q.dq_scale.repeat_interleave(q.dq_blocksize)[: absmax.numel()]
        absmax = absmax.float() * scales + q.dq_offset
    values = (NF4_TABLE[codes].view(-1, q.blocksize) * absmax.unsqueeze(1)).flatten()
    return values[: math.prod(q.shape)].view(q.shape)


# --- errors and memory ----------------------------------------------------------------------


def reconstruction_error(x: torch.Tensor, x_hat: torch.Tensor) -> dict[str, float]:
    """Mean absolute, root-mean-square and maximum error of a reconstruction `x_hat` of `x`."""
    diff = (x.float() - x_hat.float()).flatten()
    return {"mae": diff.abs().mean().item(), "rmse": diff.pow(2).mean().sqrt().item(), "max": diff.abs().max().item()}


def weight_bytes(n_params: float, bits: float) -> float:
    """Bytes to store `n_params` weights at `bits` bits each: params × bits / 8."""
    if n_params < 0 or bits <= 0:
        raise ValueError(f"need n_params >= 0 and bits > 0, got n_params={n_params}, bits={bits}")
    return n_params * bits / 8
