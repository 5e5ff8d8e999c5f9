"""LoRA from scratch gives peft's outputs for the same weights, merges exactly, and counts parameters right."""

import copy

import pytest
import torch
from peft import LoraConfig, get_peft_model
from torch import nn
from transformers.pytorch_utils import Conv1D

from llm_workshop.concepts import lora, training


def randomize_b(model: nn.Module) -> None:
    """Give every B a non-zero value (it starts at zero) so the comparisons exercise the update."""
    gen = torch.Generator().manual_seed(1)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)


def test_fresh_lora_layer_changes_nothing():
    torch.manual_seed(0)
    base = nn.Linear(16, 8)
    layer = lora.LoRALinear(copy.deepcopy(base), r=4, alpha=8)
    x = torch.randn(3, 16)
    assert torch.equal(layer(x), base(x))
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]
    assert layer.lora_A.abs().sum() > 0 and layer.lora_B.abs().sum() == 0


@pytest.mark.parametrize("kind", ["linear", "conv1d"])
def test_same_output_as_peft_on_one_layer(kind):
    torch.manual_seed(0)
    base = nn.Linear(64, 512) if kind == "linear" else Conv1D(512, 64)
    if kind == "conv1d":
        nn.init.normal_(base.weight, std=0.02)
    wrapper = nn.Sequential()
    wrapper.add_module("proj", copy.deepcopy(base))
    peft_model = get_peft_model(
        wrapper, LoraConfig(r=8, lora_alpha=16, target_modules=["proj"], fan_in_fan_out=kind == "conv1d")
    )
    randomize_b(peft_model)
    ours = lora.LoRALinear(copy.deepcopy(base), r=8, alpha=16)
    peft_layer = peft_model.base_model.model.proj
    with torch.no_grad():
        ours.lora_A.copy_(peft_layer.lora_A["default"].weight)
        ours.lora_B.copy_(peft_layer.lora_B["default"].weight)
    x = torch.randn(4, 10, 64)
    assert (ours(x) - peft_model(x)).abs().max() <= 1e-6
    assert (ours(x) - base(x)).abs().max() > 1e-2  # the update really contributes


def test_gpt2_c_attn_matches_peft_and_merge_and_unload(tiny_gpt2):
    base = tiny_gpt2()
    peft_model = get_peft_model(
        copy.deepcopy(base), LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True)
    )
    randomize_b(peft_model)
    ours = lora.apply_lora(copy.deepcopy(base), ["c_attn"], r=4, alpha=8)
    for i, block in enumerate(ours.transformer.h):
        theirs = peft_model.base_model.model.transformer.h[i].attn.c_attn
        with torch.no_grad():
            block.attn.c_attn.lora_A.copy_(theirs.lora_A["default"].weight)
            block.attn.c_attn.lora_B.copy_(theirs.lora_B["default"].weight)
    ids = torch.randint(0, 100, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours_logits, peft_logits = ours(ids).logits, peft_model(ids).logits
        assert (ours_logits - peft_logits).abs().max() <= 1e-5
        assert (ours_logits - base(ids).logits).abs().max() > 1e-3
        merged_ours = lora.merge_lora(ours)(ids).logits
        merged_peft = peft_model.merge_and_unload()(ids).logits
    assert (merged_ours - ours_logits).abs().max() <= 1e-5
    assert (merged_peft - merged_ours).abs().max() <= 1e-5
    assert not any(isinstance(m, lora.LoRALinear) for m in ours.modules())


def test_merged_equals_unmerged_and_is_plain_linear():
    torch.manual_seed(0)
    layer = lora.LoRALinear(nn.Linear(32, 16), r=4, alpha=4)
    randomize_b(layer)
    merged = layer.merge()
    assert type(merged) is nn.Linear
    x = torch.randn(5, 32)
    assert torch.allclose(merged(x), layer(x), atol=1e-6)


def test_trainable_counts_match_peft(tiny_gpt2):
    ours = lora.apply_lora(tiny_gpt2(), ["c_attn"], r=4, alpha=8)
    theirs = get_peft_model(tiny_gpt2(), LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True))
    trainable, total = lora.count_trainable(ours)
    peft_trainable, peft_total = theirs.get_nb_trainable_parameters()
    assert (trainable, total) == (peft_trainable, peft_total)
    assert trainable == 2 * lora.lora_param_count(96, 32, 4)


