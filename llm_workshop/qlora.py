"""QLoRA plumbing: keep a 4-bit bitsandbytes model trainable on every CPU.

bitsandbytes 0.50, on a CPU with AVX512-BF16, converts a `Linear4bit` layer's weights into an
inference-only packed layout on the first eval-mode forward without gradients. Training the same model
afterwards fails inside `matmul_4bit` ("a view of a leaf Variable ... in-place operation"), and the
conversion also rounds the block scales to bf16, so numbers differ between CPUs. `keep_4bit_trainable`
turns the conversion off and undoes one already done; CPUs without the instruction are unaffected.
"""

from __future__ import annotations

from torch import nn


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
