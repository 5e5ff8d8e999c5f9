"""Exact NumPy search equals FAISS IndexFlatIP; approximate indexes are measured against it; RRF adds 1 / (k + rank)."""

import faiss
import numpy as np
import pytest

from llm_workshop.concepts import index
from llm_workshop.concepts.fusion import reciprocal_rank_fusion


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("n, k", [(2000, 10), (7, 10)])
def test_exact_search_equals_faiss_flat_ip(n, k):
    vectors, queries = unit_vectors(n, 64, 0), unit_vectors(50, 64, 1)
    scores, ids = index.exact_search(vectors, queries, k)
    faiss_scores, faiss_ids = index.flat_index(vectors).search(queries, k)
    assert (ids == faiss_ids).all(), "exact search and FAISS disagree on the ids"
    finite = np.isfinite(faiss_scores) & (faiss_ids >= 0)
    delta = np.abs(scores[finite] - faiss_scores[finite]).max()
    assert delta < 1e-5, f"max |score - FAISS score| = {delta:.2e}"
    assert (ids[~finite] == -1).all(), "missing places should get id -1 as in FAISS"


def test_duplicate_vectors_tie_and_same_results_allows_any_order_among_ties():
    base = unit_vectors(50, 16, 4)
    vectors, queries = np.concatenate([base, base, base]), unit_vectors(30, 16, 5)  # every vector three times
    scores, ids = index.exact_search(vectors, queries, 10)
    faiss_scores, faiss_ids = index.flat_index(vectors).search(queries, 10)
    assert not (ids == faiss_ids).all(), "FAISS orders tied ids differently; the test expects it to"
    assert index.same_results(scores, ids, faiss_scores, faiss_ids)
    wrong = ids.copy()
    wrong[:, 0] = (wrong[:, 0] + 1) % 150  # a different document at rank 1
    assert not index.same_results(scores, wrong, faiss_scores, faiss_ids)
    assert not index.same_results(scores + 1e-3, ids, faiss_scores, faiss_ids)


def test_ivf_and_hnsw_recall_rises_with_the_search_effort():
    faiss.omp_set_num_threads(1)
    vectors, queries = unit_vectors(3000, 32, 2), unit_vectors(100, 32, 3)
    _, exact = index.exact_search(vectors, queries, 10)
    low = index.recall_at_k(index.ivf_index(vectors, 64, 1).search(queries, 10)[1], exact)
    high = index.recall_at_k(index.ivf_index(vectors, 64, 64).search(queries, 10)[1], exact)
    assert low < 0.9 and high == 1.0, f"IVF recall@10 with nprobe 1 vs all lists: {low:.2f} vs {high:.2f}"
    hnsw = index.recall_at_k(index.hnsw_index(vectors, ef_search=128).search(queries, 10)[1], exact)
    assert hnsw > 0.9, f"HNSW recall@10 {hnsw:.2f}"
    seconds, _ = index.time_search(index.flat_index(vectors), queries, 10, repeats=2)
    assert seconds > 0


def test_empty_index_and_bad_shapes_raise_a_sentence():
    with pytest.raises(ValueError, match="the index is empty"):
        index.exact_search(np.zeros((0, 4), np.float32), np.zeros((1, 4), np.float32), 3)
    with pytest.raises(ValueError, match="queries must have shape"):
        index.exact_search(unit_vectors(5, 4, 0), unit_vectors(2, 3, 0), 3)
    with pytest.raises(ValueError, match="nprobe"):
        index.ivf_index(unit_vectors(50, 4, 0), n_lists=8, nprobe=9)
    with pytest.raises(ValueError, match="same shape"):
        index.recall_at_k(np.zeros((2, 3)), np.zeros((2, 4)))


def test_rrf_adds_reciprocal_ranks():
    fused = dict(reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert [d for d, _ in reciprocal_rank_fusion([["a", "b", "c"], ["c", "a"]])] == ["a", "c", "b"]


def test_rrf_lifts_a_document_both_lists_rank_fairly():
    fused = reciprocal_rank_fusion([["x", "both", "y"], ["z", "both", "w"]])
    assert fused[0][0] == "both", f"a document ranked 2nd twice should beat ones ranked 1st once: {fused}"
    with pytest.raises(ValueError, match="twice"):
        reciprocal_rank_fusion([["a", "a"]])
    with pytest.raises(ValueError, match="non-negative"):
        reciprocal_rank_fusion([["a"]], k=-1)


def test_the_rrf_exercise_accepts_fusion_and_rejects_near_misses(capsys):
    from llm_workshop.exercises import m2_6

    assert m2_6.check_rrf(lambda rankings, k: [doc for doc, _ in reciprocal_rank_fusion(rankings, k)])
    assert not m2_6.check_rrf(lambda rankings, k: reciprocal_rank_fusion(rankings, k))  # (doc, score) pairs
    assert "not scores or pairs" in capsys.readouterr().out
    zero_based = lambda rankings, k: [  # noqa: E731
        doc for doc, _ in reciprocal_rank_fusion([[None, *r] for r in rankings], k - 1) if doc is not None
    ]
    assert not m2_6.check_rrf(zero_based)
