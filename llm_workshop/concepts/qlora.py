"""QLoRA plumbing: LoRA weights in a dtype the precision can train, and a 4-bit bitsandbytes model that stays
trainable on every CPU.

TRL 1.16's `SFTTrainer` casts every trainable LoRA weight of a 4-bit or 8-bit model to bf16, whatever the
precision arguments say. Under `fp16=True` (a T4) the fp16 GradScaler then has to unscale bf16 gradients, which
CUDA does not implement (`NotImplementedError: "_amp_foreach_non_finite_check_and_unscale_cuda" not implemented for
'BFloat16'`, the error TRL's own CI hit in huggingface/trl#4901). `cast_adapters(trainer.model, adapter_dtype(args))`
right after constructing the trainer (the optimizer is built later, in `train()`) puts them back in fp32.

bitsandbytes 0.50, on a CPU with AVX512-BF16, converts a `Linear4bit` layer's weights into an
inference-only packed layout on the first eval-mode forward without gradients. Training the same model
afterwards fails inside `matmul_4bit` ("a view of a leaf Variable ... in-place operation"), and the
conversion also rounds the block scales to bf16, so numbers differ between CPUs. `keep_4bit_trainable`
turns the conversion off and undoes one already done; CPUs without the instruction are unaffected.
"""

from __future__ import annotations

import torch
from torch import nn


def adapter_dtype(args) -> torch.dtype:
    """The dtype LoRA weights train in under the training config `args`: bf16 with `bf16=True` (what QLoRA does),
    else fp32 (fp16 mixed precision keeps fp32 master weights; its GradScaler cannot unscale bf16 gradients)."""
    return torch.bfloat16 if getattr(args, "bf16", False) else torch.float32


def cast_adapters(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Cast every LoRA weight of a peft model to `dtype` (DoRA magnitude vectors excepted, as TRL does); returns it.

    Use it after `SFTTrainer(...)` with `adapter_dtype(args)`, and on the same model reloaded from its saved adapter
    (peft loads adapters in fp32), so that trained and reloaded models compute the same numbers.
    """
    for name, param in model.named_parameters():
        if "lora_" in name and "lora_magnitude_vector" not in name:
            param.data = param.data.to(dtype)
    return model


def packed_4bit_layers(model: nn.Module) -> list[str]:
    """Names of the `Linear4bit` layers whose weights are in bitsandbytes' CPU inference layout."""
    return [
        name
        for name, module in model.named_modules()
        if getattr(getattr(getattr(module, "weight", None), "quant_state", None), "packing_format_for_cpu", False)
    ]


def keep_4bit_trainable(model: nn.Module) -> int:
    """Stop bitsandbytes repacking 4-bit weights for CPU inference, and unpack any already packed.

    Call it right after loading a model with a 4-bit `BitsAndBytesConfig`. Returns the number of 4-bit
    layers it set (0 when bitsandbytes is not installed or the model has none).
    """
    try:
        from bitsandbytes.functional import _convert_weight_packed_for_cpu_inverse
        from bitsandbytes.nn import Linear4bit
    except ImportError:
        return 0
    layers = [m for m in model.modules() if isinstance(m, Linear4bit)]
    for layer in layers:
        layer.support_avx512bf16_for_cpu = False  # the switch Linear4bit.forward checks before packing
        state = layer.weight.quant_state
        if getattr(state, "packing_format_for_cpu", False):
            layer.weight.data, layer.weight.quant_state = _convert_weight_packed_for_cpu_inverse(
                layer.weight.data, state
            )
    return len(layers)
