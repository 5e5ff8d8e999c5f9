"""DPO's loss from summed completion log-probabilities: the "sigmoid" loss TRL's `DPOTrainer` computes by default."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
