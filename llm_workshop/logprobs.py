"""Log-probability of a completion given a prompt under a causal LM: the one scorer every notebook shares.

Multiple-choice scoring (2.3), evaluation harness parity (2.5), DPO margins and KL (3.4) all need
sum_t log p(completion_t | prompt, completion_<t). Rows are right-padded into batches: a causal model
never looks ahead, so padding after a row changes nothing before it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


@torch.no_grad()
def completion_logprobs(
    model, tokenizer, prompts: Sequence[str], completions: Sequence[str], batch_size: int = 16
) -> torch.Tensor:
    """Summed log p(completion tokens | prompt) per (prompt, completion) pair, prompt tokens not counted.

    Prompt and completion are tokenized separately (no special tokens) and joined, so a completion's tokens
    are the same whatever prompt precedes it. Returns a float32 CPU tensor of shape (len(prompts),).
    """
    if len(prompts) != len(completions):
        raise ValueError(f"got {len(prompts)} prompts but {len(completions)} completions; pass one completion each")
    pairs = []
    for prompt, completion in zip(prompts, completions):
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        c_ids = tokenizer(completion, add_special_tokens=False)["input_ids"]
        if not p_ids or not c_ids:
            raise ValueError(f"prompt and completion need at least one token each; got {prompt!r} + {completion!r}")
        pairs.append((p_ids, c_ids))
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    totals = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        width = max(len(p) + len(c) for p, c in chunk)
        rows = [p + c + [pad_id] * (width - len(p) - len(c)) for p, c in chunk]
        mask = [[1] * (len(p) + len(c)) + [0] * (width - len(p) - len(c)) for p, c in chunk]
        logits = model(
            input_ids=torch.tensor(rows, device=device), attention_mask=torch.tensor(mask, device=device)
        ).logits
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # position t predicts token t + 1
        targets = torch.tensor(rows, device=device)[:, 1:]
        token_logp = logp.gather(-1, targets[..., None])[..., 0]
        for row, (p, c) in enumerate(chunk):
            totals.append(token_logp[row, len(p) - 1 : len(p) - 1 + len(c)].sum())
    model.train(was_training)
    return torch.stack(totals).cpu()
