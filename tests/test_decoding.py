"""From-scratch decoding matches transformers: processors score for score, greedy/beam/sample token for token."""

import inspect
import warnings
from types import SimpleNamespace

import pytest
import torch
from transformers import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.utils import logging

from llm_workshop import models
from llm_workshop.concepts import decoding
from llm_workshop.concepts.logprobs import completion_logprobs_from_ids
from llm_workshop.exercises import m2_1, m2_2

logging.set_verbosity_error()  # generate() warns about pad == eos on these tiny models
PROMPT = "Holmes looked at the door and said"
NEW = 24


@pytest.fixture(scope="module", params=["gpt2", "chat"])
def lm(request):
    """(model, prompt ids, a token the model emits within NEW greedy steps) for two architectures."""
    model, tokenizer = models.load(request.param, "smoke")
    ids = tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    greedy = model.generate(ids, max_new_tokens=NEW, do_sample=False, eos_token_id=None, pad_token_id=0)
    stop = int(greedy[0, ids.shape[1] + NEW // 3])  # used as an 'EOS' so that early stopping really happens
    return model, ids, stop


def reference(model, ids, **kwargs):
    return model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW, pad_token_id=0, **kwargs)


@pytest.fixture
def logits():
    return torch.randn(4, 300, generator=torch.Generator().manual_seed(0)) * 3


@pytest.mark.parametrize("temperature", [0.3, 0.7, 1.0, 2.5])
def test_temperature_matches_transformers(logits, temperature):
    expected = TemperatureLogitsWarper(temperature)(None, logits)
    torch.testing.assert_close(decoding.apply_temperature(logits, temperature), expected)


@pytest.mark.parametrize("k", [1, 5, 40, 300, 1000])
def test_top_k_matches_transformers(logits, k):
    expected = TopKLogitsWarper(k)(None, logits)
    assert torch.equal(decoding.top_k_filter(logits, k), expected)


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 0.999, 1.0])
def test_top_p_matches_transformers(logits, p):
    expected = TopPLogitsWarper(p)(None, logits)
    got = decoding.top_p_filter(logits, p)
    assert torch.equal(got, expected)
    if p < 1:
        kept_mass = torch.where(torch.isinf(got), 0.0, logits.softmax(-1)).sum(-1)
        assert (kept_mass >= p - 1e-6).all()


@pytest.mark.parametrize("penalty", [0.8, 1.0, 1.3, 2.0])
def test_repetition_penalty_matches_transformers(logits, penalty):
    seen = torch.randint(0, 300, (4, 12), generator=torch.Generator().manual_seed(1))
    expected = RepetitionPenaltyLogitsProcessor(penalty)(seen, logits.clone())
    torch.testing.assert_close(decoding.apply_repetition_penalty(logits, seen, penalty), expected)
    untouched = torch.ones_like(logits, dtype=torch.bool).scatter(1, seen, False)
    assert torch.equal(decoding.apply_repetition_penalty(logits, seen, penalty)[untouched], logits[untouched])


@pytest.mark.slow
@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_matches_generate(lm, use_cache):
    model, ids, stop = lm
    for eos in (None, stop):
        expected = reference(model, ids, do_sample=False, eos_token_id=eos)
        got = decoding.generate(model, ids, NEW, use_cache=use_cache, eos_token_id=eos)
        assert torch.equal(got, expected)
    assert got.shape[1] < ids.shape[1] + NEW and got[0, -1] == stop  # stopped at the 'EOS'


@pytest.mark.slow
def test_greedy_with_repetition_penalty_matches_generate(lm):
    model, ids, _ = lm
    expected = reference(model, ids, do_sample=False, eos_token_id=None, repetition_penalty=1.4)
    assert torch.equal(decoding.generate(model, ids, NEW, repetition_penalty=1.4), expected)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("num_beams", "length_penalty", "repetition_penalty", "use_cache"),
    [(3, 1.0, 1.0, True), (3, 1.0, 1.0, False), (4, 2.0, 1.0, True), (2, 0.5, 1.3, True)],
)
def test_beam_search_matches_generate(lm, num_beams, length_penalty, repetition_penalty, use_cache):
    model, ids, stop = lm
    settings = dict(num_beams=num_beams, length_penalty=length_penalty, repetition_penalty=repetition_penalty)
    for eos in (None, stop):
        expected = reference(model, ids, do_sample=False, eos_token_id=eos, **settings)
        got = decoding.generate(model, ids, NEW, strategy="beam", use_cache=use_cache, eos_token_id=eos, **settings)
        assert torch.equal(got, expected), f"eos={eos}"


