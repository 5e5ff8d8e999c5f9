"""Back-of-envelope calculators for LLMs: parameters, memory, FLOPs, GPU-hours, cost and Chinchilla scaling,
and what they are checked against: figures published in papers, and the activations autograd really saves.

Units: a GB here is 10**9 bytes (decimal, as GPU vendors, the ZeRO paper and the course notes count;
1 GiB = 2**30 bytes is 7% more). FLOPs are floating-point operations (a multiply-add counts as two).
Every calculator takes positive numbers only and raises `ValueError` otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from numbers import Real

import torch
from torch import nn

GB = 1e9  # bytes in a (decimal) gigabyte
SECONDS_PER_DAY = 86_400
PETAFLOP_S_DAY = 1e15 * SECONDS_PER_DAY  # 8.64e19 FLOPs: one petaFLOP/s sustained for a day

BITS = (4, 8, 16, 32)
PRECISIONS = ("fp32", "mixed", "half")
OPTIMIZERS = ("adam", "adam8bit", "sgd")
ZERO_STAGES = (0, 1, 2, 3)

# Hoffmann et al. 2022 ("Chinchilla"), approach 3: L(N, D) = E + A / N**alpha + B / D**beta
CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
CHINCHILLA_TOKENS_PER_PARAM = 20

LLAMA_STYLE = ("llama", "mistral", "qwen2", "qwen3")

# Rajbhandari et al. 2020 (ZeRO), Figure 1: GB of model states per GPU for 7.5B parameters on 64 GPUs with
# mixed-precision Adam (K = 12), by ZeRO stage, as printed in the paper.
ZERO_PAPER = {"n_params": 7.5e9, "n_gpus": 64, "gb_per_gpu": {0: "120", 1: "31.4", 2: "16.6", 3: "1.9"}}


def _positive(name: str, value: object) -> float:
    """`value` as a float if it is a finite real number > 0; otherwise a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def rounds_to(value: float, printed: str) -> bool:
    """True when `value` agrees with a published figure to every digit printed, i.e. within half a unit of its
    last digit ("31.4" accepts 31.35 to 31.45): the tolerance rule for reproducing a number from a paper."""
    figure = Decimal(printed)
    return abs(Decimal(value) - figure) <= Decimal(5).scaleb(figure.as_tuple().exponent - 1)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


# --- parameters ---------------------------------------------------------------------------------


def count_params(config) -> int:
    """Parameters of the causal LM built from a transformers `config` (GPT-2, Llama, Mistral, Qwen2, Qwen3).

    Computed from the config alone, so it works for models far too big to build; tied input/output
    embeddings are counted once, biases and norms exactly as the architecture has them.
    """
    model_type = getattr(config, "model_type", None)
    if model_type == "gpt2":
        return _count_gpt2(config)
    if model_type in LLAMA_STYLE:
        return _count_llama_style(config)
    raise ValueError(
        f"count_params knows the GPT-2 and Llama-style architectures ({', '.join(('gpt2',) + LLAMA_STYLE)}), "
        f"not model_type={model_type!r}; count a built model with sum(p.numel() for p in model.parameters())."
    )


def _count_gpt2(config) -> int:
    if config.add_cross_attention:
        raise ValueError("count_params does not count GPT-2 cross-attention; build the model and count instead")
    d, vocab, layers = config.n_embd, config.vocab_size, config.n_layer
    inner = config.n_inner or 4 * d
    layer_norm = 2 * d  # weight and bias
    attention = (d * 3 * d + 3 * d) + (d * d + d)  # c_attn (q, k, v) and c_proj, all with biases
    mlp = (d * inner + inner) + (inner * d + d)  # c_fc and c_proj with biases
    block = 2 * layer_norm + attention + mlp
    embeddings = vocab * d + config.n_positions * d  # token (wte) and learned position (wpe) embeddings
    head = 0 if config.tie_word_embeddings else vocab * d
    return embeddings + layers * block + layer_norm + head


def _count_llama_style(config) -> int:
    d, vocab, layers = config.hidden_size, config.vocab_size, config.num_hidden_layers
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or d // heads
    q_out, kv_out = heads * head_dim, kv_heads * head_dim
    if config.model_type == "qwen2":  # Qwen2 always has biases on q, k, v (not on o, not in the MLP)
        qkv_bias, o_bias, mlp_bias = True, False, False
    else:
        qkv_bias = o_bias = bool(getattr(config, "attention_bias", False))
        mlp_bias = bool(getattr(config, "mlp_bias", False))
    attention = d * (q_out + 2 * kv_out) + q_out * d
    attention += (q_out + 2 * kv_out) * qkv_bias + d * o_bias
    if config.model_type == "qwen3":
        attention += 2 * head_dim  # RMSNorm on queries and keys, per head dimension
    inner = config.intermediate_size
    mlp = 3 * d * inner + (2 * inner + d) * mlp_bias  # SwiGLU: gate, up and down projections
    block = attention + mlp + 2 * d  # two RMSNorms (weight only)
    head = 0 if config.tie_word_embeddings else vocab * d
    return vocab * d + layers * block + d + head


