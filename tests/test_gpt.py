"""GPT-2 and Qwen2 built from their pieces give the logits, greedy tokens and training losses of transformers."""

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM
from transformers.activations import ACT2FN
from transformers.models.qwen2.modeling_qwen2 import (
    Qwen2MLP,
    Qwen2RMSNorm,
    Qwen2RotaryEmbedding,
    apply_rotary_pos_emb,
)

from llm_workshop import models
from llm_workshop.concepts import attention, gpt, qwen2
from llm_workshop.exercises import m1_5

TOLERANCE = 1e-4  # max |logit difference| in fp32, the bar of module_01/05


def randomize(model: torch.nn.Module, seed: int = 0, scale: float = 1.0) -> torch.nn.Module:
    """Weights far from the initialisation, so logits are as large as a real model's (up to ~100-150).

    Norm gains around 1, matrices ~ 1/sqrt(fan-in), embeddings and biases ~ 0.5: at the initialisation (std 0.02)
    every logit is near 0 and any implementation agrees to 1e-7, which would test nothing.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            if "ln" in name or "norm" in name:
                p.copy_(1 + 0.3 * noise if name.endswith("weight") else 0.3 * noise)
            elif p.dim() == 2 and "wte" not in name and "wpe" not in name and "embed" not in name:
                p.copy_(scale * noise / p.shape[-1] ** 0.5)
            else:
                p.copy_(0.5 * scale * noise)
    return model.eval()


def gpt2_configs() -> dict[str, GPT2Config]:
    real = AutoConfig.from_pretrained(models.hub_files("gpt2"))
    real.n_layer = 2  # real vocabulary, width, heads and positions; two of its twelve layers
    return {
        "odd-sizes-tied": GPT2Config(vocab_size=101, n_positions=37, n_embd=60, n_layer=3, n_head=5, n_inner=47),
        "untied": GPT2Config(vocab_size=97, n_positions=32, n_embd=24, n_layer=2, n_head=3, tie_word_embeddings=False),
        "one-head-eps": GPT2Config(
            vocab_size=50, n_positions=16, n_embd=8, n_layer=1, n_head=1, layer_norm_epsilon=1e-3
        ),
        "real-gpt2-2-layers": real,
    }


def qwen2_configs() -> dict[str, Qwen2Config]:
    real = AutoConfig.from_pretrained(models.hub_files("chat"))
    real.num_hidden_layers, real.layer_types = 2, real.layer_types[:2]
    small = dict(vocab_size=97, hidden_size=48, num_hidden_layers=2, num_attention_heads=6, intermediate_size=37)
    return {
        "gqa-3-tied": Qwen2Config(**small, num_key_value_heads=2, tie_word_embeddings=True),
        "mha-untied-theta-500": Qwen2Config(
            **small, num_key_value_heads=6, rope_parameters={"rope_type": "default", "rope_theta": 500.0}
        ),
        "mqa-theta-1e6-eps": Qwen2Config(
            **small,
            num_key_value_heads=1,
            rms_norm_eps=1e-3,
            rope_parameters={"rope_type": "default", "rope_theta": 1e6},
        ),
        "head-dim-16-gqa-2": Qwen2Config(**{**small, "num_attention_heads": 4}, num_key_value_heads=2, head_dim=16),
        "real-qwen2.5-0.5b-2-layers": real,
    }


def max_logit_difference(hf_model, ours, input_ids) -> float:
    with torch.no_grad():
        return (hf_model(input_ids).logits - ours(input_ids)).abs().max().item()


# --- the pieces ---------------------------------------------------------------------------------------------------


def test_layer_norm_matches_torch():
    torch.manual_seed(0)
    reference = torch.nn.LayerNorm(12, eps=1e-5)
    torch.nn.init.normal_(reference.weight)
    torch.nn.init.normal_(reference.bias)
    ours = gpt.LayerNorm(12)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(3, 5, 12) * 10 + 4
    assert torch.allclose(ours(x), reference(x), atol=1e-5)


def test_gelu_is_gpt2s_gelu_new_not_the_exact_gelu():
    x = torch.linspace(-6, 6, 1001)
    assert torch.allclose(gpt.gelu_tanh(x), ACT2FN["gelu_new"](x), atol=1e-6)
    assert (gpt.gelu_tanh(x) - F.gelu(x)).abs().max() > 1e-4  # the tanh form is an approximation


def test_rms_norm_and_swiglu_match_qwen2():
    torch.manual_seed(0)
    config = Qwen2Config(hidden_size=16, intermediate_size=24, rms_norm_eps=1e-5)
    reference_norm, reference_mlp = Qwen2RMSNorm(16, eps=1e-5), Qwen2MLP(config)
    torch.nn.init.normal_(reference_norm.weight)
    norm, mlp = qwen2.RMSNorm(16, 1e-5), qwen2.SwiGLU(16, 24)
    norm.load_state_dict(reference_norm.state_dict())
    mlp.load_state_dict(reference_mlp.state_dict())
    x = torch.randn(2, 7, 16) * 3
    assert torch.allclose(norm(x), reference_norm(x), atol=1e-6)
    assert torch.allclose(mlp(x), reference_mlp(x), atol=1e-6)


def test_rope_matches_transformers_and_depends_on_the_offset_only():
    config = Qwen2Config(
        hidden_size=32, num_attention_heads=2, rope_parameters={"rope_type": "default", "rope_theta": 500.0}
    )
    q, k = torch.randn(2, 1, 2, 9, 16).unbind(0)
    cos, sin = qwen2.rope_angles(9, 16, theta=500.0)
    hf_cos, hf_sin = Qwen2RotaryEmbedding(config)(q, torch.arange(9)[None])
    hf_q, hf_k = apply_rotary_pos_emb(q, k, hf_cos, hf_sin)
    assert torch.allclose(qwen2.apply_rope(q, cos, sin), hf_q, atol=1e-6)
    assert torch.allclose(qwen2.apply_rope(k, cos, sin), hf_k, atol=1e-6)
    # the same two vectors at positions (m, n): their rotated dot product depends on m - n alone
    vq, vk = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    cos, sin = qwen2.rope_angles(40, 16, dtype=torch.float64)
    scores = (qwen2.apply_rope(vq, cos, sin) @ qwen2.apply_rope(vk, cos, sin).T).numpy()
    assert abs(scores[10, 3] - scores[37, 30]) < 1e-10 and abs(scores[10, 3] - scores[10, 4]) > 1e-2


def test_grouped_query_attention_with_one_group_per_head_is_multi_head_attention():
    torch.manual_seed(0)
    gqa = qwen2.GroupedQueryAttention(dim=16, n_heads=4, n_kv_heads=4, head_dim=4, qkv_bias=True)
    mha = attention.MultiHeadAttention(16, 4)
    with torch.no_grad():
        for ours, theirs in (("q_proj", "q_proj"), ("k_proj", "k_proj"), ("v_proj", "v_proj"), ("o_proj", "out_proj")):
            getattr(gqa, ours).weight.copy_(getattr(mha, theirs).weight)
        mha.q_proj.bias.copy_(gqa.q_proj.bias)
        mha.k_proj.bias.copy_(gqa.k_proj.bias)
        mha.v_proj.bias.copy_(gqa.v_proj.bias)
        mha.out_proj.bias.zero_()
    x = torch.randn(2, 5, 16)
    no_rotation = torch.ones(5, 4), torch.zeros(5, 4)
    expected = mha(x, mask=attention.causal_mask(5))[0]
    assert torch.allclose(gqa(x, *no_rotation, attention.causal_mask(5)), expected, atol=1e-6)


# --- whole models ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(gpt2_configs()))
def test_gpt2_from_hf_gives_the_same_logits(name):
    config = gpt2_configs()[name]
    torch.manual_seed(0)
    reference = randomize(GPT2LMHeadModel(config))
    ours = gpt.GPT2.from_hf(reference)
    assert (ours.lm_head is None) == config.tie_word_embeddings
    input_ids = torch.randint(0, config.vocab_size, (2, min(config.n_positions, 48)))
    difference = max_logit_difference(reference, ours, input_ids)
    with torch.no_grad():
        size = reference(input_ids).logits.abs().max().item()
    print(f"GPT-2 {name}: max |logit difference| {difference:.2e} for logits up to {size:.0f}")
    assert difference <= TOLERANCE


@pytest.mark.parametrize("name", list(qwen2_configs()))
def test_qwen2_from_hf_gives_the_same_logits(name):
    config = qwen2_configs()[name]
    torch.manual_seed(0)
    reference = randomize(Qwen2ForCausalLM(config))
    ours = qwen2.Qwen2.from_hf(reference)
    assert (ours.lm_head is None) == config.tie_word_embeddings
    assert ours.rope_theta == config.rope_parameters["rope_theta"]
    input_ids = torch.randint(0, config.vocab_size, (2, 48))
    difference = max_logit_difference(reference, ours, input_ids)
    reference.set_attn_implementation(
        "eager"
    )  # transformers' plain attention (0.0 difference when sqrt(head_dim) is exact)
    eager_difference = max_logit_difference(reference, ours, input_ids)
    with torch.no_grad():
        size = reference(input_ids).logits.abs().max().item()
    print(
        f"Qwen2 {name}: max |logit difference| {difference:.2e} (sdpa), {eager_difference:.2e} (eager) for logits up to {size:.0f}"
    )
    assert difference <= TOLERANCE and eager_difference <= TOLERANCE


@pytest.mark.slow
def test_the_smoke_models_load_with_the_same_logits():
    for name, cls in (("gpt2", gpt.GPT2), ("chat", qwen2.Qwen2)):
        reference, tokenizer = models.load(name, "smoke", dtype=torch.float32)
        input_ids = tokenizer("Holmes lit his pipe and looked at the fire.", return_tensors="pt")["input_ids"]
        assert max_logit_difference(reference.eval(), cls.from_hf(reference), input_ids) <= TOLERANCE


def test_from_hf_keeps_dtype_and_copies_the_weights():
    reference = Qwen2ForCausalLM(qwen2_configs()["gqa-3-tied"]).to(torch.bfloat16)
    ours = qwen2.Qwen2.from_hf(reference)
    assert all(p.dtype == torch.bfloat16 and p.device.type == "cpu" for p in ours.parameters())
    with torch.no_grad():
        ours.embed.weight.zero_()
    assert reference.model.embed_tokens.weight.abs().sum() > 0, "a copy, not shared storage"


@pytest.mark.parametrize(
    "reference",
    [
        lambda: GPT2LMHeadModel(gpt2_configs()["odd-sizes-tied"]),
        lambda: Qwen2ForCausalLM(qwen2_configs()["gqa-3-tied"]),
    ],
    ids=["gpt2", "qwen2"],
)
def test_greedy_is_token_identical_to_generate(reference):
    torch.manual_seed(0)
    reference = randomize(reference(), scale=2.0)
    ours = (gpt.GPT2 if isinstance(reference, GPT2LMHeadModel) else qwen2.Qwen2).from_hf(reference)
    prompt = torch.tensor([[5, 17, 3, 40]])
    expected = reference.generate(
        prompt, max_new_tokens=20, do_sample=False, repetition_penalty=1.0, pad_token_id=0, eos_token_id=None
    )
    assert torch.equal(gpt.greedy(ours, prompt, 20), expected)
    eos = int(expected[0, 10])  # stop at the first time this token comes out
    stopped = reference.generate(
        prompt, max_new_tokens=20, do_sample=False, repetition_penalty=1.0, pad_token_id=0, eos_token_id=eos
    )
    assert torch.equal(gpt.greedy(ours, prompt, 20, eos_token_id=eos), stopped) and stopped.shape[1] < 24


def training_losses(model, forward, batches) -> list[float]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    losses = []
    for batch in batches:
        loss = forward(batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("arch", ["gpt2", "qwen2"])
def test_training_from_the_same_weights_gives_the_same_losses(arch):
    torch.manual_seed(0)
    if arch == "gpt2":
        reference = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0))  # fmt: skip
        ours = gpt.GPT2.from_hf(reference)
    else:
        reference = Qwen2ForCausalLM(qwen2_configs()["gqa-3-tied"])
        ours = qwen2.Qwen2.from_hf(reference)
    vocab = reference.config.vocab_size
    generator = torch.Generator().manual_seed(1)
    pattern = torch.randint(0, vocab, (8,), generator=generator)  # a learnable, repeating sequence
    batches = [pattern.repeat(2)[None].repeat(4, 1) for _ in range(10)]
    reference.train(), ours.train()
    theirs = training_losses(reference, lambda b: reference(input_ids=b, labels=b).loss, batches)
    mine = training_losses(ours, lambda b: gpt.next_token_loss(ours(b), b), batches)
    assert max(abs(a - b) for a, b in zip(theirs, mine)) < 1e-4
    assert mine[-1] < mine[0] - 1


def test_bad_input_gets_one_clear_sentence():
    gpt2 = GPT2LMHeadModel(gpt2_configs()["one-head-eps"])
    qwen = Qwen2ForCausalLM(qwen2_configs()["gqa-3-tied"])
    with pytest.raises(TypeError, match="expects a transformers GPT2LMHeadModel, got Qwen2ForCausalLM"):
        gpt.GPT2.from_hf(qwen)
    with pytest.raises(TypeError, match="expects a transformers Qwen2ForCausalLM, got GPT2LMHeadModel"):
        qwen2.Qwen2.from_hf(gpt2)
    with pytest.raises(TypeError, match="got Linear"):
        gpt.GPT2.from_hf(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="activation_function='gelu_new'"):
        gpt.GPT2.from_hf(GPT2LMHeadModel(GPT2Config(n_embd=8, n_layer=1, n_head=1, activation_function="relu")))
    with pytest.raises(ValueError, match="sliding-window"):
        qwen2.Qwen2.from_hf(Qwen2ForCausalLM(Qwen2Config(**{**qwen.config.to_dict(), "use_sliding_window": True, "sliding_window": 4, "max_window_layers": 0, "layer_types": None})))  # fmt: skip
    ours = gpt.GPT2.from_hf(gpt2)
    with pytest.raises(TypeError, match="shape \\(batch, length\\)"):
        ours(torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="reads 1 to 16"):
        ours(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="one prompt"):
        gpt.greedy(ours, torch.zeros(2, 3, dtype=torch.long), 4, eos_token_id=0)
    with pytest.raises(ValueError, match="max_new_tokens must be at least 1"):
        gpt.greedy(ours, torch.zeros(1, 3, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        qwen2.GroupedQueryAttention(16, 4, 3, 4)
    with pytest.raises(ValueError, match="head_dim must be even"):
        qwen2.rope_angles(4, 7)


# --- exercise checks ------------------------------------------------------------------------------------------------


def attention_by_hand(attn, x, scale=None, masked=True, softmax_dim=-1, out_proj=True, merge_heads=True):
    """Causal multi-head self-attention from `attn`'s weights, or one of the slips the exercise check names."""
    batch, length, d_model = x.shape

    def heads(t):
        return t.view(batch, length, attn.n_heads, attn.d_head).transpose(1, 2)

    q, k, v = heads(attn.q_proj(x)), heads(attn.k_proj(x)), heads(attn.v_proj(x))
    scores = q @ k.transpose(-2, -1) / (scale or attn.d_head**0.5)
    if masked:
        scores = scores.masked_fill(~attention.causal_mask(length), float("-inf"))
    out = scores.softmax(softmax_dim) @ v
    out = out.transpose(1, 2).reshape(batch, length, d_model) if merge_heads else out.reshape(batch, length, d_model)
    return attn.out_proj(out) if out_proj else out


