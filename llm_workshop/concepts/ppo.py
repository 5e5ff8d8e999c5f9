"""PPO for language models, from scratch: sample completions, score them, penalise the per-token KL to a frozen
reference, estimate advantages with GAE, and take clipped policy and value steps.

TRL no longer ships a PPO trainer, so 3.4 reads this one. The loss pieces are small functions so tests can pin
them to hand-computed values; `ppo_train` puts them together in one screen.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from llm_workshop.concepts import training
from llm_workshop.concepts.decoding import generation_kwargs
from llm_workshop.concepts.logprobs import gather_logprobs

# --- the loss pieces -----------------------------------------------------------------------------


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `x` over the positions where `mask` is 1."""
    return (x * mask).sum() / mask.sum().clamp(min=1)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Shift and scale `x` to mean 0 and variance 1 over the masked positions (padding stays 0)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    return (x - mean) * torch.rsqrt(var + eps) * mask


def kl_penalised_rewards(
    scores: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor, mask: torch.Tensor, kl_coef: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token rewards r_t = -kl_coef * (log pi - log pi_ref), plus the reward model's score on the last token.

    Returns (rewards, kl) with `kl` the per-token log-ratio; padding positions (mask 0) are zero in both.
    """
    if logprobs.shape != ref_logprobs.shape or logprobs.shape != mask.shape:
        raise ValueError(
            f"logprobs {tuple(logprobs.shape)}, ref_logprobs {tuple(ref_logprobs.shape)} and mask "
            f"{tuple(mask.shape)} must have the same (batch, tokens) shape"
        )
    kl = (logprobs - ref_logprobs) * mask
    rewards = -kl_coef * kl
    last = mask.sum(dim=1).long() - 1
    if (last < 0).any():
        raise ValueError("every completion needs at least one token in its mask")
    rewards[torch.arange(len(last), device=rewards.device), last] += scores.to(rewards.device, rewards.dtype)
    return rewards, kl


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over completion tokens, right to left; returns (advantages, returns).

    delta_t = r_t + gamma * V_{t+1} - V_t and A_t = delta_t + gamma * lam * A_{t+1}, with V = 0 after the end.
    """
    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    steps = rewards.shape[1]
    for t in reversed(range(steps)):
        next_value = values[:, t + 1] if t + 1 < steps else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running
        advantages[:, t] = running
    advantages = advantages * mask
    return advantages, (advantages + values) * mask


def policy_loss(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, clip: float = 0.2
) -> torch.Tensor:
    """PPO's clipped surrogate: mean over tokens of max(-A * ratio, -A * clip(ratio, 1 - clip, 1 + clip))."""
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip, 1 + clip)
    return masked_mean(torch.maximum(unclipped, clipped), mask)


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, clip: float = 0.2
) -> torch.Tensor:
    """Clipped value loss: 0.5 * mean of max((V - R)^2, (V_old + clip(V - V_old) - R)^2)."""
    clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    return 0.5 * masked_mean(torch.maximum((values - returns) ** 2, (clipped - returns) ** 2), mask)


