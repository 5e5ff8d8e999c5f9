"""Static and continuous batching on the paged engine: the engine's logits equal the model's, every request gets
exactly the tokens it would get decoded alone, and continuous batching needs fewer steps and no padding rows."""

import pytest
import torch

from llm_workshop import models
from llm_workshop.concepts import batching, decoding
from llm_workshop.course import data

pytestmark = pytest.mark.slow  # every test here builds or loads smoke stand-ins (make test-fast skips them)


@pytest.fixture(scope="module")
def lm():
    return models.load("gpt2", "smoke")


@pytest.fixture(scope="module")
def workload(lm):
    _, tokenizer = lm
    ids = tokenizer(data.load_corpus()[:20000])["input_ids"]
    return batching.mixed_workload(ids, 10, seed=0, output_range=(2, 60))


def test_paged_forward_logits_equal_the_model(lm):
    model, tokenizer = lm
    prompts = [tokenizer(t)["input_ids"] for t in ["Holmes looked at the door", "It was a dark night in London and"]]
    cache = batching.new_cache(model, num_blocks=8, block_size=4)
    got = batching.paged_forward(model, cache, [0, 1], prompts)  # two prompts, no padding, in one pass
    with torch.no_grad():
        for row, prompt in enumerate(prompts):
            torch.testing.assert_close(got[row], model(torch.tensor([prompt])).logits[0, -1], atol=1e-4, rtol=1e-4)
    step = batching.paged_forward(model, cache, [1, 0], [[5], [7]])  # then one token each, in another order
    with torch.no_grad():
        torch.testing.assert_close(step[0], model(torch.tensor([prompts[1] + [5]])).logits[0, -1], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(step[1], model(torch.tensor([prompts[0] + [7]])).logits[0, -1], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("schedule", [batching.static_batching, batching.continuous_batching])
def test_every_request_gets_its_own_greedy_tokens(lm, workload, schedule):
    model, _ = lm
    run = schedule(model, workload, batch_size=4, block_size=8)
    for request, output in zip(workload, run.outputs):
        alone = decoding.generate(model, torch.tensor([request.prompt]), request.max_new_tokens)
        assert output == alone[0, len(request.prompt) :].tolist()


def test_continuous_batching_wastes_no_steps_or_rows(lm, workload):
    model, _ = lm
    static = batching.static_batching(model, workload, batch_size=4)
    continuous = batching.continuous_batching(model, workload, batch_size=4)
    useful = sum(r.max_new_tokens for r in workload)
    assert static.new_tokens == continuous.new_tokens == useful
    assert continuous.rows == useful  # one row per generated token, nothing padded
    assert static.rows > 1.3 * useful  # finished rows kept as padding
    assert continuous.steps < 0.8 * static.steps
    assert max(continuous.blocks_in_use) <= max(static.blocks_in_use)
    assert continuous.blocks_in_use[-1] == 0, "every block returned to the pool at the end"


def test_workload_is_mixed_and_reproducible(lm):
    _, tokenizer = lm
    ids = list(range(1000))
    first, again = batching.mixed_workload(ids, 50, seed=3), batching.mixed_workload(ids, 50, seed=3)
    assert first == again
    lengths = sorted(r.max_new_tokens for r in first)
    assert 4 <= lengths[0] and lengths[-1] <= 160 and lengths[25] < 60  # mostly short, a few long


def test_bad_input(lm):
    model, _ = lm
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        batching.continuous_batching(model, [batching.Request([1, 2], 3)], batch_size=0)
    with pytest.raises(ValueError, match="need 300 positions but the model has 256"):
        batching.static_batching(model, [batching.Request([1] * 200, 100)], batch_size=1)
    with pytest.raises(ValueError, match="non-empty prompt"):
        batching.continuous_batching(model, [batching.Request([], 3)], batch_size=1)
    chat, _ = models.load("chat", "smoke")
    with pytest.raises(ValueError, match="GPT-2-architecture models"):
        batching.continuous_batching(chat, [batching.Request([1, 2], 3)], batch_size=1)
