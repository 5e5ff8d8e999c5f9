"""Alignment: preference data, reward scoring, PPO from scratch with a KL leash, and DPO margins.

TRL no longer ships a PPO trainer, so PPO is written out here: sample completions, score them,
penalise the per-token KL to a frozen reference, estimate advantages with GAE, and take clipped
policy and value steps. The loss pieces are small functions so tests can pin them to hand-computed values.
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from llm_workshop.exercises import verdict
from llm_workshop.logprobs import completion_logprobs
from llm_workshop.runtime import check_tier

# --- preference data and a programmatic reward -------------------------------------------------

# A sentiment lexicon. The smoke tier's "human preference" is: more of the first list, less of the second.
POSITIVE_WORDS = frozenset(
    "good great best better wonderful excellent beautiful lovely fine pleasant brilliant delightful charming "
    "superb perfect happy kind gentle love hope peace friend success safe enjoy glad".split()
)
NEGATIVE_WORDS = frozenset(
    "bad worst worse terrible awful boring poor dull ugly horrible sad weak stupid dreadful hate fear "
    "dead death killed kill attack bomb war terror violence crash fail".split()
)
REVIEW_OPENERS = (
    "The movie was",
    "This film is",
    "I watched it and",
    "The acting was",
    "The story of this film",
    "My friend said the movie",
    "The ending was",
    "This picture is",
    "I thought the plot",
    "The music in this film",
    "Honestly, the film",
    "The cast was",
)
_SUBJECTS = ("the story", "the acting", "the ending", "the music", "every scene", "the cast", "the plot")
_ADJ_POS = ("good", "great", "wonderful", "excellent", "beautiful", "lovely", "brilliant", "perfect", "pleasant")
_ADJ_NEG = ("bad", "terrible", "awful", "boring", "poor", "dull", "horrible", "stupid", "dreadful")
_TEMPLATES = (
    " {a}, and {s} was {b}.",
    " a {a} film with a {b} ending.",
    " {a} from start to finish; {s} felt {b}.",
    " really {a}. I found {s} {b}.",
    " {a} and {b}, and {s} was {a} too.",
    " not what I expected: {a}, with {s} {b}.",
)
_WORD = re.compile(r"[a-z]+")


def lexicon_score(text: str) -> float:
    """Positive-lexicon words minus negative-lexicon words in `text` (lower-cased): the smoke tier's true reward."""
    words = _WORD.findall(text.lower())
    return float(sum(w in POSITIVE_WORDS for w in words) - sum(w in NEGATIVE_WORDS for w in words))


def lexicon_reward(prompts: Sequence[str], completions: Sequence[str], **_: object) -> list[float]:
    """The programmatic reward for a batch: the lexicon score of each completion (prompts are not scored)."""
    return [lexicon_score(c) for c in completions]


def review_prompts(n: int, seed: int = 0) -> list[str]:
    """`n` short review openers (IMDB-style prompts for the smoke tier), drawn with a seeded RNG."""
    rng = random.Random(seed)
    return [rng.choice(REVIEW_OPENERS) for _ in range(n)]


def generated_pairs(n: int, seed: int = 0) -> list[dict[str, str]]:
    """`n` preference pairs {prompt, chosen, rejected}: the same sentence template, positive vs negative words."""
    if n < 1:
        raise ValueError(f"n must be a positive number of pairs, got {n}")
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        template, subject = rng.choice(_TEMPLATES), rng.choice(_SUBJECTS)
        good, bad = rng.sample(_ADJ_POS, 2), rng.sample(_ADJ_NEG, 2)
        pairs.append(
            {
                "prompt": rng.choice(REVIEW_OPENERS),
                "chosen": template.format(a=good[0], b=good[1], s=subject),
                "rejected": template.format(a=bad[0], b=bad[1], s=subject),
            }
        )
    return pairs


