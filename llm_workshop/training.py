"""The plain training loop the notebooks and the smoke builders share, the seeded random batches it eats, and the
completion-only labels supervised fine-tuning trains on.

One step is: loss, backward, optional gradient clipping, optimizer (and scheduler) step, zero the gradients.
Notebooks whose lesson is the loop itself (PPO in 3.4, one measured Adam step in 3.1) write theirs out.
`early_stopping` is the rule that decides, from the validation losses, when such a loop should stop (2.1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import torch
from torch import nn

from llm_workshop.exercises import attempt, verdict


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


# Validation curves the early-stopping exercise is checked on, with the patience to use for each.
EARLY_STOPPING_CASES = (
    ([3.0, 2.5, 2.2, 2.3, 2.4, 2.5, 2.6], 2),  # a clean minimum, then overfitting
    ([3.0, 2.8, 2.9, 2.7, 2.75, 2.8, 2.9, 3.0], 2),  # a bump that patience 2 survives
    ([3.0, 2.8, 2.9, 2.7, 2.75, 2.8, 2.9, 3.0], 1),  # the same bump stops patience 1 too early
    ([2.0, 2.0, 2.0, 2.0], 2),  # equal is not better
    ([3.0, 2.0, 1.5, 1.2], 2),  # still improving: never stops
)


def check_early_stopping(fn: Callable[[Sequence[float], int], tuple[int, int | None]]) -> bool:
    """Exercise check: `fn(val_losses, patience)` must return what `early_stopping` returns on `EARLY_STOPPING_CASES`."""
    for losses, patience in EARLY_STOPPING_CASES:
        expected = early_stopping(losses, patience)
        got, error = attempt(fn, list(losses), patience)
        if error:
            return verdict(False, error)
        if not isinstance(got, (tuple, list)) or tuple(got) != expected:
            return verdict(False, f"val_losses={losses}, patience={patience}: expected {expected}, got {got!r}")
    return verdict(True)


def completion_labels(prompt_ids: list[int], completion_ids: list[int]) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for training on the completion only: the prompt's labels are -100, which the loss skips."""
    return prompt_ids + completion_ids, [-100] * len(prompt_ids) + completion_ids


def check_completion_labels(fn: Callable[[list[int], list[int]], tuple[list[int], list[int]]]) -> bool:
    """Exercise check: `fn(prompt_ids, completion_ids)` must return (input_ids, labels) as `completion_labels` does."""
    for prompt, completion in [([5, 6, 7], [8, 9]), ([1], [2, 3, 4, 0]), ([11, 12], [13])]:
        answer, error = attempt(fn, list(prompt), list(completion))
        if error:
            return verdict(False, error)
        expected = completion_labels(prompt, completion)
        try:
            got = tuple(list(map(int, part)) for part in answer)
        except (TypeError, ValueError):  # not a pair of id sequences
            got = None
        if got != expected:
            return verdict(
                False,
                f"prompt {prompt}, completion {completion}: expected {expected}, got {answer!r}; the model sees "
                "prompt + completion, and every prompt position's label is -100",
            )
    return verdict(True)
