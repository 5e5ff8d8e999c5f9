"""Exercise graders of 2.2 Decoding strategies: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import torch

from llm_workshop.concepts.decoding import top_k_filter, top_p_filter
from llm_workshop.course.verdict import attempt, grader


def _compare_filter(fn, cases: list[tuple[torch.Tensor, float]], reference, wrong_set_hint) -> tuple[bool, str]:
    """Shared by the filter exercises: `fn(logits, x)` must set to -inf exactly what `reference(logits, x)` does and
    leave the other logits unchanged; `wrong_set_hint(x, kept)` explains a wrong set of kept tokens."""
    for logits, x in cases:
        got, error = attempt(fn, logits.clone(), x)
        if error:
            return False, error
        if not isinstance(got, torch.Tensor) or got.shape != logits.shape:
            return False, "return a tensor with the same shape as the logits"
        kept = ~torch.isinf(reference(logits, x))
        if not torch.equal(~torch.isinf(got), kept):
            return False, wrong_set_hint(x, kept)
        if not torch.allclose(got[kept], logits[kept]):
            return False, "the kept logits should be unchanged"
    return True, ""


@grader(
    "`torch.topk(logits, k).values[..., -1:]` is the k-th largest logit of each row, shaped to broadcast against "
    "the row.",
    "`logits.masked_fill(logits < kth_largest, float('-inf'))`: everything below the k-th largest becomes -inf.",
)
def check_top_k_filter(fn) -> tuple[bool, str]:
    """Exercise check: `fn(logits, k)` must keep the k largest logits of each row and set the rest to -inf."""
    generator = torch.Generator().manual_seed(0)
    cases = [(torch.randn(3, 50, generator=generator), k) for k in (1, 5, 50)]
    cases.append((torch.tensor([[2.0, 1.0, 0.5, -1.0, 3.0]]), 2))
    return _compare_filter(
        fn,
        cases,
        top_k_filter,
        lambda k, _: f"with k={k} exactly the k largest logits per row should stay finite, the rest -inf",
    )


@grader(
    "`probs, order = logits.softmax(-1).sort(dim=-1, descending=True)`; the mass of the tokens ranked above each one "
    "is `probs.cumsum(-1) - probs`, and a token stays while that mass is still below p.",
    "The keep mask is in sorted order: `keep = keep_sorted.scatter(-1, order, keep_sorted)` puts it back in vocabulary "
    "order, then `logits.masked_fill(~keep, float('-inf'))`.",
)
def check_top_p_filter(fn) -> tuple[bool, str]:
    """Exercise check: `fn(logits, p)` must keep the smallest set of most likely tokens whose probability reaches p."""
    generator = torch.Generator().manual_seed(1)
    cases = [(torch.randn(3, 40, generator=generator), p) for p in (0.1, 0.5, 0.9)]
    cases.append((torch.tensor([[2.0, 1.0, 0.0, -1.0]]).log_softmax(-1), 0.7))  # keeps 2 tokens: 0.64 + 0.24
    return _compare_filter(
        fn,
        cases,
        top_p_filter,
        lambda p, kept: (
            f"with p={p} the rows should keep {kept.sum(-1).tolist()} tokens: sort, cumulate, stop once >= p"
        ),
    )
