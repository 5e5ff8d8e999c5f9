"""Exercise graders of 3.4 Alignment: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

from collections.abc import Callable

import torch

from llm_workshop.concepts.dpo import dpo_loss
from llm_workshop.concepts.ppo import kl_penalised_rewards
from llm_workshop.course.verdict import attempt, grader


@grader()
def check_dpo_loss(fn: Callable[..., torch.Tensor | float]) -> tuple[bool, str]:
    """Exercise check: `fn(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)` must return `dpo_loss`."""
    generator = torch.Generator().manual_seed(0)
    logps = [-20 * torch.rand(4, generator=generator) for _ in range(4)]
    cases = [(logps, 0.1), (logps, 0.5), ([torch.zeros(2)] * 4, 0.1)]  # no preference yet: log 2
    for tensors, beta in cases:
        answer, error = attempt(fn, *[t.clone() for t in tensors], beta)
        if error:
            return False, error
        expected = dpo_loss(*tensors, beta=beta)
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return False, f"return one number (the mean loss over the pairs), got {type(answer).__name__}"
        if abs(value - expected.item()) > 1e-5:
            return False, f"beta={beta}: expected {expected.item():.4f}, got {value:.4f}; average over the pairs"
    return True, ""


TOY_KL_EXAMPLE = {
    "score": 2.0,
    "logprobs": [-1.0, -0.5, -2.0],
    "ref_logprobs": [-1.5, -0.5, -1.0],
    "kl_coef": 0.2,
}


@grader()
def check_kl_penalised_reward(answer, example: dict | None = None) -> tuple[bool, str]:
    """Exercise: the per-token KL-penalised rewards for one completion (default: `TOY_KL_EXAMPLE`)."""
    example = example or TOY_KL_EXAMPLE
    logprobs = torch.tensor([example["logprobs"]], dtype=torch.float64)
    ref = torch.tensor([example["ref_logprobs"]], dtype=torch.float64)
    score = torch.tensor([example["score"]], dtype=torch.float64)
    expected = kl_penalised_rewards(score, logprobs, ref, torch.ones_like(logprobs), example["kl_coef"])[0][0]
    got, error = attempt(torch.as_tensor, answer, dtype=torch.float64)
    if error:
        return False, "Return a list (or tensor) of numbers, one reward per completion token."
    got = got.flatten()
    if got.shape != expected.shape:
        return False, f"Expected {len(expected)} rewards, one per completion token; got {got.numel()}."
    if torch.allclose(got, expected, atol=1e-6):
        return True, ""
    no_score = expected.clone()
    no_score[-1] -= example["score"]
    if torch.allclose(got, no_score, atol=1e-6):
        return False, "The KL part looks right; now add the reward model's score to the last token."
    wrong_sign = -no_score
    wrong_sign[-1] += example["score"]
    if torch.allclose(got, wrong_sign, atol=1e-6):
        return False, "Check the sign: the penalty is -kl_coef * (logprob - ref_logprob)."
    return False, "r_t = -kl_coef * (logprob_t - ref_logprob_t) for every token, plus the score on the last one."
