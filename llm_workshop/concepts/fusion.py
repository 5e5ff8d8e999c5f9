"""Reciprocal rank fusion: merge ranked lists by sum(1 / (k + rank)), so a document high in any list rises.

RRF (Cormack, Clarke and Büttcher, 2009) uses only ranks, never scores, so BM25's unbounded scores and cosine
similarities in [-1, 1] combine without calibration; k = 60 damps the difference between the very top ranks.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hashable]], k: int = 60) -> list[tuple[Hashable, float]]:
    """(document, fused score) pairs, best first; rank r (1-based) in a list adds 1 / (k + r); ties by first appearance."""
    if k < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    scores: dict[Hashable, float] = {}
    for ranking in rankings:
        if len(set(ranking)) != len(ranking):
            raise ValueError("a ranking lists a document twice; pass each ranked list without duplicates")
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    order = {doc: i for i, doc in enumerate(scores)}
    return sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))
