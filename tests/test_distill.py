"""Distillation: the loss is T^2 * KL(teacher || student) as torch computes it; training on it pulls the student
towards the teacher; hard and soft training see the same batches."""

import pytest
import torch
import torch.nn.functional as F

from llm_workshop import models
from llm_workshop.concepts import distill
from llm_workshop.course import data


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0])
def test_loss_matches_torch_kl_div(temperature):
    generator = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(2, 5, 30, generator=generator), torch.randn(2, 5, 30, generator=generator) * 2
    expected = (
        F.kl_div(
            F.log_softmax(student.view(-1, 30) / temperature, -1),
            F.log_softmax(teacher.view(-1, 30) / temperature, -1),
            log_target=True,
            reduction="batchmean",
        )
        * temperature**2
    )
    torch.testing.assert_close(distill.distillation_loss(student, teacher, temperature), expected)
    assert distill.distillation_loss(teacher, teacher, temperature).abs() < 1e-6


def test_bad_input():
    logits = torch.zeros(1, 2, 5)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        distill.distillation_loss(logits, logits, 0)
    with pytest.raises(ValueError, match="same shape"):
        distill.distillation_loss(logits, torch.zeros(1, 2, 6))


@pytest.mark.slow
def test_soft_targets_pull_the_student_towards_the_teacher(tiny_gpt2):
    teacher, tokenizer = models.load("gpt2", "smoke")
    text = data.news_text()[:20000]
    batch = torch.tensor(tokenizer(text[-2000:])["input_ids"][:64])[None]
    student = tiny_gpt2(vocab_size=len(tokenizer), n_layer=1, n_positions=64)

    def gap():
        with torch.no_grad():
            return distill.distillation_loss(student(batch).logits, teacher(batch).logits, 1.0).item()

    before = gap()
    losses = distill.train_student(student, tokenizer, text, steps=30, teacher=teacher, temperature=2.0, batch_size=8)
    assert sum(losses[-5:]) < sum(losses[:5])
    assert gap() < 0.8 * before


@pytest.mark.slow
def test_hard_and_soft_runs_are_reproducible(tiny_gpt2):
    teacher, tokenizer = models.load("gpt2", "smoke")
    text = data.news_text()[:5000]
    runs = [
        distill.train_student(
            tiny_gpt2(vocab_size=len(tokenizer), n_layer=1, n_positions=64), tokenizer, text, steps=5, batch_size=4
        )
        for _ in "ab"
    ]
    assert runs[0] == runs[1]
    assert runs[0][-1] < runs[0][0]
