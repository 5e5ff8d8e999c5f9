"""BM25 from scratch: a document's score for a query sums, over the query's terms, idf x saturated term count.

    score(q, d) = sum_t idf(t) * tf(t, d) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t) = log(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

k1 caps how much repeating a term helps, b how much a long document is penalised. This is the Lucene variant, the
default of Lucene, Elasticsearch and the `bm25s` library; others differ in the idf (Robertson's original can go
negative for a term in most documents) or multiply by k1 + 1 (`rank_bm25`), which changes no ranking.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


def term_score(
    tf: np.ndarray | float, df: int, doc_len: np.ndarray | float, n_docs: int, avgdl: float, k1: float, b: float
) -> np.ndarray | float:
    """One query term's BM25 contribution to documents holding it `tf` times, of `doc_len` words (arrays work)."""
    idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
    return idf * tf / (tf + k1 * (1 - b + b * doc_len / avgdl))


class BM25:
    """A BM25 index over tokenised documents; `scores(query_tokens)` gives one score per document."""

    def __init__(self, docs_tokens: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        if len(docs_tokens) == 0:
            raise ValueError("cannot build a BM25 index over no documents: pass at least one tokenised document")
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b = k1, b
        self.lengths = np.array([len(doc) for doc in docs_tokens], dtype=np.float64)
        self.avgdl = self.lengths.mean()
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # term -> (documents, counts)
        lists: dict[str, list[tuple[int, int]]] = {}
        for i, doc in enumerate(docs_tokens):
            for term, count in Counter(doc).items():
                lists.setdefault(term, []).append((i, count))
        for term, pairs in lists.items():
            docs, counts = zip(*pairs)
            self.postings[term] = (np.array(docs), np.array(counts, dtype=np.float64))

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """The BM25 score of every document for the query (a repeated query term counts each time; unknown terms add 0)."""
        scores = np.zeros(len(self.lengths))
        for term in query_tokens:
            if term in self.postings:
                docs, tf = self.postings[term]
                n = len(self.lengths)
                scores[docs] += term_score(tf, len(docs), self.lengths[docs], n, self.avgdl, self.k1, self.b)
        return scores

    def top_k(self, query_tokens: Sequence[str], k: int, min_score: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(document indices, scores) of the k best documents scoring above `min_score`, best first (ties: lower index
        first). A query that shares no term with any document gets nothing back, not k arbitrary documents."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        scores = self.scores(query_tokens)
        order = np.argsort(-scores, kind="stable")[:k]
        order = order[scores[order] > min_score]
        return order, scores[order]
