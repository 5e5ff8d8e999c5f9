"""Fine-tuning without forgetting: a penalty that pulls the weights back towards where fine-tuning started.

L2-SP (Li et al. 2018) adds (λ/2) Σ (θ_i − θ0_i)² to the new task's loss, every weight pulled alike. EWC (elastic
weight consolidation, Kirkpatrick et al. 2017) weights each term by F_i, the diagonal of the Fisher information on the
old task, so the weights the old task needed most move least. Replay, the other remedy 3.2 shows, needs the old data
during fine-tuning; these penalties need only the starting weights (and, for EWC, one pass over some old data).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of every trainable weight of `model`: θ0, the point the penalty pulls back to."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def fisher_diagonal(model: nn.Module, batches: Iterable[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """EWC's importance of each trainable weight for the old task: the squared gradient of the old task's loss,
    averaged over `batches` (the empirical Fisher, from mini-batch gradients), normalised to a mean of 1."""
    fisher = {name: torch.zeros_like(p) for name, p in model.named_parameters() if p.requires_grad}
    n = 0
    model.eval()  # no dropout: the gradients of the model as it stands
    for batch in batches:
        model.zero_grad()
        model(**batch).loss.backward()
        for name, p in model.named_parameters():
            if name in fisher and p.grad is not None:
                fisher[name] += p.grad.detach() ** 2
        n += 1
    model.zero_grad()
    if n == 0:
        raise ValueError("fisher_diagonal needs at least one batch of the old task's data")
    mean = sum(f.sum() for f in fisher.values()) / sum(f.numel() for f in fisher.values())
    return {name: f / mean for name, f in fisher.items()}  # the average over batches, scaled to a mean of 1


def anchor_penalty(
    model: nn.Module, anchor: dict[str, torch.Tensor], importance: dict[str, torch.Tensor] | None = None
) -> torch.Tensor:
    """Σ_i F_i (θ_i − θ0_i)² over the weights in `anchor`: L2-SP with `importance=None` (F_i = 1), EWC with the
    Fisher diagonal. Add (λ/2) times it to the new task's loss."""
    params = dict(model.named_parameters())
    missing = [name for name in anchor if name not in params]
    if missing:
        raise ValueError(f"the anchor names weights the model lacks ({missing[:3]}); take it with snapshot(model)")
    total = next(iter(params.values())).new_zeros(())
    for name, start in anchor.items():
        squared = (params[name] - start) ** 2
        total = total + (squared if importance is None else importance[name] * squared).sum()
    return total