@pytest.mark.slow
def test_beam_search_finds_a_likelier_sequence_than_greedy(lm):
    model, ids, _ = lm

    def log_prob(sequence):
        prompt_len = ids.shape[1]
        return completion_logprobs_from_ids(model, [sequence[0, :prompt_len]], [sequence[0, prompt_len:]]).item()

    greedy = decoding.generate(model, ids, 12)
    beam = decoding.generate(model, ids, 12, strategy="beam", num_beams=5, length_penalty=0.0)
    assert log_prob(beam) >= log_prob(greedy) - 1e-4


@pytest.mark.slow
def test_sampling_matches_generate_with_the_same_seed(lm):
    model, ids, _ = lm
    settings = dict(temperature=0.8, top_k=50, top_p=0.9, repetition_penalty=1.2)
    torch.manual_seed(3)
    expected = reference(model, ids, do_sample=True, eos_token_id=None, **settings)
    torch.manual_seed(3)
    assert torch.equal(decoding.generate(model, ids, NEW, strategy="sample", **settings), expected)


@pytest.mark.slow
def test_sampling_is_reproducible_and_cache_free_path_agrees(lm):
    model, ids, _ = lm
    runs = [
        decoding.generate(
            model, ids, NEW, strategy="sample", top_p=0.95, use_cache=cache, generator=torch.Generator().manual_seed(7)
        )
        for cache in (True, False, True)
    ]
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])
    other = decoding.generate(model, ids, NEW, strategy="sample", generator=torch.Generator().manual_seed(8))
    assert not torch.equal(runs[0], other)


@pytest.mark.slow
def test_generation_kwargs_are_greedy_under_qwens_sampling_generation_config(lm):
    """Qwen2.5's generation_config samples with repetition_penalty 1.1; generation_kwargs must undo all of it."""
    import copy

    from transformers import GenerationConfig

    model, ids, _ = lm
    qwen_like = copy.deepcopy(model)
    qwen_like.generation_config = GenerationConfig.from_pretrained(models.hub_files("chat"))
    assert qwen_like.generation_config.do_sample and qwen_like.generation_config.repetition_penalty == 1.1
    mask = torch.ones_like(ids)

    def run(**kwargs):
        settings = dict(attention_mask=mask, max_new_tokens=NEW, output_scores=True, return_dict_in_generate=True)
        return qwen_like.generate(ids, **settings, **kwargs)

    greedy = run(**decoding.generation_kwargs(0, None))
    assert torch.equal(greedy.sequences, decoding.generate(model, ids, NEW))
    with torch.no_grad():
        torch.testing.assert_close(greedy.scores[0], model(ids).logits[:, -1])  # no processor touched the logits
    # do_sample=False alone still applies the config's repetition penalty of 1.1
    penalised = run(do_sample=False, pad_token_id=0)
    assert torch.equal(penalised.sequences, decoding.generate(model, ids, NEW, repetition_penalty=1.1))
    assert not torch.allclose(penalised.scores[0], greedy.scores[0])


def test_a_cpu_generator_draws_for_any_device():
    probs = torch.softmax(torch.randn(3, 50, generator=torch.Generator().manual_seed(0)), dim=-1)
    drawn = decoding._draw(probs, torch.Generator().manual_seed(5))
    assert torch.equal(drawn, torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(5)))
    if torch.cuda.is_available():  # what 2.2 does on a GPU: CUDA probabilities, a seeded CPU generator
        on_gpu = decoding._draw(probs.cuda(), torch.Generator().manual_seed(5))
        assert on_gpu.device.type == "cuda" and torch.equal(on_gpu.cpu(), drawn)


@pytest.mark.slow
def test_cache_feeds_one_token_per_step(lm):
    model, ids, _ = lm
    fed = []
    hook = model.register_forward_pre_hook(
        lambda _, args, kwargs: fed.append(kwargs["input_ids"].shape[1]), with_kwargs=True
    )
    try:
        decoding.generate(model, ids, 6, use_cache=True)
        cached, fed[:] = list(fed), []
        decoding.generate(model, ids, 6, use_cache=False)
    finally:
        hook.remove()
    prompt = ids.shape[1]
    assert cached == [prompt] + [1] * 5
    assert fed == list(range(prompt, prompt + 6))


