import math

import pytest
import torch

from llm_workshop import models
from llm_workshop.concepts import metrics


class Uniform(torch.nn.Module):
    """A model that spreads probability evenly over `vocab` tokens: its perplexity is exactly `vocab`."""

    def __init__(self, vocab: int):
        super().__init__()
        self.vocab = vocab
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, labels):
        logits = torch.zeros(*input_ids.shape, self.vocab)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, self.vocab), labels[:, 1:].reshape(-1))
        return type("Out", (), {"loss": loss})()


def test_uniform_model_has_perplexity_equal_to_vocab():
    ids = torch.randint(0, 50, (300,))
    assert metrics.perplexity(Uniform(50), ids, block_size=64) == pytest.approx(50)
    assert metrics.perplexity(Uniform(50), ids, block_size=64, stride=16) == pytest.approx(50)


@pytest.mark.slow
def test_matches_one_full_window_loss():
    model, tokenizer = models.load("gpt2", "smoke")
    ids = tokenizer("Holmes looked at the door and the window of the room.", return_tensors="pt")["input_ids"][0]
    with torch.no_grad():
        expected = math.exp(model(input_ids=ids[None], labels=ids[None]).loss.item())
    assert metrics.perplexity(model, ids, block_size=128) == pytest.approx(expected, rel=1e-5)


class Recorder(Uniform):
    """A uniform model that records which labels each window scores (token id = position, so labels are positions)."""

    def __init__(self, vocab: int):
        super().__init__(vocab)
        self.scored = []

    def forward(self, input_ids, labels):
        targets = labels[0, 1:]
        self.scored += targets[targets != -100].tolist()
        return super().forward(input_ids, labels)


@pytest.mark.parametrize(("block_size", "stride"), [(64, 16), (50, 7), (64, 63)])
def test_overlapping_windows_score_every_token_once(block_size, stride):
    recorder = Recorder(300)
    metrics.perplexity(recorder, torch.arange(300), block_size=block_size, stride=stride)
    assert sorted(recorder.scored) == list(range(1, 300)), "every token after the first is scored exactly once"


def test_disjoint_windows_cannot_score_the_first_token_of_each_window():
    recorder = Recorder(300)
    metrics.perplexity(recorder, torch.arange(300), block_size=64)
    assert sorted(recorder.scored) == [i for i in range(1, 300) if i % 64], "a window's first token has no context"


@pytest.mark.slow
def test_more_context_per_token_does_not_hurt():
    model, tokenizer = models.load("gpt2", "smoke")
    ids = tokenizer(" ".join(["the door was open and the lamp was lit"] * 30), return_tensors="pt")["input_ids"][0]
    strided = metrics.perplexity(model, ids, block_size=64, stride=32)
    disjoint = metrics.perplexity(model, ids, block_size=64)
    assert strided <= disjoint * 1.05  # more context per token never hurts much, and usually helps


def test_bad_input():
    with pytest.raises(ValueError, match="two tokens"):
        metrics.perplexity(Uniform(5), torch.tensor([1]))
    with pytest.raises(ValueError, match="stride"):
        metrics.perplexity(Uniform(5), torch.arange(5), block_size=4, stride=8)
