import hashlib
import importlib
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

from llm_workshop import models
from llm_workshop.course import cache, data
from llm_workshop.standins import gpt2 as gpt2_standin
from llm_workshop.standins.qa_reader import set_neighbour_heads
from llm_workshop.standins.tokenizer import SMOKE_VOCAB_SIZE


def test_unknown_model_lists_known_names():
    with pytest.raises(
        KeyError,
        match="known models: agent, chat, distilbert, distilbert-squad, distilgpt2, encoder, gpt2, gpt2-medium, instruct, reader, sentiment",
    ):
        models.spec("gpt-5")


def test_unknown_tier_is_refused():
    with pytest.raises(ValueError, match="unknown tier"):
        models.model_path("gpt2", "medium")


def test_full_tier_uses_real_open_hub_ids():
    assert models.model_path("gpt2", "full") == "gpt2"
    assert models.model_path("distilbert", "full") == "distilbert-base-uncased"
    assert models.model_path("chat", "full") == "Qwen/Qwen2.5-0.5B-Instruct"


def test_build_once_then_reuse_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_WORKSHOP_CACHE", str(tmp_path))
    calls = []

    def fake_builder(out):
        calls.append(out)
        (out / "config.json").write_text(json.dumps({"built": len(calls)}))

    monkeypatch.setitem(models.REGISTRY, "fake", models.ModelSpec("org/fake", fake_builder, "test double"))
    first = models.smoke_path("fake")
    second = models.smoke_path("fake")
    assert first == second == tmp_path / f"smoke-fake-{models.smoke_key('fake')}"
    assert len(calls) == 1
    assert not list(tmp_path.glob(".build-*")), "the scratch directory is cleaned up"


def test_failed_build_leaves_no_half_model(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_WORKSHOP_CACHE", str(tmp_path))

    def broken(out):
        (out / "partial.bin").write_text("x")
        raise RuntimeError("boom")

    monkeypatch.setitem(models.REGISTRY, "broken", models.ModelSpec("org/broken", broken, "test double"))
    with pytest.raises(RuntimeError, match="boom"):
        models.smoke_path("broken")
    assert list(tmp_path.iterdir()) == []


def test_every_build_runs_on_one_thread_and_gives_the_threads_back(tmp_path, monkeypatch):
    """Sums split across threads round differently, so a build on one thread gives the same weights on any machine."""
    monkeypatch.setenv("LLM_WORKSHOP_CACHE", str(tmp_path))
    seen = []

    def probe(out):
        seen.append(torch.get_num_threads())
        (out / "config.json").write_text("{}")

    monkeypatch.setitem(models.REGISTRY, "probe", models.ModelSpec("org/probe", probe, "test double"))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        models.smoke_path("probe")
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_the_cache_key_follows_the_source_that_builds(tmp_path, monkeypatch):
    """An edit to a builder, or to any llm_workshop module it imports, names a new cache entry; nothing else does."""
    files = cache.source_files([gpt2_standin])
    assert cache.PACKAGE_ROOT / "concepts" / "training.py" in files  # imported by the builder
    assert cache.PACKAGE_ROOT / "course" / "data.py" in files  # imported through the tokenizer: transitive
    assert cache.PACKAGE_ROOT / "standins" / "chat.py" not in files
    module = tmp_path / "builder_probe.py"
    module.write_text("STEPS = 1\n")
    monkeypatch.syspath_prepend(tmp_path)
    probe = importlib.import_module("builder_probe")
    key = cache.build_key([probe])
    assert cache.build_key([probe]) == key
    module.write_text("STEPS = 2\n")
    assert cache.build_key([probe]) != key
    assert cache.build_key([probe], "another input") != cache.build_key([probe])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gpt2", "sentiment"])
def test_stand_in_weights_do_not_depend_on_the_core_count(name, tmp_path, monkeypatch):
    """Built by a process using 1 thread and by one using 2, the weights are the same to the byte (these two stand-ins
    used every core before the builds ran on one thread; sentiment's weights then changed with the core count)."""
    digests, threads = [], torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            monkeypatch.setenv("LLM_WORKSHOP_CACHE", str(tmp_path / f"threads-{n}"))
            digests.append(hashlib.sha256((models.smoke_path(name) / "model.safetensors").read_bytes()).hexdigest())
    finally:
        torch.set_num_threads(threads)
    assert digests[0] == digests[1], f"{name}: other weights on 1 and 2 threads"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "auto_class"), [("gpt2", AutoModelForCausalLM), ("chat", AutoModelForCausalLM)])