def pairs_from_reviews(
    texts: Sequence[str],
    labels: Sequence[int],
    n: int,
    seed: int = 0,
    prompt_words: int = 4,
    completion_words: int = 40,
) -> list[dict[str, str]]:
    """Preference pairs from labelled reviews (1 = positive): a positive review's opening is the prompt, its
    continuation is chosen, and the continuation of a negative review is rejected."""
    positive = [t for t, y in zip(texts, labels) if y == 1]
    negative = [t for t, y in zip(texts, labels) if y == 0]
    if not positive or not negative:
        raise ValueError("pairs_from_reviews needs both positive (label 1) and negative (label 0) reviews")
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        good, bad = rng.choice(positive).split(), rng.choice(negative).split()
        end = prompt_words + completion_words
        pairs.append(
            {
                "prompt": " ".join(good[:prompt_words]),
                "chosen": " " + " ".join(good[prompt_words:end]),
                "rejected": " " + " ".join(bad[prompt_words:end]),
            }
        )
    return pairs


def _imdb(split: str = "train"):
    from llm_workshop.data import hub_dataset

    return hub_dataset("stanfordnlp/imdb", split)


def preference_pairs(tier: str, n: int, seed: int = 0) -> list[dict[str, str]]:
    """Preference pairs for `tier`: generated lexicon pairs in smoke, IMDB review continuations in full."""
    if check_tier(tier) == "smoke":
        return generated_pairs(n, seed)
    imdb = _imdb()
    imdb = imdb.shuffle(seed=seed).select(range(min(20 * n, len(imdb))))
    texts = [" ".join(t.replace("<br />", " ").split()) for t in imdb["text"]]
    return pairs_from_reviews(texts, imdb["label"], n, seed)


def prompts_for(tier: str, n: int, seed: int = 0, min_words: int = 2, max_words: int = 6) -> list[str]:
    """`n` prompts: generated review openers in smoke, the first 2-6 words of IMDB reviews in full."""
    if check_tier(tier) == "smoke":
        return review_prompts(n, seed)
    rng = random.Random(seed)
    texts = _imdb().shuffle(seed=seed).select(range(n))["text"]
    return [" ".join(t.replace("<br />", " ").split()[: rng.randint(min_words, max_words)]) for t in texts]


# --- reward models ---------------------------------------------------------------------------


@torch.no_grad()
def classifier_scores(
    model, tokenizer, texts: Sequence[str], batch_size: int = 64, max_length: int = 512
) -> torch.Tensor:
    """One scalar per text from a sequence classifier: the logit of a 1-label reward model, or for a
    sentiment classifier the log-odds of its POSITIVE label (logit POSITIVE minus logit NEGATIVE)."""
    model.eval()
    device = next(model.parameters()).device
    labels = {k.upper(): v for k, v in (model.config.label2id or {}).items()}
    out = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            list(texts[start : start + batch_size]),
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=max_length,
        ).to(device)
        logits = model(**batch).logits.float()
        if logits.shape[-1] == 1:
            out.append(logits[:, 0])
        else:
            pos, neg = labels.get("POSITIVE", 1), labels.get("NEGATIVE", 0)
            out.append(logits[:, pos] - logits[:, neg])
    return torch.cat(out).cpu()


def classifier_reward(model, tokenizer, score_prompt: bool = False) -> Callable[..., list[float]]:
    """Wrap a classifier as a reward function `(prompts, completions) -> list[float]` for PPO and GRPO."""

    def reward(prompts: Sequence[str], completions: Sequence[str], **_: object) -> list[float]:
        texts = [p + c for p, c in zip(prompts, completions)] if score_prompt else list(completions)
        return classifier_scores(model, tokenizer, texts).tolist()

    reward.__name__ = f"{type(model).__name__}_reward"
    return reward


def pair_accuracy(model, tokenizer, pairs: Sequence[dict[str, str]]) -> float:
    """Fraction of held-out pairs where the reward model scores prompt+chosen above prompt+rejected."""
    chosen = classifier_scores(model, tokenizer, [p["prompt"] + p["chosen"] for p in pairs])
    rejected = classifier_scores(model, tokenizer, [p["prompt"] + p["rejected"] for p in pairs])
    return (chosen > rejected).float().mean().item()


