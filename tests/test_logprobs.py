"""The shared completion scorer: batched equals one-by-one equals a hand-written sum, from text or from token ids,
one completion or several choices per prompt, and bad input is refused."""

import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm_workshop import models
from llm_workshop.concepts.logprobs import (
    choice_logprobs,
    completion_logprobs,
    completion_logprobs_from_ids,
    gather_logprobs,
)


@pytest.fixture(scope="module")
def gpt2():
    path = models.model_path("gpt2", "smoke")
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def by_hand(model, tokenizer, prompt: str, completion: str) -> float:
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    c = tokenizer(completion, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([p + c])).logits[0]
    logp = torch.log_softmax(logits, dim=-1)
    return sum(logp[len(p) - 1 + i, token].item() for i, token in enumerate(c))


@pytest.mark.slow
def test_batched_scores_equal_hand_computed_sums(gpt2):
    model, tokenizer = gpt2
    prompts = ["Holmes said", "It was a dark night and", "Watson"]
    completions = [" nothing at all.", " the rain fell", " laughed loudly at the idea"]
    batched = completion_logprobs(model, tokenizer, prompts, completions, batch_size=3)
    one_by_one = completion_logprobs(model, tokenizer, prompts, completions, batch_size=1)
    expected = torch.tensor([by_hand(model, tokenizer, p, c) for p, c in zip(prompts, completions)])
    assert batched.shape == (3,)
    assert torch.allclose(batched, expected, atol=1e-4)
    assert torch.allclose(one_by_one, expected, atol=1e-4)
    assert (batched < 0).all()


@pytest.mark.slow
def test_keeps_the_training_mode(gpt2):
    model, tokenizer = gpt2
    model.train()
    completion_logprobs(model, tokenizer, ["Holmes"], [" said"])
    assert model.training
    model.eval()


@pytest.mark.slow
def test_bad_input_is_a_sentence(gpt2):
    model, tokenizer = gpt2
    with pytest.raises(ValueError, match="one completion each"):
        completion_logprobs(model, tokenizer, ["a", "b"], [" c"])
    with pytest.raises(ValueError, match="at least one token"):
        completion_logprobs(model, tokenizer, ["Holmes"], [""])


@pytest.mark.slow
def test_token_ids_and_choices_score_like_text(gpt2):
    model, tokenizer = gpt2
    prompts, choices = ["Holmes said", "The night was"], [" yes", " no at all", " perhaps"]
    grid = choice_logprobs(model, tokenizer, prompts, choices, batch_size=4)
    assert grid.shape == (2, 3)
    for i, prompt in enumerate(prompts):
        expected = torch.tensor([by_hand(model, tokenizer, prompt, choice) for choice in choices])
        assert torch.allclose(grid[i], expected, atol=1e-4)
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    completion_ids = [torch.tensor(tokenizer(" yes", add_special_tokens=False)["input_ids"])] * 2
    assert torch.allclose(completion_logprobs_from_ids(model, ids, completion_ids), grid[:, 0], atol=1e-5)
    with pytest.raises(ValueError, match="at least one token"):
        completion_logprobs_from_ids(model, [[1, 2]], [[]])


def test_gather_logprobs_picks_the_targets():
    logits = torch.tensor([[[0.0, 0.0], [2.0, 0.0]]])  # (batch 1, positions 2, vocab 2)
    got = gather_logprobs(logits, torch.tensor([[1, 0]]))
    assert torch.allclose(got, torch.tensor([[math.log(0.5), 2 - math.log(math.exp(2) + 1)]]))
