"""Speculative decoding: greedy output = the target's own greedy output = transformers' assisted generation;
sampling keeps the target's distribution (a chi-square test on a toy vocabulary); bad input is refused."""

import itertools

import pytest
import torch
from scipy.stats import chisquare
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel
from transformers.utils import logging

from llm_workshop import models
from llm_workshop.concepts import decoding, speculative
from llm_workshop.exercises import m2_4

logging.set_verbosity_error()  # generate() warns about pad == eos on these tiny models
PROMPTS = ["Holmes looked at the door and said", "The government said on Tuesday that", "Police said"]
NEW = 40


@pytest.fixture(scope="module")
def pair():
    target, tokenizer = models.load("gpt2-medium", "smoke")
    draft, _ = models.load("distilgpt2", "smoke")
    return target, draft, tokenizer


def toy_lm(seed: int, vocab: int = 3, std: float = 0.8) -> GPT2LMHeadModel:
    """A random 1-layer GPT-2 over a `vocab`-token vocabulary, peaked enough that draft and target differ clearly."""
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=vocab, n_positions=16, n_embd=8, n_layer=1, n_head=2, initializer_range=std)
    config.bos_token_id = config.eos_token_id = None
    return GPT2LMHeadModel(config).eval()


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 3, 4, 8])
def test_greedy_equals_target_greedy_and_assisted_generation(pair, k):
    target, draft, tokenizer = pair
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        out, stats = speculative.speculative_generate(target, draft, ids, NEW, k=k)
        assert torch.equal(out, decoding.generate(target, ids, NEW))
        assisted = target.generate(
            ids, attention_mask=torch.ones_like(ids), assistant_model=draft, max_new_tokens=NEW, do_sample=False,
            repetition_penalty=1.0, eos_token_id=None, pad_token_id=0,
        )  # fmt: skip
        assert torch.equal(out, assisted)
        assert stats.new_tokens == NEW and 0 <= stats.accepted <= stats.drafted
        assert stats.target_calls + stats.target_calls_saved == NEW


@pytest.mark.slow
def test_a_useless_draft_changes_nothing_but_the_speed(pair, tiny_gpt2):
    target, _, tokenizer = pair
    stranger = tiny_gpt2(vocab_size=len(tokenizer), n_layer=1, n_positions=1024)
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        out, _ = speculative.speculative_generate(target, stranger, ids, NEW, k=4)
        assert torch.equal(out, decoding.generate(target, ids, NEW))