def test_smoke_causal_models_load_and_were_pretrained(name, auto_class):
    model, tokenizer = models.load(name, "smoke", auto_class=auto_class)
    assert len(tokenizer) == SMOKE_VOCAB_SIZE  # the trap: a 1-5 token vocabulary gives NaN losses
    assert 300_000 < sum(p.numel() for p in model.parameters()) < 2_000_000
    news = tokenizer(data.news_text()[:4000], return_tensors="pt")["input_ids"][:, :128]
    with torch.no_grad():
        loss = model(input_ids=news, labels=news).loss.item()
    assert loss < 0.8 * torch.log(torch.tensor(float(len(tokenizer)))).item(), "pre-training lowered the loss"


@pytest.mark.slow
def test_smoke_distilbert_masks_and_pairs():
    model, tokenizer = models.load("distilbert", "smoke", auto_class=AutoModelForMaskedLM)
    encoded = tokenizer("Who knocked?", "A man in a mask knocked.")
    assert encoded.sequence_ids()[0] is None and 0 in encoded.sequence_ids() and 1 in encoded.sequence_ids()
    assert tokenizer.mask_token == "[MASK]" and tokenizer.mask_token_id is not None
    assert model.config.vocab_size == len(tokenizer)


@pytest.mark.slow
def test_chat_template_is_chatml():
    _, tokenizer = models.load("chat", "smoke")
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_full_tier_offline_without_cache_is_one_sentence(monkeypatch):
    # A Hub id no cache can hold: the answer does not depend on what this machine downloaded before.
    # (HF_HOME cannot be changed here: huggingface_hub reads it once, at import.)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    uncached = models.ModelSpec("llm-workshop-tests/never-downloaded", gpt2_standin.build, "test double")
    monkeypatch.setitem(models.REGISTRY, "gpt2", uncached)
    with pytest.raises(OSError, match="Connect to the internet once.*LLM_WORKSHOP_TIER=smoke"):
        models.load("gpt2", "full")


@pytest.mark.slow
def test_speculative_pair_shares_the_tokenizer_and_the_draft_is_smaller():
    assert models.model_path("gpt2-medium", "full") == "gpt2-medium"
    assert models.model_path("distilgpt2", "full") == "distilgpt2"
    target, target_tokenizer = models.load("gpt2-medium", "smoke")
    draft, draft_tokenizer = models.load("distilgpt2", "smoke")
    assert target_tokenizer.get_vocab() == draft_tokenizer.get_vocab()
    assert target.config.vocab_size == draft.config.vocab_size == SMOKE_VOCAB_SIZE
    n_target, n_draft = (sum(p.numel() for p in m.parameters()) for m in (target, draft))
    assert n_target > 3 * n_draft
    news = target_tokenizer(data.news_text()[:4000], return_tensors="pt")["input_ids"][:, :128]
    with torch.no_grad():
        agreement = (target(news).logits.argmax(-1) == draft(news).logits.argmax(-1)).float().mean().item()
    assert agreement > 0.4, "the distilled draft should mostly pick the target's next token"


@pytest.mark.parametrize("head_offsets", [[[-1], [1], [-2], [3]], [[-5, -4, -3, -2, -1], [1, 2, 3, 4, 5]]])
def test_neighbour_heads_attend_to_their_offsets(head_offsets):
    from transformers import AutoModelForQuestionAnswering, DistilBertConfig

    torch.manual_seed(0)
    config = DistilBertConfig(
        vocab_size=500, dim=128, hidden_dim=128, n_layers=1, n_heads=4, attn_implementation="eager"
    )  # fmt: skip
    model = AutoModelForQuestionAnswering.from_config(config)
    set_neighbour_heads(model, head_offsets)
    model.eval()  # no dropout
    ids = torch.randint(5, 500, (1, 80), generator=torch.Generator().manual_seed(0))
    attention = model.distilbert(input_ids=ids, output_attentions=True).attentions[0][0]
    inner = torch.arange(10, 70)
    for head, offsets in enumerate(head_offsets):
        mass = sum(attention[head, inner, inner + offset] for offset in offsets)
        assert mass.min() > 0.95, f"head {head} attends to offsets {offsets}"
    with pytest.raises(ValueError, match="at most one per head"):
        set_neighbour_heads(model, [[1]] * 5)
