"""Exercise graders of 2.4 Faster inference: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import torch

from llm_workshop.concepts.paged_kv import locate
from llm_workshop.concepts.speculative import predicted_speedup, residual_distribution
from llm_workshop.course.verdict import attempt, grader

SPEEDUP_CASES = [(0.9, 0.17, 4, 1.6), (0.5, 0.1, 2, 1.0), (0.8, 0.3, 1, 1.2), (0.0, 0.2, 3, 1.0), (0.95, 0.05, 8, 2.5)]


@grader(
    "A round drafts k tokens (k draft passes, each costing c target passes) and verifies them in one target pass "
    "costing verify_cost; it yields (1 - alpha ** (k + 1)) / (1 - alpha) tokens on average. Plain decoding yields "
    "one token per target pass.",
    "return (1 - alpha ** (k + 1)) / (1 - alpha) / (c * k + verify_cost)",
)
def check_speedup(fn) -> tuple[bool, str]:
    """Exercise check: `fn(alpha, c, k, verify_cost)` must return the expected wall-clock speed-up of speculative
    decoding over plain decoding (tokens per round over the round's cost in target passes)."""
    for alpha, c, k, verify_cost in SPEEDUP_CASES:
        got, hint = attempt(fn, alpha, c, k, verify_cost)
        if hint:
            return False, hint
        expected = predicted_speedup(alpha, c, k, verify_cost)
        if not isinstance(got, int | float) or abs(got - expected) > 1e-6 * expected:
            return False, (
                f"alpha={alpha}, c={c}, k={k}, verify_cost={verify_cost}: expected a speed-up of {expected:.4f}, "
                f"got {got!r}"
            )
    return True, ""


@grader(
    "Scalars: use `.item()` on p[token] / q[token]. Walk the drafted tokens in order with one `u = torch.rand((), "
    "generator=generator).item()` each; keep the token while u < min(1, p[i][token] / q[i][token]).",
    "At the first rejection append `int(torch.multinomial(residual, 1, generator=generator))` with residual = "
    "max(p[i] - q[i], 0) / its sum, and return at once; if every draft was kept, append one token drawn from p[k].",
)
def check_verify_round(fn) -> tuple[bool, str]:
    """Exercise check: `fn(p, q, drafted, generator)` must run one round of the accept/reject rule, so that the first
    token it returns is distributed exactly as p[0] (computed from its own frequencies over many rounds)."""
    generator = torch.Generator().manual_seed(0)
    p = torch.tensor([[0.05, 0.40, 0.25, 0.20, 0.10], [0.2, 0.2, 0.2, 0.2, 0.2]])
    q = torch.tensor([[0.30, 0.30, 0.10, 0.10, 0.20]])
    kept = torch.minimum(p[0], q[0])
    for token in range(5):
        outs = []
        for _ in range(400):
            out, hint = attempt(fn, p, q, [token], generator)
            if hint:
                return False, hint
            if not isinstance(out, list) or not 1 <= len(out) <= 2:
                return False, f"return a list of 1 or 2 token ids for one drafted token; got {out!r}"
            outs.append(out)
        kept_rate = sum(o[0] == token and len(o) == 2 for o in outs) / len(outs)
        expected = float(kept[token] / q[0, token])
        if abs(kept_rate - expected) > 0.08:
            return (
                False,
                f"a drafted token {token} should be kept {expected:.2f} of the time (then a bonus token follows); yours: {kept_rate:.2f}",
            )
        replaced = [o[0] for o in outs if len(o) == 1]
        residual = residual_distribution(p[0], q[0])
        if any(float(residual[t]) == 0 for t in replaced):
            return (
                False,
                f"after rejecting token {token} you drew a token the residual max(p - q, 0) gives no probability",
            )
    return True, ""


@grader(
    "Logical block i of a sequence holds its tokens i * block_size ... i * block_size + block_size - 1.",
    "return block_table[position // block_size], position % block_size",
)
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