@pytest.mark.slow
@pytest.mark.parametrize("k", [1, 3, 7])
def test_the_target_as_its_own_draft_accepts_everything(pair, k):
    target, _, tokenizer = pair
    ids = tokenizer(PROMPTS[1], return_tensors="pt")["input_ids"]
    out, stats = speculative.speculative_generate(target, target, ids, NEW, k=k)
    assert torch.equal(out, decoding.generate(target, ids, NEW))
    assert stats.acceptance_rate == 1.0
    assert stats.target_calls == -(-NEW // (k + 1))  # k drafts + 1 own token per pass


@pytest.mark.slow
def test_stops_after_eos_like_plain_greedy(pair):
    target, draft, tokenizer = pair
    ids = tokenizer(PROMPTS[0], return_tensors="pt")["input_ids"]
    plain = decoding.generate(target, ids, NEW)
    stop = int(plain[0, ids.shape[1] + NEW // 3])
    out, stats = speculative.speculative_generate(target, draft, ids, NEW, k=4, eos_token_id=stop)
    assert torch.equal(out, decoding.generate(target, ids, NEW, eos_token_id=stop))
    assert out[0, -1] == stop and stats.new_tokens == out.shape[1] - ids.shape[1] < NEW


def exact_distribution(model, prompt: list[int], n_new: int, vocab: int) -> dict[tuple, float]:
    """P(the next n_new tokens) under `model` sampled at temperature 1, by enumerating every continuation."""
    probs = {}
    with torch.no_grad():
        for seq in itertools.product(range(vocab), repeat=n_new):
            logits = model(torch.tensor([prompt + list(seq)])).logits[0].float()
            step = logits[len(prompt) - 1 : len(prompt) - 1 + n_new].softmax(-1)
            probs[seq] = float(torch.prod(step[torch.arange(n_new), torch.tensor(seq)]))
    return probs


def chi_square_p(counts: dict[tuple, int], probs: dict[tuple, float], n: int) -> float:
    """p-value of the counts under `probs`; cells expected fewer than 5 times are pooled into one."""
    big = [s for s in probs if probs[s] * n >= 5]
    observed = [counts.get(s, 0) for s in big] + [n - sum(counts.get(s, 0) for s in big)]
    expected = [probs[s] * n for s in big] + [n - sum(probs[s] * n for s in big)]
    return chisquare(observed, expected).pvalue


@pytest.mark.parametrize("k", [1, 2])
def test_sampling_keeps_the_target_distribution(k):
    """3 new tokens over a 3-token vocabulary: 27 outcomes, 2,000 draws. The speculative samples must pass a
    chi-square test against the target's exact distribution (p > 0.001) and fail it against the draft's (p < 1e-6),
    which shows the test can tell the two apart."""
    vocab, n_new, n = 3, 3, 2000
    target, draft = toy_lm(0, vocab), toy_lm(1, vocab)
    p_target = exact_distribution(target, [0], n_new, vocab)
    p_draft = exact_distribution(draft, [0], n_new, vocab)
    assert sum(abs(p_target[s] - p_draft[s]) for s in p_target) / 2 > 0.2, "draft and target should differ"
    generator = torch.Generator().manual_seed(0)
    counts: dict[tuple, int] = {}
    for _ in range(n):
        out, _ = speculative.speculative_generate(
            target, draft, torch.tensor([[0]]), n_new, k=k, do_sample=True, generator=generator
        )
        seq = tuple(out[0, 1:].tolist())
        counts[seq] = counts.get(seq, 0) + 1
    assert chi_square_p(counts, p_target, n) > 1e-3
    assert chi_square_p(counts, p_draft, n) < 1e-6


def test_one_round_of_the_rule_samples_p():
    """The rule alone, with fixed p and q per position: the first output token is distributed as p[0]."""
    generator = torch.Generator().manual_seed(0)
    p = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.1, 0.1, 0.8]])
    q = torch.tensor([[0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    n, first = 20000, torch.zeros(3)
    for _ in range(n):
        drafted = [int(torch.multinomial(q[i], 1, generator=generator)) for i in range(2)]
        first[speculative.verify_sampled(p, q, drafted, generator)[0]] += 1
    assert chisquare(first.tolist(), (p[0] * n).tolist()).pvalue > 1e-3
    assert chisquare(first.tolist(), (q[0] * n).tolist()).pvalue < 1e-6


@pytest.mark.slow
def test_sampling_is_deterministic_with_a_seeded_generator(pair):
    target, draft, tokenizer = pair
    ids = tokenizer(PROMPTS[2], return_tensors="pt")["input_ids"]
    runs = [
        speculative.speculative_generate(
            target, draft, ids, 20, k=3, do_sample=True, temperature=0.8, generator=torch.Generator().manual_seed(7)
        )[0]
        for _ in range(2)
    ]
    assert torch.equal(runs[0], runs[1])


def test_residual_is_the_positive_part_renormalised():
    p, q = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.2, 0.5, 0.3])
    torch.testing.assert_close(speculative.residual_distribution(p, q), torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(speculative.residual_distribution(p, p), p)  # never used, but still a distribution
    assert speculative.accept_probability(p, q, 0) == 1.0
    assert speculative.accept_probability(p, q, 1) == pytest.approx(0.6)


def test_expected_tokens_per_round():
    assert speculative.expected_tokens_per_round(0.0, 4) == 1.0
    assert speculative.expected_tokens_per_round(1.0, 4) == 5.0
    assert speculative.expected_tokens_per_round(0.5, 2) == pytest.approx(1 + 0.5 + 0.25)


@pytest.mark.slow
def test_bad_input_is_one_clear_sentence(pair):
    target, draft, tokenizer = pair
    ids = tokenizer(PROMPTS[0], return_tensors="pt")["input_ids"]
    with pytest.raises(ValueError, match="share one tokenizer.*2048"):
        speculative.speculative_generate(target, toy_lm(0, vocab=100), ids, 5)
    with pytest.raises(ValueError, match=r"k \(tokens drafted per round\) must be >= 1"):
        speculative.speculative_generate(target, draft, ids, 5, k=0)
    with pytest.raises(ValueError, match="batch size 1"):
        speculative.speculative_generate(target, draft, ids.repeat(2, 1), 5)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        speculative.speculative_generate(target, draft, ids, 5, do_sample=True, temperature=0)
    real_gpt2 = AutoTokenizer.from_pretrained(models.hub_files("gpt2"))
    with pytest.raises(ValueError, match="tokenizers differ"):
        speculative.require_same_vocabulary(real_gpt2, tokenizer)
    speculative.require_same_vocabulary(
        tokenizer, models.load("distilgpt2", "smoke")[1]
    )  # the registry pair shares one


def test_check_verify_round_accepts_the_rule_and_rejects_near_misses():
    assert m2_4.check_verify_round(speculative.verify_sampled)

    def resample_p(p, q, drafted, generator):  # after a rejection draws from p, not from the residual
        u = torch.rand((), generator=generator).item()
        if u < speculative.accept_probability(p[0], q[0], drafted[0]):
            return [drafted[0], int(torch.multinomial(p[1], 1, generator=generator))]
        return [int(torch.multinomial(p[0], 1, generator=generator))]

    def always_keep(p, q, drafted, generator):
        return [*drafted, int(torch.multinomial(p[len(drafted)], 1, generator=generator))]

    assert not m2_4.check_verify_round(resample_p)
    assert not m2_4.check_verify_round(always_keep)
    assert not m2_4.check_verify_round(lambda p, q, drafted, generator: 1 / 0)


def test_predicted_speedup_is_leviathans_formula_with_the_verifying_pass_costed():
    # Leviathan et al. 2023, Theorem 3.8: (1 - a^(k+1)) / ((1 - a)(c k + 1))
    assert speculative.predicted_speedup(0.5, 0.1, 2) == pytest.approx(1.75 / 1.2)
    assert speculative.predicted_speedup(0.5, 0.1, 2, verify_cost=1.5) == pytest.approx(1.75 / 1.7)
    assert speculative.predicted_speedup(0.0, 0.2, 3) == pytest.approx(1 / 1.6)  # a useless draft only costs
    with pytest.raises(ValueError, match="0 <= alpha <= 1"):
        speculative.predicted_speedup(1.5, 0.1, 2)


def test_check_speedup_accepts_the_formula_and_rejects_near_misses():
    assert m2_4.check_speedup(lambda a, c, k, v: speculative.predicted_speedup(a, c, k, v))
    assert not m2_4.check_speedup(lambda a, c, k, v: speculative.predicted_speedup(a, c, k))  # ignores v
    assert not m2_4.check_speedup(lambda a, c, k, v: (1 - a**k) / (1 - a) / (c * k + v))  # forgets the bonus
    assert not m2_4.check_speedup(lambda a, c, k, v: "fast")


@pytest.mark.slow
def test_the_smoke_draft_proposes_the_targets_greedy_tokens(pair):
    """The smoke draft was distilled on the target's greedy text: alpha on the notebook's prompts is high, and the
    target as its own draft scores 1."""
    target, draft, tokenizer = pair
    alphas = []
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        greedy = decoding.generate(target, ids, NEW)
        alphas.append(speculative.greedy_acceptance(draft, greedy, ids.shape[1]))
        assert speculative.greedy_acceptance(target, greedy, ids.shape[1]) == 1.0
    assert sum(alphas) / len(alphas) > 0.6, f"alpha per prompt {alphas}"
    with pytest.raises(ValueError, match="prompt_len must be between"):
        speculative.greedy_acceptance(draft, greedy, 0)


@pytest.mark.slow
def test_seconds_per_pass_grows_with_the_model_and_the_tokens(pair):
    """The 14-layer target's pass costs clearly more than the 1-layer draft's (every pass the fastest of 3)."""
    target, draft, tokenizer = pair
    ids = tokenizer(" ".join(PROMPTS * 6), return_tensors="pt")["input_ids"][:, :80]
    costs = speculative.seconds_per_pass({"target": (target, 1), "draft": (draft, 1)}, ids, repeats=3)
    target_pass, draft_pass = costs["target"], costs["draft"]
    assert draft_pass < 0.5 * target_pass, f"draft {draft_pass * 1e3:.2f} ms vs target {target_pass * 1e3:.2f} ms"
    with pytest.raises(ValueError, match="no pass of 5 tokens"):
        speculative.seconds_per_pass({"verify": (target, 5)}, ids[:, :10], start=8)