def test_check_attention_accepts_attention_by_hand_in_float64():
    assert m1_5.check_attention(attention_by_hand)
    assert m1_5.check_attention(lambda attn, x: attention_by_hand(attn, x).double())


@pytest.mark.parametrize(
    ("slip", "hint"),
    [
        (dict(masked=False), "mask the future"),
        (dict(scale=1.0), "divide the scores by sqrt(d_head)"),
        (dict(softmax_dim=-2), "over the keys"),
        (dict(out_proj=False), "output projection"),
        (dict(merge_heads=False), ".transpose(1, 2) before the reshape"),
    ],
)
def test_check_attention_names_the_slip(slip, hint, capsys):
    assert not m1_5.check_attention(lambda attn, x: attention_by_hand(attn, x, **slip))
    assert hint in capsys.readouterr().out


def test_check_attention_refuses_the_modules_own_forward(capsys):
    assert not m1_5.check_attention(lambda attn, x: attn(x, mask=attention.causal_mask(x.shape[1]))[0])
    assert "write the attention yourself" in capsys.readouterr().out


def test_check_rotate_half_order(capsys):
    assert m1_5.check_rotate_half_order(lambda d: [*range(0, d, 2), *range(1, d, 2)])
    assert not m1_5.check_rotate_half_order(lambda d: list(range(d)))
    assert "leaves the layout as it is" in capsys.readouterr().out
    assert not m1_5.check_rotate_half_order(lambda d: [i + h for i in range(d // 2) for h in (0, d // 2)])
    assert "the way back" in capsys.readouterr().out
    assert not m1_5.check_rotate_half_order(lambda d: [0] * d)
    assert "exactly once" in capsys.readouterr().out


def test_the_rotate_half_order_turns_metas_rope_into_transformers():
    """Reordering a head's dimensions by the order, then rotating in rotate-half layout, is Meta's interleaved RoPE
    followed by the same reordering (what convert_llama_weights_to_hf.py's `permute` relies on)."""
    d, length = 16, 5
    order = [*range(0, d, 2), *range(1, d, 2)]
    x = torch.randn(length, d, dtype=torch.float64)
    angles = torch.arange(length, dtype=torch.float64)[:, None] * 10000.0 ** (-torch.arange(0, d, 2) / d)
    meta = torch.view_as_real(torch.view_as_complex(x.reshape(length, d // 2, 2)) * torch.polar(torch.ones_like(angles), angles))  # fmt: skip
    cos, sin = qwen2.rope_angles(length, d, dtype=torch.float64)
    assert torch.allclose(qwen2.apply_rope(x[:, order], cos, sin), meta.flatten(-2)[:, order], atol=1e-12)


@pytest.mark.parametrize(
    "answer", [lambda *a: "x", lambda *a: a[1].numpy(), lambda *a: torch.zeros(3), lambda *a: None]
)
def test_checks_never_raise_on_malformed_answers(answer):
    assert m1_5.check_attention(answer) is False
    assert m1_5.check_rotate_half_order(answer) is False
