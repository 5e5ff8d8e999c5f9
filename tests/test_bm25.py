"""BM25 from scratch scores every chunk as bm25s (its default Lucene variant) does, within 1e-6."""

import bm25s
import numpy as np
import pytest

from llm_workshop.concepts import bm25, chunking, text

QUERIES = ["the blue carbuncle in the crop of the goose", "holmes holmes watson", "hydraulic engineer thumb",
           "a snake, a whistle and a ventilator", "xyzzy plugh", "the the the"]  # fmt: skip


@pytest.fixture(scope="module")
def docs():
    return [text.tokenize(c.text) for c in chunking.token_chunks(100, 20)]


@pytest.mark.parametrize("k1, b", [(1.5, 0.75), (1.2, 0.3), (2.0, 1.0)])
def test_scores_equal_bm25s(docs, k1, b):
    mine = bm25.BM25(docs, k1=k1, b=b)
    library = bm25s.BM25(k1=k1, b=b, method="lucene", dtype="float64")
    library.index(docs, show_progress=False)
    for query in QUERIES:
        tokens = text.tokenize(query)
        expected = library.get_scores(tokens) if any(t in library.vocab_dict for t in tokens) else np.zeros(len(docs))
        delta = np.abs(mine.scores(tokens) - expected).max()
        assert delta < 1e-6, f"{query!r}: max |bm25 - bm25s| = {delta:.2e}"


def test_term_score_by_hand():
    """One term in 2 of 10 documents, 3 times in a document of average length: idf x 3 / (3 + k1)."""
    idf = np.log(1 + (10 - 2 + 0.5) / (2 + 0.5))
    assert bm25.term_score(3, 2, 50.0, 10, 50.0, 1.5, 0.75) == pytest.approx(idf * 3 / 4.5)
    longer = bm25.term_score(np.array([3.0, 3.0]), 2, np.array([50.0, 100.0]), 10, 50.0, 1.5, 0.75)
    assert longer[1] < longer[0], f"a longer document with the same count should score lower: {longer}"


def test_top_k_is_sorted_and_finds_the_story():
    chunks = chunking.token_chunks(100, 20)
    index = bm25.BM25([text.tokenize(c.text) for c in chunks])
    ids, scores = index.top_k(text.tokenize("swamp adder speckled band"), 5)
    assert list(scores) == sorted(scores, reverse=True), f"scores not sorted: {scores}"
    assert chunks[ids[0]].story == "The Adventure of the Speckled Band", chunks[ids[0]].story


def test_a_query_with_no_known_word_retrieves_nothing():
    index = bm25.BM25([["holmes", "pipe"], ["watson", "door"]])
    ids, scores = index.top_k(["moriarty", "xyzzy"], 5)
    assert len(ids) == 0 and len(scores) == 0, f"expected no passage, got {ids}"
    assert index.top_k(["pipe"], 5)[0].tolist() == [0]


def test_bad_input_raises_a_sentence():
    with pytest.raises(ValueError, match="no documents"):
        bm25.BM25([])
    with pytest.raises(ValueError, match="k1 >= 0"):
        bm25.BM25([["a"]], b=2)
    with pytest.raises(ValueError, match="k must be at least 1"):
        bm25.BM25([["a"]]).top_k(["a"], 0)


def test_the_term_score_exercise_accepts_the_formula_and_names_common_mistakes(capsys):
    from llm_workshop.exercises import m2_6

    assert m2_6.check_bm25_term(bm25.term_score)
    okapi = lambda tf, df, dl, n, avg, k1, b: (k1 + 1) * bm25.term_score(tf, df, dl, n, avg, k1, b)  # noqa: E731
    assert not m2_6.check_bm25_term(okapi)
    assert "rank_bm25's Okapi form" in capsys.readouterr().out
    assert not m2_6.check_bm25_term(lambda tf, df, dl, n, avg, k1, b: np.log(1 + (n - df + 0.5) / (df + 0.5)))
    assert not m2_6.check_bm25_term(lambda *args: [float(a) for a in args])  # a list, not one score per document
