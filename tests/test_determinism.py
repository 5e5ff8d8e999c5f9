"""Two runs of the same seeded smoke training give identical numbers."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from llm_workshop import models
from llm_workshop.concepts import training
from llm_workshop.course import data, runtime

pytestmark = pytest.mark.slow  # every test here builds or loads smoke stand-ins (make test-fast skips them)


def short_training() -> tuple[list[float], torch.Tensor]:
    runtime.seed_everything(0)
    path = models.smoke_path("gpt2")
    model = AutoModelForCausalLM.from_pretrained(path)
    _, tokenizer = models.load("gpt2", "smoke")
    losses = training.pretrain_causal_lm(model, tokenizer, data.news_text()[:20_000], steps=6, seq_len=32, batch_size=4)
    return losses, model.transformer.wte.weight.detach().clone()


def test_two_runs_are_identical():
    losses_a, weights_a = short_training()
    losses_b, weights_b = short_training()
    assert losses_a == losses_b
    assert torch.equal(weights_a, weights_b)
    assert losses_a[-1] < losses_a[0]
