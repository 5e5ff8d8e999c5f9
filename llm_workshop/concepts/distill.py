"""Knowledge distillation: a small student learns from a teacher's whole next-token distribution, not just the label.

The loss is Hinton et al.'s: T^2 * KL(teacher || student), both softened by a temperature T. `train_student`
trains on hard labels (cross-entropy) or on a teacher's soft targets with the same batches, so the two compare fairly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from llm_workshop.concepts import training


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 2.0
) -> torch.Tensor:
    """T^2 * KL(softmax(teacher / T) || softmax(student / T)), averaged over positions (the T^2 keeps gradients
    the same size whatever T)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}; 1 leaves the distributions as they are")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student and teacher logits must have the same shape (same vocabulary), got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    teacher_logp = F.log_softmax(teacher_logits.float() / temperature, dim=-1)
    student_logp = F.log_softmax(student_logits.float() / temperature, dim=-1)
    kl = (teacher_logp.exp() * (teacher_logp - student_logp)).sum(-1)
    return kl.mean() * temperature**2


def train_student(
    student,
    tokenizer,
    text: str,
    steps: int,
    teacher=None,
    temperature: float = 2.0,
    seq_len: int = 64,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = False,
) -> list[float]:
    """Train `student` for `steps` AdamW steps on random windows of `text`; returns the loss per step.

    Without `teacher`: cross-entropy on the next token (hard labels). With one: `distillation_loss` against the
    teacher's logits. The windows depend only on `seed`, so both variants see exactly the same batches.
    """
    ids = torch.tensor(tokenizer(text)["input_ids"]).to(next(student.parameters()).device)
    if teacher is not None:
        teacher.eval()

    def loss_fn(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if teacher is None:
            return model(**batch).loss
        with torch.no_grad():
            teacher_logits = teacher(input_ids=batch["input_ids"]).logits
        return distillation_loss(model(input_ids=batch["input_ids"]).logits, teacher_logits, temperature)

    batches = training.random_windows(ids, steps, batch_size, seq_len, seed)
    desc = "distil" if teacher is not None else "hard labels"
    batches = tqdm(batches, total=steps, desc=desc, disable=not progress)
    return training.fit(student, batches, steps, lr, loss_fn=loss_fn)
