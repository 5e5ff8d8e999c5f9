"""A 4-bit model scored in eval mode and then trained must train on every CPU, AVX512-BF16 or not.

The tests force bitsandbytes' CPU detection on, so the branch that only AVX512-BF16 CPUs take runs on any
machine; the last test shows the failure itself and runs only where the CPU really has the instruction.
"""

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

from llm_workshop import models
from llm_workshop.concepts import training
from llm_workshop.concepts.qlora import keep_4bit_trainable, packed_4bit_layers

bnb = pytest.importorskip("bitsandbytes")
from bitsandbytes.functional import _convert_weight_packed_for_cpu, has_avx512bf16  # noqa: E402
from bitsandbytes.nn import Linear4bit  # noqa: E402

CONFIG = BitsAndBytesConfig(
    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=torch.float32
)


def load_4bit():
    model = AutoModelForCausalLM.from_pretrained(
        models.model_path("chat", "smoke"), quantization_config=CONFIG, device_map="cpu"
    )
    for layer in model.modules():
        if isinstance(layer, Linear4bit):
            layer.support_avx512bf16_for_cpu = True  # behave as on a CPU with AVX512-BF16, whatever this one has
    return model


def train_step(model) -> torch.Tensor:
    """One LoRA step on the 4-bit model; returns the loss (raises if the 4-bit matmul cannot train)."""
    lora = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    lora.train()
    ids = torch.arange(3, 19)[None]
    loss = lora(input_ids=ids, labels=ids).loss
    loss.backward()
    grads = [p.grad for n, p in lora.named_parameters() if "lora_B" in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads), "LoRA weights got no gradient"
    return loss


@pytest.mark.slow
def test_eval_forward_then_training_works_with_cpu_packing_forced():
    model = load_4bit()
    assert keep_4bit_trainable(model) == 14  # 2 layers x (q, k, v, o, gate, up, down)
    model.eval()
    with torch.no_grad():
        model(input_ids=torch.arange(3, 11)[None])  # scoring the base model, as 3.3 does before training
    assert packed_4bit_layers(model) == [], "the eval forward must not repack the weights"
    assert torch.isfinite(train_step(model))


@pytest.mark.slow
def test_undoes_a_packing_already_done():
    reference, model = load_4bit(), load_4bit()
    keep_4bit_trainable(reference)
    q_proj = model.model.layers[0].self_attn.q_proj
    q_proj.weight.data, q_proj.weight.quant_state = _convert_weight_packed_for_cpu(
        q_proj.weight.data, q_proj.weight.quant_state
    )  # what Linear4bit.forward does on such a CPU
    assert packed_4bit_layers(model) == ["model.layers.0.self_attn.q_proj"]
    keep_4bit_trainable(model)
    assert packed_4bit_layers(model) == []
    ids = torch.arange(3, 11)[None]
    with torch.no_grad():
        gap = (model(input_ids=ids).logits - reference(input_ids=ids).logits).abs().max().item()
    assert gap < 5e-2, f"unpacked weights compute what they did before ({gap:.2e}; block scales went through bf16)"
    assert torch.isfinite(train_step(model))


def test_a_model_without_4bit_layers_is_left_alone():
    assert keep_4bit_trainable(torch.nn.Linear(4, 4)) == 0


@pytest.mark.slow
@pytest.mark.skipif(not has_avx512bf16(), reason="the failure needs a CPU with AVX512-BF16")
def test_without_the_fix_training_after_an_eval_forward_fails_on_this_cpu():
    model = load_4bit()
    model.eval()
    with torch.no_grad():
        model(input_ids=torch.arange(3, 11)[None])
    assert packed_4bit_layers(model), "bitsandbytes packed the weights on the eval forward"
    with pytest.raises(RuntimeError, match="in-place operation"):
        train_step(model)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("precision", "trained_in"),
    [({"fp16": True}, torch.float32), ({"bf16": True}, torch.bfloat16), ({}, torch.float32)],
)
def test_lora_dtype_after_sfttrainer_suits_the_precision(tmp_path, precision, trained_in):
    """TRL casts a 4-bit model's LoRA weights to bf16 whatever the precision; under fp16 (a T4) the GradScaler then
    fails on CUDA. `cast_adapters(..., adapter_dtype(args))` after construction gives fp16 and fp32 runs fp32 LoRA."""
    from datasets import Dataset
    from peft import prepare_model_for_kbit_training
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from llm_workshop.concepts.qlora import adapter_dtype, cast_adapters

    path = models.model_path("chat", "smoke")
    model = load_4bit()
    keep_4bit_trainable(model)
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    args = SFTConfig(
        output_dir=str(tmp_path),
        max_steps=1,
        use_cpu=True,
        report_to="none",
        **training.checkpointing_args(False),  # TRL turns it on; its old name warns on transformers 5.2x
        **{"bf16": False, "fp16": False, **precision},
    )
    row = {"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "select 1"}]}
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list([row] * 4),
        processing_class=AutoTokenizer.from_pretrained(path),
        peft_config=LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    trainable = {n: p for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and {p.dtype for p in trainable.values()} == {torch.bfloat16}, "TRL's cast changed: re-check"
    cast_adapters(trainer.model, adapter_dtype(args))
    assert {p.dtype for p in trainable.values()} == {trained_in}
    assert all(p.requires_grad for p in trainable.values())
    trainer.train()  # the optimizer is built here, from the cast parameters
    assert all(p.dtype == trained_in for p in trainer.model.parameters() if p.requires_grad)
