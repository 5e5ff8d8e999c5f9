"""Exercise graders of 3.4 Alignment: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

from collections.abc import Callable

import torch

from llm_workshop.concepts.dpo import dpo_loss
from llm_workshop.concepts.ppo import kl_penalised_rewards
from llm_workshop.course.verdict import attempt, grader


@grader(
    "Each log-ratio is policy minus reference: (policy_chosen - ref_chosen) and (policy_rejected - ref_rejected).",
    "-torch.nn.functional.logsigmoid(beta * (chosen log-ratio - rejected log-ratio)).mean()",
)
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


def _kl_cases() -> list[tuple[str, tuple]]:
    """(label, (scores, logprobs, ref_logprobs, mask, kl_coef)): the toy completion, then a padded batch of three."""
    toy = TOY_KL_EXAMPLE
    one = (torch.tensor([toy["score"]]), torch.tensor([toy["logprobs"]]), torch.tensor([toy["ref_logprobs"]]),
           torch.ones(1, 3), toy["kl_coef"])  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    mask = torch.tensor([[1.0, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])
    logprobs, ref = (-3 * torch.rand(3, 4, generator=generator) * mask for _ in range(2))
    batch = (torch.tensor([1.5, -0.5, 3.0]), logprobs, ref, mask, 0.1)
    return [("the toy completion", one), ("a padded batch of three completions", batch)]


@grader(
    "Every completion token gets -kl_coef * (logprobs - ref_logprobs), times the mask so padding stays 0.",
    "Then rewards[torch.arange(batch), mask.sum(1).long() - 1] += scores: each row's score on its last real token.",
)
def check_kl_penalised_rewards(fn: Callable[..., torch.Tensor]) -> tuple[bool, str]:
    """Exercise check: `fn(scores, logprobs, ref_logprobs, mask, kl_coef)` must return the (batch, tokens) per-token
    rewards of `ppo.kl_penalised_rewards`, padded positions zero."""
    for label, case in _kl_cases():
        expected = kl_penalised_rewards(*case)[0]
        answer, error = attempt(fn, *[c.clone() if torch.is_tensor(c) else c for c in case])
        if error:
            return False, error
        got, error = attempt(torch.as_tensor, answer, dtype=torch.float32)
        if error or got.shape != expected.shape:
            return False, f"{label}: return a {tuple(expected.shape)} tensor of rewards, one per completion token"
        if torch.allclose(got, expected, atol=1e-6):
            continue
        scores, logprobs, ref, mask, kl_coef = case
        penalty = -kl_coef * (logprobs - ref) * mask
        last_column = penalty.clone()
        last_column[:, -1] += scores
        if torch.allclose(got, penalty, atol=1e-6):
            return False, f"{label}: the KL part is right; now add each completion's score on its last token."
        if torch.allclose(got, last_column, atol=1e-6):
            return False, f"{label}: a padded row ends before the last column; find its last token from the mask."
        if torch.allclose(got, expected - 2 * penalty, atol=1e-6):
            return False, f"{label}: check the sign: the penalty is -kl_coef * (logprob - ref_logprob)."
        return False, f"{label}: expected {expected.tolist()}, got {got.tolist()}"
    return True, ""
