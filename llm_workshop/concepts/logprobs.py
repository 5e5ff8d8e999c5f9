"""Log-probability of a completion given a prompt under a causal LM: the one scorer every notebook shares.

Multiple-choice scoring (2.3), comparing decoded continuations (2.2), DPO margins (3.4) and PPO's per-token
log-probs all need log p(completion_t | prompt, completion_<t). Rows are right-padded into batches: a causal
model never looks ahead, so padding after a row changes nothing before it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def gather_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) at every position: the float32 log-softmax of `logits` (..., vocab) picked at `targets` (...)."""
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, targets[..., None])[..., 0]


@torch.no_grad()
def completion_logprobs_from_ids(
    model,
    prompts: Sequence[Sequence[int] | torch.Tensor],
    completions: Sequence[Sequence[int] | torch.Tensor],
    pad_id: int = 0,
    batch_size: int = 16,
) -> torch.Tensor:
    """Summed log p(completion ids | prompt ids) per pair of token-id lists; a float32 CPU tensor (len(prompts),).

    Use it for tokens a model generated (re-tokenizing decoded text may not give the same tokens back).
    """
    if len(prompts) != len(completions):
        raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions; pass one completion each")
    pairs = [(torch.as_tensor(p).tolist(), torch.as_tensor(c).tolist()) for p, c in zip(prompts, completions)]
    if any(not p or not c for p, c in pairs):
        raise ValueError("every prompt and every completion needs at least one token")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    totals = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        width = max(len(p) + len(c) for p, c in chunk)
        rows = torch.tensor([p + c + [pad_id] * (width - len(p) - len(c)) for p, c in chunk], device=device)
        mask = torch.tensor([[1] * (len(p) + len(c)) + [0] * (width - len(p) - len(c)) for p, c in chunk])
        logits = model(input_ids=rows, attention_mask=mask.to(device)).logits
        token_logp = gather_logprobs(logits[:, :-1], rows[:, 1:])  # position t predicts token t + 1
        for row, (p, c) in enumerate(chunk):
            totals.append(token_logp[row, len(p) - 1 : len(p) - 1 + len(c)].sum())
    model.train(was_training)
    return torch.stack(totals).cpu()


def completion_logprobs(
    model, tokenizer, prompts: Sequence[str], completions: Sequence[str], batch_size: int = 16
) -> torch.Tensor:
    """Summed log p(completion tokens | prompt) per (prompt, completion) pair, prompt tokens not counted.

    Prompt and completion are tokenized separately (no special tokens) and joined, so a completion's tokens
    are the same whatever prompt precedes it. Returns a float32 CPU tensor of shape (len(prompts),).
    """
    if len(prompts) != len(completions):
        raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions; pass one completion each")
    prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    completion_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in completions]
    for prompt, completion, p, c in zip(prompts, completions, prompt_ids, completion_ids):
        if not p or not c:
            raise ValueError(f"prompt and completion need at least one token each; got {prompt!r} + {completion!r}")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return completion_logprobs_from_ids(model, prompt_ids, completion_ids, pad_id, batch_size)


def choice_logprobs(
    model, tokenizer, prompts: Sequence[str], choices: Sequence[str], batch_size: int = 16
) -> torch.Tensor:
    """scores[i, j] = log p(choices[j] | prompts[i]): every choice after every prompt, scored in batches."""
    pairs = [(prompt, choice) for prompt in prompts for choice in choices]
    scores = completion_logprobs(model, tokenizer, [p for p, _ in pairs], [c for _, c in pairs], batch_size)
    return scores.view(len(prompts), len(choices))
