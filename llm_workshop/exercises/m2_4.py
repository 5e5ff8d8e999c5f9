"""Exercise graders of 2.4 Faster inference: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import torch

from llm_workshop.concepts.paged_kv import locate
from llm_workshop.concepts.speculative import accept_probability
from llm_workshop.course.verdict import attempt, grader


@grader()
def check_locate(fn) -> tuple[bool, str]:
    """Exercise check: `fn(block_table, position, block_size)` must return (physical block, offset)."""
    cases = [([7, 2, 9], 0, 4), ([7, 2, 9], 3, 4), ([7, 2, 9], 4, 4), ([7, 2, 9], 10, 4), ([5, 0], 17, 16)]
    for table, position, block_size in cases:
        got, hint = attempt(fn, table, position, block_size)
        if hint:
            return False, hint
        expected = locate(table, position, block_size)
        if not isinstance(got, tuple | list) or tuple(got) != expected:
            return False, (
                f"position {position} with block_size {block_size} and table {table} lives in physical block "
                f"{expected[0]} at offset {expected[1]}; you returned {got!r}"
            )
    return True, ""


@grader()
def check_acceptance_rule(accept_fn, residual_fn) -> tuple[bool, str]:
    """Exercise check: `accept_fn(p, q, token)` and `residual_fn(p, q)` must implement the rule, so that drafting
    from q, accepting or resampling gives exactly p (computed, not sampled)."""
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        p = torch.rand(6, generator=generator).softmax(-1) ** 2
        q = torch.rand(6, generator=generator).softmax(-1) ** 2
        p, q = p / p.sum(), q / q.sum()
        accepts, hint = attempt(lambda p=p, q=q: [float(accept_fn(p, q, t)) for t in range(6)])
        if accepts is None:
            return False, hint
        expected = [accept_probability(p, q, t) for t in range(6)]
        if not torch.allclose(torch.tensor(accepts), torch.tensor(expected), atol=1e-6):
            return False, "accept a drafted token with probability min(1, p[token] / q[token])"
        residual, hint = attempt(residual_fn, p, q)
        if residual is None:
            return False, hint
        if not isinstance(residual, torch.Tensor) or residual.shape != p.shape:
            return False, "the residual must be a tensor with one probability per token, like p"
        rejected = sum(q[t] * (1 - accepts[t]) for t in range(6))
        result = torch.tensor([q[t] * accepts[t] for t in range(6)]) + rejected * residual
        if not torch.allclose(result, p, atol=1e-5):
            return False, "after a rejection sample from max(p - q, 0), renormalised to sum to 1"
    return True, ""