# --- DPO margins ---------------------------------------------------------------------------------


def preference_margin(model, tokenizer, pairs: Sequence[dict[str, str]]) -> float:
    """Mean of log p(chosen | prompt) - log p(rejected | prompt) over `pairs`: DPO pushes it up."""
    prompts = [p["prompt"] for p in pairs]
    chosen = completion_logprobs(model, tokenizer, prompts, [p["chosen"] for p in pairs])
    rejected = completion_logprobs(model, tokenizer, prompts, [p["rejected"] for p in pairs])
    return (chosen - rejected).mean().item()


# --- the PPO pieces ------------------------------------------------------------------------------


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
    logits = out.logits[:, prompt_len - 1 : -1].float() / temperature
    targets = input_ids[:, prompt_len:]
    logprobs = torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None])[..., 0]
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
        **query,
        do_sample=True,
        top_k=0,
        top_p=1.0,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
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


def ppo_train(
    policy, ref_policy, reward_fn: Callable, prompts: Sequence[str], config: PPOConfig, tokenizer, progress: bool = True
) -> tuple[list[dict[str, float]], ValueHead]:
    """Optimise `policy` with PPO against `reward_fn(prompts, completions)` with a KL penalty to `ref_policy`.

    `ref_policy=None` with a peft (LoRA) policy uses the base model with adapters disabled as the reference.
    Returns one log dict per step (mean score, KL, losses, ...) and the trained value head.
    """
    if not prompts:
        raise ValueError("ppo_train needs at least one prompt")
    _reference(policy, ref_policy)  # fail early without a usable reference
    trainable = [p for p in policy.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the policy has no trainable parameters (requires_grad is False everywhere)")
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    device = next(policy.parameters()).device
    value_head = ValueHead(policy.config.get_text_config().hidden_size).to(device)
    params = trainable + list(value_head.parameters())
    optimizer = torch.optim.Adam(params, lr=config.learning_rate)
    logs = []
    steps = range(config.steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=f"PPO (kl_coef={config.kl_coef})")
    for step in steps:
        batch_prompts = [rng.choice(prompts) for _ in range(config.batch_size)]
        roll = rollout(
            policy, tokenizer, batch_prompts, reward_fn, ref_policy, config.max_new_tokens, config.temperature
        )
        mask = roll.mask
        with torch.no_grad():
            _, old_values = _forward(
                policy, roll.input_ids, roll.attention_mask, roll.prompt_len, config.temperature, value_head
            )
            rewards, kl = kl_penalised_rewards(roll.scores, roll.logprobs, roll.ref_logprobs, mask, config.kl_coef)
            advantages, returns = gae(rewards, old_values, mask, config.gamma, config.lam)
            advantages = masked_whiten(advantages, mask)
        stats = {"policy_loss": 0.0, "value_loss": 0.0, "clip_fraction": 0.0}
        updates = 0
        for _ in range(config.ppo_epochs):
            order = torch.randperm(config.batch_size)
            for start in range(0, config.batch_size, config.minibatch_size):
                idx = order[start : start + config.minibatch_size]
                logprobs, values = _forward(
                    policy,
                    roll.input_ids[idx],
                    roll.attention_mask[idx],
                    roll.prompt_len,
                    config.temperature,
                    value_head,
                )
                m = mask[idx]
                pg = policy_loss(logprobs, roll.logprobs[idx], advantages[idx], m, config.clip_range)
                vf = value_loss(values, old_values[idx], returns[idx], m, config.clip_range_value)
                loss = pg + config.vf_coef * vf
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                ratio = torch.exp(logprobs.detach() - roll.logprobs[idx])
                stats["policy_loss"] += pg.item()
                stats["value_loss"] += vf.item()
                stats["clip_fraction"] += masked_mean(((ratio - 1).abs() > config.clip_range).float(), m).item()
                updates += 1
        log = {
            "step": step,
            "reward": roll.scores.mean().item(),
            "kl": kl.sum(1).mean().item(),
            "penalised_reward": rewards.sum(1).mean().item(),
            "completion_tokens": mask.sum(1).mean().item(),
        }
        log.update({k: v / updates for k, v in stats.items()})
        logs.append(log)
        if progress:
            steps.set_postfix(reward=f"{log['reward']:.2f}", kl=f"{log['kl']:.2f}")
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

TOY_KL_EXAMPLE = {
    "score": 2.0,
    "logprobs": [-1.0, -0.5, -2.0],
    "ref_logprobs": [-1.5, -0.5, -1.0],
    "kl_coef": 0.2,
}


def check_kl_penalised_reward(answer, example: dict | None = None) -> bool:
    """Exercise: the per-token KL-penalised rewards for one completion (default: `TOY_KL_EXAMPLE`)."""
    example = example or TOY_KL_EXAMPLE
    logprobs = torch.tensor([example["logprobs"]], dtype=torch.float64)
    ref = torch.tensor([example["ref_logprobs"]], dtype=torch.float64)
    expected, _ = kl_penalised_rewards(
        torch.tensor([example["score"]], dtype=torch.float64),
        logprobs,
        ref,
        torch.ones_like(logprobs),
        example["kl_coef"],
    )
    try:
        got = torch.as_tensor(answer, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        return verdict(False, "Return a list (or tensor) of numbers, one reward per completion token.")
    if got.shape != expected[0].shape:
        return verdict(False, f"Expected {expected.shape[1]} rewards, one per completion token; got {got.numel()}.")
    if torch.allclose(got, expected[0], atol=1e-6):
        return verdict(True)
    no_score = expected[0].clone()
    no_score[-1] -= example["score"]
    if torch.allclose(got, no_score, atol=1e-6):
        return verdict(False, "The KL part looks right; now add the reward model's score to the last token.")
    wrong_sign = -no_score
    wrong_sign[-1] += example["score"]
    if torch.allclose(got, wrong_sign, atol=1e-6):
        return verdict(False, "Check the sign: the penalty is -kl_coef * (logprob - ref_logprob).")
    return verdict(
        False, "r_t = -kl_coef * (logprob_t - ref_logprob_t) for every token, plus the score on the last one."
    )


# --- the figure -----------------------------------------------------------------------------------


def plot_rlhf_steps(ax=None):
    """Draw InstructGPT's three steps (SFT, reward model, RL with a KL leash) as boxes and arrows."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        _, ax = plt.subplots(figsize=(12, 4.2))
    ax.set(xlim=(0, 12), ylim=(0, 4.6))
    ax.axis("off")
    columns = [
        ("1. Supervised fine-tuning", "#dbeafe", ["prompts + human\ndemonstrations", "pre-trained LM\n-> SFT model"]),
        (
            "2. Reward model",
            "#fef3c7",
            ["prompt, completion A vs B:\nwhich is better?", "RM(prompt, completion)\n-> a score"],
        ),
        (
            "3. RL (PPO)",
            "#dcfce7",
            ["policy samples completions,\nRM scores them", "update policy;\nKL leash to SFT model"],
        ),
    ]
    for i, (title, color, boxes) in enumerate(columns):
        x = 0.3 + 4 * i
        ax.text(x + 1.7, 4.35, title, ha="center", va="center", fontsize=12, weight="bold")
        for j, text in enumerate(boxes):
            y = 2.6 - 2.0 * j
            ax.add_patch(FancyBboxPatch((x, y), 3.4, 1.3, boxstyle="round,pad=0.05", fc=color, ec="0.3"))
            ax.text(x + 1.7, y + 0.65, text, ha="center", va="center", fontsize=10)
        ax.add_patch(FancyArrowPatch((x + 1.7, 2.6), (x + 1.7, 1.95), arrowstyle="-|>", mutation_scale=15))
        if i < 2:
            ax.add_patch(
                FancyArrowPatch((x + 3.45, 1.25), (x + 3.95, 1.25), arrowstyle="-|>", mutation_scale=15, lw=1.5)
            )
    ax.set_title("RLHF in three steps (after InstructGPT, Ouyang et al. 2022)", fontsize=12)
    return ax