@pytest.mark.slow
def test_the_cache_goes_under_the_keyword_the_model_takes(lm):
    """transformers 5.24 renames `past_key_values` to `cache` (a FutureWarning for the old name); 5.15 knows only
    the old one: the loop passes whichever the model's forward declares, and warns of nothing."""
    model, ids, _ = lm
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decoding.generate(model, ids, 3, use_cache=True)

    def old_forward(input_ids, past_key_values=None, use_cache=None, logits_to_keep=0):
        return None

    def new_forward(input_ids, cache=None, use_cache=None, logits_to_keep=0):
        return None

    assert decoding.cache_argument(model) in inspect.signature(model.forward).parameters
    assert decoding.cache_argument(SimpleNamespace(forward=old_forward)) == "past_key_values"
    assert decoding.cache_argument(SimpleNamespace(forward=new_forward)) == "cache"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(strategy="sample", top_p=0.0), "top_p"),
        (dict(strategy="sample", top_p=1.5), "top_p"),
        (dict(strategy="sample", temperature=0.0), "temperature"),
        (dict(strategy="sample", temperature=-1.0), "temperature"),
        (dict(strategy="beam", num_beams=0), "num_beams"),
        (dict(strategy="nucleus"), "strategy"),
        (dict(temperature=0.5), "strategy='sample'"),
        (dict(num_beams=3), "strategy='beam'"),
        (dict(max_new_tokens=0), "max_new_tokens"),
        (dict(strategy="sample", top_k=-1), "top_k"),
    ],
)
def test_bad_input_raises_value_error(kwargs, message):
    model = torch.nn.Linear(1, 1)  # never reached: validation comes first
    kwargs = {"max_new_tokens": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        decoding.generate(model, torch.tensor([[1, 2, 3]]), **kwargs)


def test_empty_prompt_and_bad_processor_arguments():
    with pytest.raises(ValueError, match="empty"):
        decoding.generate(torch.nn.Linear(1, 1), torch.tensor([], dtype=torch.long), 5)
    with pytest.raises(ValueError, match="top_p"):
        decoding.top_p_filter(torch.zeros(1, 3), 0.0)
    with pytest.raises(ValueError, match="temperature"):
        decoding.apply_temperature(torch.zeros(1, 3), 0)
    with pytest.raises(ValueError, match="top_k"):
        decoding.top_k_filter(torch.zeros(1, 3), -2)


def test_check_top_k_filter(capsys):
    assert m2_2.check_top_k_filter(decoding.top_k_filter)
    assert not m2_2.check_top_k_filter(lambda logits, k: logits)  # filters nothing
    assert not m2_2.check_top_k_filter(lambda logits, k: decoding.top_k_filter(logits, k + 1))  # off by one
    assert not m2_2.check_top_k_filter(lambda logits, k: 1 / 0)  # raises: reported, not raised
    out = capsys.readouterr().out
    assert "Correct" in out and "ZeroDivisionError" in out


@pytest.mark.slow
def test_check_greedy_generate(capsys):
    model, tokenizer = models.load("gpt2", "smoke")
    ids = tokenizer(PROMPT, return_tensors="pt")["input_ids"]

    def loop(model, ids, n):
        for _ in range(n):
            ids = torch.cat([ids, model(ids).logits[:, -1:].argmax(-1)], dim=-1)
        return ids

    assert m2_1.check_greedy_generate(loop, model, ids)
    assert not m2_1.check_greedy_generate(lambda model, ids, n: ids, model, ids)  # the stub
    assert not m2_1.check_greedy_generate(lambda model, ids, n: loop(model, ids[:, 1:], n), model, ids)
    assert "Correct" in capsys.readouterr().out


def test_top_p_check_accepts_the_reference_and_rejects_off_by_one(capsys):
    assert m2_2.check_top_p_filter(decoding.top_p_filter)
    assert not m2_2.check_top_p_filter(lambda logits, p: logits)
    assert not m2_2.check_top_p_filter(lambda logits, p: decoding.top_k_filter(logits, 1))
    assert not m2_2.check_top_p_filter(lambda logits, p: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
