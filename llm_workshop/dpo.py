"""DPO's loss from summed completion log-probabilities: the "sigmoid" loss TRL's `DPOTrainer` computes by default."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from llm_workshop.exercises import attempt, verdict


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
) -> torch.Tensor:
    """Mean of -log sigmoid(beta * (chosen log-ratio - rejected log-ratio)); each input is log p(completion | prompt)
    summed over the completion's tokens, one value per pair."""
    if not beta > 0:
        raise ValueError(f"beta must be > 0 (it sets how far the policy may move from the reference), got {beta}")
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()


def check_dpo_loss(fn: Callable[..., torch.Tensor | float]) -> bool:
    """Exercise check: `fn(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)` must return `dpo_loss`."""
    generator = torch.Generator().manual_seed(0)
    logps = [-20 * torch.rand(4, generator=generator) for _ in range(4)]
    cases = [(logps, 0.1), (logps, 0.5), ([torch.zeros(2)] * 4, 0.1)]  # no preference yet: log 2
    for tensors, beta in cases:
        answer, error = attempt(fn, *[t.clone() for t in tensors], beta)
        if error:
            return verdict(False, error)
        expected = dpo_loss(*tensors, beta=beta)
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return verdict(False, f"return one number (the mean loss over the pairs), got {type(answer).__name__}")
        if abs(value - expected.item()) > 1e-5:
            return verdict(
                False, f"beta={beta}: expected {expected.item():.4f}, got {value:.4f}; average over the pairs"
            )
    return verdict(True)
