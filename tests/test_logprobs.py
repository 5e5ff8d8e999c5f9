"""The shared completion scorer: batched equals one-by-one equals a hand-written sum, and bad input is refused."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm_workshop import models
from llm_workshop.logprobs import completion_logprobs


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


def test_keeps_the_training_mode(gpt2):
    model, tokenizer = gpt2
    model.train()
    completion_logprobs(model, tokenizer, ["Holmes"], [" said"])
    assert model.training
    model.eval()


def test_bad_input_is_a_sentence(gpt2):
    model, tokenizer = gpt2
    with pytest.raises(ValueError, match="one completion each"):
        completion_logprobs(model, tokenizer, ["a", "b"], [" c"])
    with pytest.raises(ValueError, match="at least one token"):
        completion_logprobs(model, tokenizer, ["Holmes"], [""])
