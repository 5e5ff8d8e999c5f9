"""Evaluation metrics written out: perplexity (and, in module_02, ROUGE and BLEU)."""

from __future__ import annotations

import math

import torch


@torch.no_grad()
def perplexity(model, input_ids: torch.Tensor, block_size: int = 128, stride: int | None = None) -> float:
    """exp(mean next-token cross-entropy) of `model` over a 1-D token sequence, in windows of `block_size`.

    With `stride < block_size` the windows overlap and only the new tokens of each window are scored,
    so every token is predicted once with up to `block_size - stride` tokens of context.
    """
    ids = input_ids.flatten()
    if ids.numel() < 2:
        raise ValueError("perplexity needs at least two tokens")
    stride = stride or block_size
    if not 0 < stride <= block_size:
        raise ValueError(f"stride must be in (0, block_size], got {stride}")
    device = next(model.parameters()).device
    model.eval()
    total_nll, total_tokens, scored_until = 0.0, 0, 0
    for start in range(0, ids.numel() - 1, stride):
        window = ids[start : start + block_size].to(device)
        if window.numel() < 2:
            break
        labels = window.clone()
        new_from = max(scored_until - start, 1)  # tokens before this were scored by an earlier window
        labels[:new_from] = -100
        n_scored = int((labels[1:] != -100).sum())
        if n_scored == 0:
            continue
        loss = model(input_ids=window.unsqueeze(0), labels=labels.unsqueeze(0)).loss
        total_nll += loss.item() * n_scored
        total_tokens += n_scored
        scored_until = start + window.numel()
    return math.exp(total_nll / total_tokens)
