"""Vector search: exact inner-product search in NumPy (what FAISS's IndexFlatIP does), and approximate FAISS indexes.

With unit-length vectors the inner product is the cosine similarity. Exact search compares the query with every
vector; IVF compares it only with the vectors in the `nprobe` clusters nearest to it, HNSW walks a graph of
neighbours. Both trade a little recall for speed, which `recall_at_k` measures against exact search.
"""

from __future__ import annotations

import time

import faiss
import numpy as np


def _check(vectors: np.ndarray, queries: np.ndarray, k: int) -> None:
    """Raise a ValueError with a sentence when a search cannot run: no vectors, wrong shapes, or k < 1."""
    if vectors.ndim != 2 or len(vectors) == 0:
        raise ValueError("the index is empty: add at least one vector (a 2-D array of shape (n, dim)) before searching")
    if queries.ndim != 2 or queries.shape[1] != vectors.shape[1]:
        raise ValueError(f"queries must have shape (m, {vectors.shape[1]}) to match the index, got {queries.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids), each of shape (m, k): the k largest inner products of each query with `vectors`, best first.

    Like FAISS, when k exceeds the number of vectors the missing places get id -1 and score -inf. Equal scores (duplicate
    vectors) keep the lower id first; FAISS may order them otherwise, which `same_results` allows.
    """
    _check(vectors, queries, k)
    scores = queries.astype(np.float32) @ vectors.astype(np.float32).T
    kept = min(k, len(vectors))
    ids = np.argsort(-scores, axis=1, kind="stable")[:, :kept]
    top = np.take_along_axis(scores, ids, axis=1)
    pad = k - kept
    return np.pad(top, ((0, 0), (0, pad)), constant_values=-np.inf), np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)


def same_results(
    scores: np.ndarray, ids: np.ndarray, ref_scores: np.ndarray, ref_ids: np.ndarray, atol: float = 1e-5
) -> bool:
    """Whether two searches agree: scores within `atol` at every rank, and each run of tied scores holds the same ids
    in any order; the last run may differ, since a tie at the k-th place can keep any of the tied documents."""
    if scores.shape != ref_scores.shape or ids.shape != ref_ids.shape:
        raise ValueError(f"the searches have different shapes: {ids.shape} and {ref_ids.shape}")
    if not np.allclose(scores, ref_scores, atol=atol, rtol=0):
        return False
    for row_scores, row, ref_row in zip(scores, ids, ref_ids):
        start = 0
        for end in range(1, len(row) + 1):
            if end < len(row) and abs(row_scores[end] - row_scores[start]) <= atol:
                continue  # still inside a run of tied scores
            if end < len(row) and set(row[start:end]) != set(ref_row[start:end]):
                return False
            start = end
    return True


def flat_index(vectors: np.ndarray) -> faiss.IndexFlatIP:
    """A FAISS exact inner-product index holding `vectors` (float32)."""
    _check(vectors, vectors[:1], 1)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def ivf_index(vectors: np.ndarray, n_lists: int, nprobe: int, seed: int = 0) -> faiss.IndexIVFFlat:
    """An IVF index: k-means splits the vectors into `n_lists` cells; a search scans the `nprobe` nearest cells."""
    _check(vectors, vectors[:1], 1)
    if not 1 <= nprobe <= n_lists <= len(vectors):
        raise ValueError(
            f"need 1 <= nprobe <= n_lists <= number of vectors, got {nprobe=}, {n_lists=}, {len(vectors)=}"
        )
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], n_lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    index.train(data)
    index.add(data)
    index.nprobe = nprobe
    return index


def hnsw_index(vectors: np.ndarray, m: int = 16, ef_search: int = 32) -> faiss.IndexHNSWFlat:
    """An HNSW graph index (`m` links per node) searched with a candidate list of `ef_search`."""
    _check(vectors, vectors[:1], 1)
    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    index.hnsw.efSearch = ef_search
    return index


def recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Share of the exact top-k ids that the approximate search also returned, averaged over queries."""
    if approx_ids.shape != exact_ids.shape:
        raise ValueError(
            f"both id arrays need the same shape (queries, k), got {approx_ids.shape} and {exact_ids.shape}"
        )
    hits = [len(set(a) & set(e)) / len(e) for a, e in zip(approx_ids.tolist(), exact_ids.tolist())]
    return float(np.mean(hits))


def time_search(index: faiss.Index, queries: np.ndarray, k: int, repeats: int = 5) -> tuple[float, np.ndarray]:
    """(median seconds per query over `repeats` runs of the whole batch, ids of the last run)."""
    data = np.ascontiguousarray(queries, dtype=np.float32)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        _, ids = index.search(data, k)
        times.append((time.perf_counter() - start) / len(data))
    return float(np.median(times)), ids