def test_lora_learns_while_base_stays_frozen(tiny_gpt2):
    torch.manual_seed(0)
    model = lora.apply_lora(tiny_gpt2(), ["c_attn"], r=4, alpha=8)
    frozen = model.transformer.h[0].attn.c_attn.base.weight.clone()
    ids = torch.randint(0, 100, (4, 16))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = training.train(model, [{"input_ids": ids, "labels": ids}] * 30, opt)
    assert losses[-1] < losses[0] - 0.1
    assert torch.equal(model.transformer.h[0].attn.c_attn.base.weight, frozen)


def test_the_512_by_64_example():
    assert lora.lora_param_count(512, 64, 8) == 4608
    layer = lora.LoRALinear(nn.Linear(64, 512, bias=False), r=8, alpha=16)
    assert lora.count_trainable(layer) == (4608, 4608 + 32768)


def test_fused_lora_on_one_part_is_lora_on_that_slice_of_the_weight():
    torch.manual_seed(0)
    base = Conv1D(12, 4)  # GPT-2 layout: 4 inputs, 12 outputs = [q | k | v] of width 4
    nn.init.normal_(base.weight, std=0.1)
    fused = lora.FusedLoRA(copy.deepcopy(base), {"v": (8, 12)}, r=2, alpha=4)
    with torch.no_grad():
        fused.lora_B["v"].normal_()
    x = torch.randn(3, 4)
    out, plain = fused(x), base(x)
    assert torch.equal(out[:, :8], plain[:, :8])  # q and k untouched
    v_update = x @ (fused.lora_B["v"] @ fused.lora_A["v"]).T * 2.0  # (alpha / r) B A x on v's rows
    assert torch.allclose(out[:, 8:], plain[:, 8:] + v_update, atol=1e-6)


def test_fused_lora_over_the_whole_output_equals_lora_linear():
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    fused = lora.FusedLoRA(copy.deepcopy(base), {"all": (0, 5)}, r=3, alpha=6)
    plain = lora.LoRALinear(copy.deepcopy(base), r=3, alpha=6)
    with torch.no_grad():
        plain.lora_A.copy_(fused.lora_A["all"])
        fused.lora_B["all"].normal_()
        plain.lora_B.copy_(fused.lora_B["all"])
    x = torch.randn(4, 6)
    assert torch.allclose(fused(x), plain(x), atol=1e-6)


def test_attention_lora_budgets_are_equal_and_only_adapters_train(tiny_gpt2):
    counts = {}
    for projections, r in [("q", 8), ("v", 8), ("qv", 4), ("qkvo", 2)]:
        model = lora.apply_attention_lora(tiny_gpt2(), projections, r=r, alpha=2 * r)
        counts[projections] = lora.count_trainable(model)[0]
        assert all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)
    assert len(set(counts.values())) == 1, counts  # every projection is d x d: r x 2d per matrix and layer
    model = lora.apply_attention_lora(tiny_gpt2(), "v", r=2, alpha=4)
    assert isinstance(model.transformer.h[0].attn.c_attn, lora.FusedLoRA)
    assert not isinstance(model.transformer.h[0].attn.c_proj, lora.LoRALinear)


def test_attention_lora_learns(tiny_gpt2):
    torch.manual_seed(0)
    model = lora.apply_attention_lora(tiny_gpt2(), ["q", "k", "v", "o"], r=2, alpha=4)
    ids = torch.randint(0, 100, (4, 16))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = training.train(model, [{"input_ids": ids, "labels": ids}] * 30, opt)
    assert losses[-1] < losses[0] - 0.1


def test_bad_input_raises(tiny_gpt2):
    with pytest.raises(ValueError, match="rank"):
        lora.LoRALinear(nn.Linear(4, 4), r=0, alpha=1)
    with pytest.raises(ValueError, match="nn.Linear"):
        lora.LoRALinear(nn.Conv2d(3, 3, 3), r=2, alpha=2)
    with pytest.raises(ValueError, match="no sub-module"):
        lora.apply_lora(tiny_gpt2(), ["q_proj"], r=2, alpha=2)
    with pytest.raises(ValueError, match="dropout"):
        lora.LoRALinear(nn.Linear(4, 4), r=1, alpha=1, dropout=1.0)
    with pytest.raises(ValueError, match="non-overlapping"):
        lora.FusedLoRA(nn.Linear(4, 6), {"a": (0, 4), "b": (3, 6)}, r=1, alpha=1)
    with pytest.raises(ValueError, match="projections"):
        lora.apply_attention_lora(tiny_gpt2(), ["x"], r=1, alpha=1)
