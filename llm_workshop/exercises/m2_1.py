"""Exercise graders of 2.1 GPT-2 on Sherlock Holmes: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from llm_workshop.concepts.decoding import generate
from llm_workshop.concepts.training import early_stopping
from llm_workshop.course.verdict import attempt, grader


@grader(
    "Each step: `next_id = model(ids).logits[:, -1, :].argmax(dim=-1, keepdim=True)`, then "
    "`ids = torch.cat([ids, next_id], dim=-1)`; wrap the loop in `with torch.no_grad():`.",
    "Start from `ids = input_ids`, run that step `max_new_tokens` times, and return `ids`: its shape is "
    "(1, prompt length + max_new_tokens).",
)
def check_greedy_generate(fn, model, input_ids: torch.Tensor, max_new_tokens: int = 8) -> tuple[bool, str]:
    """Exercise check: `fn(model, input_ids, max_new_tokens)` must return the prompt plus the greedy continuation."""
    expected = generate(model, input_ids, max_new_tokens, use_cache=False)
    got, error = attempt(fn, model, input_ids, max_new_tokens)
    if error:
        return False, error
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return False, f"expected a tensor of shape {tuple(expected.shape)} (prompt + new tokens), got {shape}"
    if not torch.equal(got[:, : input_ids.shape[1]].cpu(), input_ids.cpu()):
        return False, "the output should start with the prompt"
    if not torch.equal(got.cpu(), expected.cpu()):
        return False, "each new token should be the argmax of the logits at the last position"
    return True, ""


# Validation curves the early-stopping exercise is checked on, with the patience to use for each.
EARLY_STOPPING_CASES = (
    ([3.0, 2.5, 2.2, 2.3, 2.4, 2.5, 2.6], 2),  # a clean minimum, then overfitting
    ([3.0, 2.8, 2.9, 2.7, 2.75, 2.8, 2.9, 3.0], 2),  # a bump that patience 2 survives
    ([3.0, 2.8, 2.9, 2.7, 2.75, 2.8, 2.9, 3.0], 1),  # the same bump stops patience 1 too early
    ([2.0, 2.0, 2.0, 2.0], 2),  # equal is not better
    ([3.0, 2.0, 1.5, 1.2], 2),  # still improving: never stops
)


@grader(
    "Keep `best` (index of the lowest loss so far) and `waited` (evaluations since it); a strictly lower loss makes "
    "it the new best and resets `waited` to 0, anything else adds 1 to `waited`.",
    "Return `(best, i)` at the first evaluation `i` where `waited == patience`; after the loop, `(best, None)`.",
)
def check_early_stopping(fn: Callable[[Sequence[float], int], tuple[int, int | None]]) -> tuple[bool, str]:
    """Exercise check: `fn(val_losses, patience)` must return what `early_stopping` returns on `EARLY_STOPPING_CASES`."""
    for losses, patience in EARLY_STOPPING_CASES:
        expected = early_stopping(losses, patience)
        got, error = attempt(fn, list(losses), patience)
        if error:
            return False, error
        if not isinstance(got, (tuple, list)) or tuple(got) != expected:
            return False, f"val_losses={losses}, patience={patience}: expected {expected}, got {got!r}"
    return True, ""