# --- memory -----------------------------------------------------------------------------------------


def weight_memory_gb(n_params: float, bits: int) -> float:
    """GB to hold `n_params` weights stored with `bits` bits each (4, 8, 16 or 32)."""
    n_params = _positive("n_params", n_params)
    if bits not in BITS or isinstance(bits, bool):
        raise ValueError(f"bits must be one of {BITS} (int4, int8, fp16/bf16, fp32), got {bits!r}")
    return n_params * bits / 8 / GB


def inference_memory_gb(n_params: float, bits: int, overhead: float = 1.2) -> float:
    """GPU memory to serve a model: M = (P * 4 bytes) / (32 / Q) * overhead, overhead 1.2 = 20% for
    activations, KV cache and framework buffers (the rule of thumb in the course notes: 7B at 16 bits = 16.8 GB)."""
    overhead = _positive("overhead", overhead)
    if overhead < 1:
        raise ValueError(f"overhead multiplies the weight memory and must be >= 1 (1.2 = 20% extra), got {overhead}")
    return weight_memory_gb(n_params, bits) * overhead


def training_bytes_per_param(precision: str = "mixed", optimizer: str = "adam") -> dict[str, float]:
    """Bytes per parameter of the model states: {'weights', 'gradients', 'optimizer'}.

    - fp32: 4-byte weights and gradients; Adam keeps momentum and variance in fp32 (8): 4 + 4 + 8 = 16.
    - mixed (fp16/bf16 with an fp32 master copy, the ZeRO paper's setting): 2 + 2 + (4 master + 8 Adam)
      = 16, i.e. K = 12 optimizer bytes.
    - half (pure bf16, no master copy; states in bf16 too): 2 + 2 + 4 = 8.
    Optimizer states per parameter: adam = two (m, v); sgd = one (momentum); adam8bit = two of 1 byte
    each (bitsandbytes; its per-block scales, ~0.004 byte/param, are ignored).
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {PRECISIONS}, got {precision!r}: 'mixed' is fp16/bf16 compute with fp32 master "
            "weights (what Trainer's fp16=True/bf16=True does), 'half' is pure 16-bit training without a master copy."
        )
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    weight_bytes = 4 if precision == "fp32" else 2
    state_bytes = {"adam": 2 * (2 if precision == "half" else 4), "sgd": 2 if precision == "half" else 4}
    state_bytes["adam8bit"] = 2
    master = 4 if precision == "mixed" else 0
    return {"weights": weight_bytes, "gradients": weight_bytes, "optimizer": master + state_bytes[optimizer]}


def training_memory_gb(
    n_params: float, precision: str = "mixed", optimizer: str = "adam", zero_stage: int = 0, n_gpus: int = 1
) -> float:
    """GB per GPU for weights + gradients + optimizer states (no activations), with ZeRO sharding.

    ZeRO stage 1 shards the optimizer states across `n_gpus`, stage 2 also the gradients, stage 3
    (= FSDP full sharding) also the weights; stage 0 is plain data parallelism (everything replicated).
    """
    n_params = _positive("n_params", n_params)
    n_gpus = _positive_int("n_gpus", n_gpus)
    if zero_stage not in ZERO_STAGES or isinstance(zero_stage, bool):
        raise ValueError(f"zero_stage must be one of {ZERO_STAGES}, got {zero_stage!r}")
    b = training_bytes_per_param(precision, optimizer)
    shard = {
        "optimizer": n_gpus if zero_stage >= 1 else 1,
        "gradients": n_gpus if zero_stage >= 2 else 1,
        "weights": n_gpus if zero_stage >= 3 else 1,
    }
    return n_params * sum(b[k] / shard[k] for k in b) / GB


LLAMA_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def projection_shapes(config) -> dict[str, tuple[int, int]]:
    """(in_features, out_features) of each linear projection in one layer of a Llama-style config (GQA included)."""
    if getattr(config, "model_type", None) not in LLAMA_STYLE:
        raise ValueError(f"need a Llama-style config ({', '.join(LLAMA_STYLE)}), got {config.model_type!r}")
    d, inner, heads = config.hidden_size, config.intermediate_size, config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or d // heads
    q_out, kv_out = heads * head_dim, (getattr(config, "num_key_value_heads", None) or heads) * head_dim
    return {
        "q_proj": (d, q_out),
        "k_proj": (d, kv_out),
        "v_proj": (d, kv_out),
        "o_proj": (q_out, d),
        "gate_proj": (d, inner),
        "up_proj": (d, inner),
        "down_proj": (inner, d),
    }


def lora_params(config, r: int, targets: tuple[str, ...] = LLAMA_PROJECTIONS) -> int:
    """Parameters LoRA of rank r trains on the `targets` projections of every layer: r × (in + out) per matrix."""
    shapes = projection_shapes(config)
    unknown = set(targets) - set(shapes)
    if unknown or not targets:
        raise ValueError(f"targets must be some of {LLAMA_PROJECTIONS}, got {targets!r}")
    r = _positive_int("r", r)
    return config.num_hidden_layers * sum(r * sum(shapes[name]) for name in targets)


def qlora_memory_gb(
    config,
    r: int,
    seq_len: int,
    batch_size: int = 1,
    weight_bytes: int = 2,
    optimizer: str = "adam",
    dq_bits: float = 0.127,
    targets: tuple[str, ...] = LLAMA_PROJECTIONS,
) -> dict[str, float]:
    """GB of a QLoRA fine-tune of a Llama-style config, part by part (Dettmers et al. 2023's recipe):

    - the linear projections frozen in 4-bit NF4, plus their quantization constants (`dq_bits` bits per weight after
      double quantization), and the other weights (embeddings, norms, biases) at `weight_bytes` each: 2 (bf16, the
      QLoRA paper's runs) or 4 (fp32, where peft's `prepare_model_for_kbit_training` casts them on a GPU without bf16);
    - the LoRA weights on `targets` and their gradients at `weight_bytes` each, and the optimizer's two moments
      ("adam": fp32, 8 bytes; "adam8bit": 2 bytes);
    - activations with gradient checkpointing (each layer's 16-bit input) and the logits, which the loss keeps in
      fp32 about three times over (logits, their log-softmax, their gradient).
    """
    if optimizer not in ("adam", "adam8bit"):
        raise ValueError(f"optimizer must be 'adam' or 'adam8bit' (the LoRA weights' optimizer), got {optimizer!r}")
    if weight_bytes not in (2, 4):
        raise ValueError(f"weight_bytes is 2 (bf16/fp16) or 4 (fp32), got {weight_bytes!r}")
    layers, shapes = config.num_hidden_layers, projection_shapes(config)
    n_linear = layers * sum(i * o for i, o in shapes.values())
    n_lora = lora_params(config, r, targets)
    b, s = _positive_int("batch_size", batch_size), _positive_int("seq_len", seq_len)
    return {
        "4-bit weights and constants": n_linear * (4 + _positive("dq_bits", dq_bits)) / 8 / GB,
        "other weights": (count_params(config) - n_linear) * weight_bytes / GB,
        "LoRA weights, gradients, optimizer": n_lora * (2 * weight_bytes + (8 if optimizer == "adam" else 2)) / GB,
        "activations (checkpointed)": activation_memory_gb(config, b, s, "full"),
        "logits (fp32, x3)": 3 * b * s * config.vocab_size * 4 / GB,
    }


def _shape(config) -> tuple[int, int, int]:
    """(hidden size, layers, attention heads) of a GPT-2 or Llama-style config."""
    if getattr(config, "model_type", None) == "gpt2":
        return config.n_embd, config.n_layer, config.n_head
    if getattr(config, "model_type", None) in LLAMA_STYLE:
        return config.hidden_size, config.num_hidden_layers, config.num_attention_heads
    raise ValueError(f"need a GPT-2 or Llama-style config, got model_type={getattr(config, 'model_type', None)!r}")


def activation_memory_gb(config, batch_size: int, seq_len: int, checkpointing: str | bool = "none") -> float:
    """GB of activations kept for the backward pass by the transformer layers, 16-bit training.

    Korthikanti et al. 2022 ("Reducing activation recomputation in large transformer models"), per layer:
    - "none": s*b*h*(34 + 5*a*s/h) bytes (5*a*s^2*b is the attention score matrices, their softmax and
      dropout mask; FlashAttention does not store them);
    - "selective": 34*s*b*h (recompute only the attention scores; also what FlashAttention keeps);
    - "full" (gradient checkpointing of every layer): 2*s*b*h, the layer input, recomputing the rest.
    `True`/`False` mean "full"/"none". The formula is for a GPT-style block (4h MLP, full multi-head
    attention, no tensor parallelism); for SwiGLU/GQA models it is an estimate.
    """
    if isinstance(checkpointing, bool):
        checkpointing = "full" if checkpointing else "none"
    if checkpointing not in ("none", "selective", "full"):
        raise ValueError(f"checkpointing must be 'none', 'selective' or 'full' (or a bool), got {checkpointing!r}")
    b, s = _positive_int("batch_size", batch_size), _positive_int("seq_len", seq_len)
    h, layers, a = _shape(config)
    if checkpointing == "full":
        per_layer = 2 * s * b * h
    else:
        per_layer = 34 * s * b * h + (5 * a * s * s * b if checkpointing == "none" else 0)
    return layers * per_layer / GB


def kv_cache_bytes(config, batch_size: int, seq_len: int, bits: int = 16) -> int:
    """Bytes of the KV cache after `seq_len` tokens: 2 (keys, values) x layers x KV heads x head_dim x tokens x bytes.

    Grouped-query attention (Llama 2 70B, Llama 3, Qwen2) keeps `num_key_value_heads` heads instead of one per query
    head, which divides the cache by num_attention_heads / num_key_value_heads (7x for Qwen2.5-0.5B: 14 / 2).
    """
    b, s = _positive_int("batch_size", batch_size), _positive_int("seq_len", seq_len)
    if bits not in BITS or isinstance(bits, bool):
        raise ValueError(f"bits must be one of {BITS} (int4, int8, fp16/bf16, fp32), got {bits!r}")
    d, layers, heads = _shape(config)
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or d // heads
    return 2 * layers * kv_heads * head_dim * s * b * bits // 8


@contextmanager
def saved_for_backward(model: nn.Module) -> Iterator[dict[int, int]]:
    """Inside the block, record every tensor autograd saves for the backward pass: {storage address: bytes}, so
    views of one tensor count once, leaving out `model`'s weights (stored anyway). Sum the values for the total."""
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        yield saved


# --- compute, time and money -------------------------------------------------------------------


def training_flops(n_params: float, n_tokens: float) -> float:
    """FLOPs to train: C ~ 6*N*D (2N per token forward, 4N backward; attention's share ignored)."""
    return 6 * _positive("n_params", n_params) * _positive("n_tokens", n_tokens)


def inference_flops(n_params: float, n_tokens: float) -> float:
    """FLOPs of a forward pass over `n_tokens` tokens: ~2*N per token (one multiply-add per weight)."""
    return 2 * _positive("n_params", n_params) * _positive("n_tokens", n_tokens)


def petaflop_s_days(flops: float) -> float:
    """`flops` in petaFLOP/s-days (1 PF-day = 1e15 FLOP/s for 24 h = 8.64e19 FLOPs), the GPT-3 paper's unit."""
    return _positive("flops", flops) / PETAFLOP_S_DAY


def gpu_hours(flops: float, peak_tflops: float, mfu: float) -> float:
    """GPU-hours to do `flops` on GPUs of `peak_tflops` (dense, per GPU) at model-FLOPs utilisation `mfu` (0-1]."""
    flops, peak_tflops, mfu = _positive("flops", flops), _positive("peak_tflops", peak_tflops), _positive("mfu", mfu)
    if mfu > 1:
        raise ValueError(f"mfu is a fraction of the peak in (0, 1] (e.g. 0.4 for 40%), got {mfu}")
    return flops / (peak_tflops * 1e12 * mfu) / 3600


def training_cost_usd(gpu_hours: float, usd_per_gpu_hour: float) -> float:
    """Dollars for `gpu_hours` at `usd_per_gpu_hour` (rent only: no staff, data, failed runs or experiments)."""
    return _positive("gpu_hours", gpu_hours) * _positive("usd_per_gpu_hour", usd_per_gpu_hour)


# --- Chinchilla scaling ---------------------------------------------------------------------------


def chinchilla_optimal(compute_flops: float) -> tuple[float, float]:
    """Compute-optimal (n_params, n_tokens) for a budget, from C = 6*N*D and D = 20*N (Hoffmann et al. 2022)."""
    compute_flops = _positive("compute_flops", compute_flops)
    n_params = math.sqrt(compute_flops / (6 * CHINCHILLA_TOKENS_PER_PARAM))
    return n_params, CHINCHILLA_TOKENS_PER_PARAM * n_params


def chinchilla_loss(n_params: float, n_tokens: float) -> float:
    """Predicted pre-training loss (nats/token on MassiveText) from Hoffmann et al.'s fit:
    L = E + A / N**alpha + B / D**beta with E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28."""
    n, d, c = _positive("n_params", n_params), _positive("n_tokens", n_tokens), CHINCHILLA
    return c["E"] + c["A"] / n ** c["alpha"] + c["B"] / d ** c["beta"]