class ValueHead(nn.Module):
    """The critic: one linear layer from the policy's last hidden state to a scalar value per token."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.linear = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden).squeeze(-1)


# --- settings and sampling ---------------------------------------------------------------------


@dataclass
class PPOConfig:
    """PPO settings; the defaults suit the smoke tier (a ~1M-parameter policy, a few seconds of training)."""

    steps: int = 20  # rollouts: sample a batch, score it, update
    batch_size: int = 16  # prompts per rollout
    minibatch_size: int = 8
    ppo_epochs: int = 4  # passes over each rollout
    max_new_tokens: int = 12
    learning_rate: float = 1e-3
    kl_coef: float = 0.1  # beta: strength of the leash to the reference model
    gamma: float = 1.0
    lam: float = 0.95
    clip_range: float = 0.2
    clip_range_value: float = 0.2
    vf_coef: float = 0.1
    max_grad_norm: float = 1.0
    temperature: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.batch_size % self.minibatch_size:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of minibatch_size ({self.minibatch_size})"
            )
        if self.kl_coef < 0 or self.temperature <= 0:
            raise ValueError("kl_coef must be >= 0 and temperature > 0")


@dataclass
class Rollout:
    """One batch of sampled completions with everything PPO needs; tensors are (batch, completion tokens)."""

    prompts: list[str]
    completions: list[str]
    input_ids: torch.Tensor  # prompt (left-padded) + completion (right-padded)
    attention_mask: torch.Tensor
    prompt_len: int
    mask: torch.Tensor  # 1 on completion tokens up to and including the first end-of-sequence token
    logprobs: torch.Tensor
    ref_logprobs: torch.Tensor
    scores: torch.Tensor


def _reference(policy, ref_policy):
    """(context, model): under `context`, `model` gives the reference log-probs (LoRA: adapters switched off)."""
    if ref_policy is not None:
        return contextlib.nullcontext(), ref_policy
    if hasattr(policy, "disable_adapter"):
        return policy.disable_adapter(), policy
    raise ValueError(
        "ref_policy is None but the policy has no adapters to disable: pass a frozen copy of the starting "
        "model as ref_policy, or wrap the policy with peft (LoRA) so its base model serves as the reference."
    )


def _forward(model, input_ids, attention_mask, prompt_len: int, temperature: float, value_head=None):
    """Log-probs of the completion tokens (and values, given a head) under `model`."""
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    out = model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        position_ids=position_ids,
        output_hidden_states=value_head is not None,
    )
    logprobs = gather_logprobs(out.logits[:, prompt_len - 1 : -1].float() / temperature, input_ids[:, prompt_len:])
    if value_head is None:
        return logprobs, None
    return logprobs, value_head(out.hidden_states[-1][:, prompt_len - 1 : -1].float())


def _pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def _left_pad(rows: list[list[int]], pad_id: int, device) -> dict[str, torch.Tensor]:
    """Left-pad token lists into input_ids and attention_mask, so every completion starts at the same column."""
    if any(not row for row in rows):
        raise ValueError("every prompt must have at least one token; got an empty prompt")
    width = max(len(row) for row in rows)
    ids = torch.tensor([[pad_id] * (width - len(row)) + row for row in rows], device=device)
    mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows], device=device)
    return {"input_ids": ids, "attention_mask": mask}


@torch.no_grad()
def rollout(
    policy, tokenizer, prompts: Sequence[str], reward_fn, ref_policy=None, max_new_tokens: int = 12, temperature=1.0
) -> Rollout:
    """Sample one completion per prompt, score it with `reward_fn`, and record policy and reference log-probs.

    The policy stays in eval mode (no dropout) here and while PPO trains, so the ratio pi/pi_old starts at 1.
    """
    device = next(policy.parameters()).device
    policy.eval()
    pad_id, eos_id = _pad_id(tokenizer), tokenizer.eos_token_id
    query = _left_pad(tokenizer(list(prompts), add_special_tokens=False)["input_ids"], pad_id, device)
    sequences = policy.generate(
        **query, max_new_tokens=max_new_tokens, **generation_kwargs(pad_id, eos_id, temperature)
    )
    prompt_len = query["input_ids"].shape[1]
    completion = sequences[:, prompt_len:]
    is_eos = (completion == eos_id).long()
    mask = ((is_eos.cumsum(-1) - is_eos) == 0).long()  # up to and including the first end-of-sequence token
    attention_mask = torch.cat([query["attention_mask"], mask], dim=1)
    texts = tokenizer.batch_decode(completion * mask + pad_id * (1 - mask), skip_special_tokens=True)
    scores = torch.as_tensor(reward_fn(list(prompts), texts), dtype=torch.float32, device=device)
    logprobs, _ = _forward(policy, sequences, attention_mask, prompt_len, temperature)
    context, ref_model = _reference(policy, ref_policy)
    with context:
        ref_logprobs, _ = _forward(ref_model, sequences, attention_mask, prompt_len, temperature)
    return Rollout(
        list(prompts), texts, sequences, attention_mask, prompt_len, mask.float(), logprobs, ref_logprobs, scores
    )


# --- the loop ------------------------------------------------------------------------------------


def ppo_train(
    policy,
    ref_policy,
    reward_fn: Callable,
    prompts: Sequence[str],
    config: PPOConfig,
    tokenizer,
    progress: bool = True,
    penalised_rewards: Callable[..., torch.Tensor] | None = None,
) -> tuple[list[dict[str, float]], ValueHead]:
    """Optimise `policy` with PPO against `reward_fn(prompts, completions)` with a KL penalty to `ref_policy`.

    `ref_policy=None` with a peft (LoRA) policy uses the base model with adapters disabled as the reference.
    `penalised_rewards(scores, logprobs, ref_logprobs, mask, kl_coef)` makes the per-token rewards (default: the first
    result of `kl_penalised_rewards`; 3.4 plugs in the learner's own). Returns one log dict per step (mean score, KL,
    losses, ...) and the trained value head.
    """
    if not prompts:
        raise ValueError("ppo_train needs at least one prompt")
    _reference(policy, ref_policy)  # fail early without a usable reference
    trainable = [p for p in policy.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the policy has no trainable parameters (requires_grad is False everywhere)")
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    value_head = ValueHead(policy.config.get_text_config().hidden_size).to(next(policy.parameters()).device)
    optimizer = torch.optim.Adam(trainable + list(value_head.parameters()), lr=config.learning_rate)
    optimizer.zero_grad()  # no gradients left over from earlier training; each update then zeroes its own
    logs = []
    steps = tqdm(range(config.steps), desc=f"PPO (kl_coef={config.kl_coef})", disable=not progress)
    for step in steps:
        batch_prompts = [rng.choice(prompts) for _ in range(config.batch_size)]
        roll = rollout(
            policy, tokenizer, batch_prompts, reward_fn, ref_policy, config.max_new_tokens, config.temperature
        )
        ids, attention, mask = roll.input_ids, roll.attention_mask, roll.mask
        with torch.no_grad():
            _, old_values = _forward(policy, ids, attention, roll.prompt_len, config.temperature, value_head)
            rewards, kl = kl_penalised_rewards(roll.scores, roll.logprobs, roll.ref_logprobs, mask, config.kl_coef)
            if penalised_rewards is not None:  # on copies: a function that writes into its inputs changes nothing here
                inputs = (t.clone() for t in (roll.scores, roll.logprobs, roll.ref_logprobs, mask))
                rewards = torch.as_tensor(penalised_rewards(*inputs, config.kl_coef)).to(rewards)
            advantages, returns = gae(rewards, old_values, mask, config.gamma, config.lam)
            advantages = masked_whiten(advantages, mask)
        stats = []  # (policy loss, value loss, fraction of clipped ratios) of every minibatch update
        for _ in range(config.ppo_epochs):
            order = torch.randperm(config.batch_size)
            for start in range(0, config.batch_size, config.minibatch_size):
                idx = order[start : start + config.minibatch_size]
                logprobs, values = _forward(
                    policy, ids[idx], attention[idx], roll.prompt_len, config.temperature, value_head
                )
                pg = policy_loss(logprobs, roll.logprobs[idx], advantages[idx], mask[idx], config.clip_range)
                vf = value_loss(values, old_values[idx], returns[idx], mask[idx], config.clip_range_value)
                training.step(optimizer, pg + config.vf_coef * vf, config.max_grad_norm)
                clipped = (torch.exp(logprobs.detach() - roll.logprobs[idx]) - 1).abs() > config.clip_range
                stats.append((pg.item(), vf.item(), masked_mean(clipped.float(), mask[idx]).item()))
        mean_pg, mean_vf, clip_fraction = (sum(column) / len(stats) for column in zip(*stats))
        logs.append(
            {
                "step": step,
                "reward": roll.scores.mean().item(),
                "kl": kl.sum(1).mean().item(),
                "penalised_reward": rewards.sum(1).mean().item(),
                "completion_tokens": mask.sum(1).mean().item(),
                "policy_loss": mean_pg,
                "value_loss": mean_vf,
                "clip_fraction": clip_fraction,
            }
        )
        steps.set_postfix(reward=f"{logs[-1]['reward']:.2f}", kl=f"{logs[-1]['kl']:.2f}")
    policy.eval()
    return logs, value_head


@torch.no_grad()
def evaluate_policy(
    policy, tokenizer, prompts: Sequence[str], reward_fn, ref_policy=None, max_new_tokens: int = 12, seed: int = 0
) -> dict:
    """Sample one completion per prompt (seeded) and return completions, scores and sequence KL to the reference.

    Without a reference (and no adapters), the KL is reported as zeros: the policy is its own reference.
    """
    torch.manual_seed(seed)
    if ref_policy is None and not hasattr(policy, "disable_adapter"):
        ref_policy = policy
    roll = rollout(policy, tokenizer, prompts, reward_fn, ref_policy, max_new_tokens)
    kl = ((roll.logprobs - roll.ref_logprobs) * roll.mask).sum(1)
    return {"completions": roll.completions, "scores": roll.scores.cpu(), "kl": kl.cpu()}


# --- the exercise -----------------------------------------------------------------------------
