"""The plain training loop the notebooks and the smoke builders share, the seeded random batches it eats, and the
completion-only labels supervised fine-tuning trains on.

One step is: loss, backward, optional gradient clipping, optimizer (and scheduler) step, zero the gradients.
Notebooks whose lesson is the loop itself (PPO in 3.4, one measured Adam step in 3.1) write theirs out.
`early_stopping` is the rule that decides, from the validation losses, when such a loop should stop (2.1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import torch
from torch import nn


def random_rows(n: int, steps: int, batch_size: int, seed: int = 0) -> Iterator[torch.Tensor]:
    """`steps` batches of `batch_size` row indices drawn uniformly from range(n), by a generator seeded with `seed`."""
    if n < 1 or steps < 0 or batch_size < 1:
        raise ValueError(f"need n >= 1 rows, steps >= 0 and batch_size >= 1; got n={n}, {steps=}, {batch_size=}")
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        yield torch.randint(0, n, (batch_size,), generator=generator)


def random_windows(
    ids: torch.Tensor, steps: int, batch_size: int, seq_len: int, seed: int = 0
) -> Iterator[dict[str, torch.Tensor]]:
    """Causal-LM batches {input_ids, labels} (labels = inputs) of `batch_size` random `seq_len`-token windows of `ids`.

    The batches live on `ids`' device.
    """
    if len(ids) < seq_len + 2:
        raise ValueError(f"ids has {len(ids)} tokens; windows of seq_len={seq_len} need at least {seq_len + 2}")
    for starts in random_rows(len(ids) - seq_len - 1, steps, batch_size, seed):
        batch = torch.stack([ids[s : s + seq_len] for s in starts])
        yield {"input_ids": batch, "labels": batch}


def step(
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    max_grad_norm: float | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> float:
    """One update from `loss`: backward, clip the gradient norm of the optimizer's parameters, step, zero the grads."""
    loss.backward()
    if max_grad_norm is not None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    optimizer.zero_grad()
    return loss.item()


def train(
    model: nn.Module,
    batches: Iterable,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[nn.Module, object], torch.Tensor] | None = None,
    max_grad_norm: float | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> list[float]:
    """One `step` per batch in training mode; returns the loss of every step and leaves the model in eval mode.

    The loss is `model(**batch).loss` (a dict of model inputs with labels), or `loss_fn(model, batch)`.
    """
    model.train()
    losses = []
    for batch in batches:
        loss = model(**batch).loss if loss_fn is None else loss_fn(model, batch)
        losses.append(step(optimizer, loss, max_grad_norm, scheduler))
    model.eval()
    return losses


def fit(
    model: nn.Module,
    batches: Iterable,
    steps: int,
    lr: float = 3e-3,
    warmup: int = 0,
    cosine: bool = True,
    weight_decay: float = 0.01,
    max_grad_norm: float | None = 1.0,
    loss_fn: Callable[[nn.Module, object], torch.Tensor] | None = None,
) -> list[float]:
    """The course's training recipe: AdamW on the parameters that require grad over `steps` batches, the learning
    rate warmed up linearly for `warmup` steps and cosine-decayed to 0 (or constant), gradients clipped; the losses."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)

    def factor(step: int) -> float:
        ramp = min(1.0, (step + 1) / warmup) if warmup else 1.0
        return ramp * (0.5 * (1 + math.cos(math.pi * step / steps)) if cosine else 1.0)

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return train(model, batches, optimizer, loss_fn, max_grad_norm=max_grad_norm, scheduler=schedule)


def pretrain_causal_lm(
    model: nn.Module,
    tokenizer,
    text: str,
    steps: int = 300,
    seq_len: int = 64,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """`fit` `model` on random `seq_len`-token windows of `text` (on the model's device); the loss per step."""
    ids = torch.tensor(tokenizer(text)["input_ids"]).to(next(model.parameters()).device)
    return fit(model, random_windows(ids, steps, batch_size, seq_len, seed), steps, lr)


def early_stopping(val_losses: Sequence[float], patience: int) -> tuple[int, int | None]:
    """(index of the best validation loss, index of the evaluation after which training stops, or None if it never does).

    The rule of transformers' `EarlyStoppingCallback`: an evaluation that is not strictly better than the best so far
    adds one to a counter, a better one resets it, and training stops when the counter reaches `patience`.
    """
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be a positive int (evaluations without improvement), got {patience!r}")
    if len(val_losses) == 0:
        raise ValueError("val_losses is empty; pass the validation loss of every evaluation, in order")
    best, waited = 0, 0
    for i, loss in enumerate(val_losses):
        if loss < val_losses[best]:
            best, waited = i, 0
        elif i > 0:
            waited += 1
            if waited >= patience:
                return best, i
    return best, None


def completion_labels(prompt_ids: list[int], completion_ids: list[int]) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for training on the completion only: the prompt's labels are -100, which the loss skips."""
    return prompt_ids + completion_ids, [-100] * len(prompt_ids) + completion_ids


def checkpointing_args(enabled: bool) -> dict[str, bool]:
    """The training-arguments switch of activation (gradient) checkpointing under the name this transformers knows:
    `activation_checkpointing` from 5.2x on (where the old `gradient_checkpointing` warns that it is deprecated),
    `gradient_checkpointing` before (Colab's 5.15). TRL's configs turn it on by default."""
    from transformers import TrainingArguments

    new = hasattr(TrainingArguments, "activation_checkpointing")
    return {"activation_checkpointing" if new else "gradient_checkpointing": enabled}


def enable_checkpointing(model: nn.Module) -> nn.Module:
    """Turn on activation checkpointing with the method this transformers has (`activation_checkpointing_enable`,
    or `gradient_checkpointing_enable` before 5.2x); returns the model."""
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()
    return model
