"""Rewards and how a model ranks a preference pair: a sequence classifier's score as a reward, the lexicon reward,
a reward model's held-out pair accuracy, and the log-probability margin DPO pushes up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from llm_workshop.concepts.logprobs import completion_logprobs
from llm_workshop.concepts.preferences import lexicon_score


def lexicon_reward(prompts: Sequence[str], completions: Sequence[str], **_: object) -> list[float]:
    """The programmatic reward for a batch: the lexicon score of each completion (prompts are not scored)."""
    return [lexicon_score(c) for c in completions]


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


def preference_margin(model, tokenizer, pairs: Sequence[dict[str, str]]) -> float:
    """Mean of log p(chosen | prompt) - log p(rejected | prompt) over `pairs`: DPO pushes it up."""
    prompts = [p["prompt"] for p in pairs]
    chosen = completion_logprobs(model, tokenizer, prompts, [p["chosen"] for p in pairs])
    rejected = completion_logprobs(model, tokenizer, prompts, [p["rejected"] for p in pairs])
    return (chosen - rejected).mean().item()
