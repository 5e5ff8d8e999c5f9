import math

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from llm_workshop.concepts import text
from llm_workshop.course import data
from llm_workshop.exercises import m1_1, m1_2

DOCS = [
    "Holmes examined the door, and the lock.",
    "Watson opened the door for Holmes.",
    "The lock was new; the key was old.",
    "A client's letter lay on the table.",
]


@pytest.fixture(scope="module")
def tokens():
    return [text.tokenize(d) for d in DOCS]


def test_tokenize_lowercases_and_keeps_inner_apostrophes():
    assert text.tokenize("Holmes’s client, Mr. Wilson, didn't SMILE.") == [
        "holmes's", "client", "mr", "wilson", "didn't", "smile",
    ]  # fmt: skip


def test_vocab_stoi_itos_roundtrip_and_unknown(tokens):
    vocab = text.build_vocab(tokens)
    assert vocab.itos[0] == "<unk>" and vocab.stoi["<unk>"] == 0
    assert vocab.itos[1] == "the"  # the most frequent token comes first
    ids = vocab.encode(["holmes", "moriarty"])
    assert ids[1] == 0 and vocab.decode(ids) == ["holmes", "<unk>"]
    assert all(vocab.stoi[t] == i for i, t in enumerate(vocab.itos))


def test_min_freq_drops_rare_tokens(tokens):
    vocab = text.build_vocab(tokens, min_freq=2)
    assert set(vocab.itos) == {"<unk>", "the", "holmes", "door", "lock", "was"}


def test_bad_vocab_input(tokens):
    with pytest.raises(ValueError, match="min_freq"):
        text.build_vocab(tokens, min_freq=0)
    with pytest.raises(ValueError, match="empty corpus"):
        text.build_vocab([])
    with pytest.raises(ValueError, match="empty corpus"):
        text.build_vocab([[], []])


def test_vocab_without_unk_raises_on_unknown(tokens):
    vocab = text.build_vocab(tokens, specials=())
    with pytest.raises(KeyError, match="moriarty"):
        vocab.index("moriarty")


def test_one_hot(tokens):
    vocab = text.build_vocab(tokens)
    vector = text.one_hot("door", vocab)
    assert vector.sum() == 1 and vector[vocab.stoi["door"]] == 1


def test_bag_of_words_matches_countvectorizer(tokens):
    vocab = text.build_vocab(tokens, specials=())
    ours = text.bag_of_words(tokens, vocab)
    sk = CountVectorizer(tokenizer=text.tokenize, lowercase=False, token_pattern=None, vocabulary=vocab.itos)
    np.testing.assert_array_equal(ours, sk.fit_transform(DOCS).toarray())


def test_tf_idf_formula_and_sklearn_parity(tokens):
    vocab = text.build_vocab(tokens, specials=())
    ours = text.tf_idf(tokens, vocab)
    the = vocab.stoi["the"]
    assert np.all(ours[:, the] == 0), "a word in every document has idf ln(N/N) = 0"
    assert ours[0, vocab.stoi["holmes"]] == pytest.approx(1 * math.log(4 / 2))
    # scikit-learn computes idf = ln((1 + N) / (1 + df)) + 1 by default; with smooth_idf=False it is
    # ln(N / df) + 1, so subtracting the +1 (tf * 1) recovers w = tf * ln(N / df).
    sk = TfidfVectorizer(
        tokenizer=text.tokenize, lowercase=False, token_pattern=None, vocabulary=vocab.itos, norm=None, smooth_idf=False
    )
    sk_weights = sk.fit_transform(DOCS).toarray() - text.bag_of_words(tokens, vocab)
    np.testing.assert_allclose(ours, sk_weights, atol=1e-12)


def test_word_in_every_document_gets_zero_weight():
    docs = [["a", "b"], ["a", "c"]]
    vocab = text.build_vocab(docs, specials=())
    assert text.tf_idf(docs, vocab)[:, vocab.stoi["a"]].tolist() == [0.0, 0.0]


def test_ngrams_and_bad_n():
    assert text.ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert text.ngrams(["a"], 2) == []
    with pytest.raises(ValueError):
        text.ngrams(["a"], 0)


def test_cosine_similarity_matrix():
    sims = text.cosine_similarity_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))
    assert sims[0, 0] == pytest.approx(1) and sims[0, 1] == pytest.approx(1 / math.sqrt(2)) and sims[2, 2] == 0


def test_context_pairs_cbow_and_skipgram():
    sentence = "the quick brown fox jumps".split()
    pairs = text.context_pairs(sentence, window=2)
    assert pairs[2] == (["the", "quick", "fox", "jumps"], "brown")
    assert pairs[0] == (["quick", "brown"], "the")
    assert ("brown", "fox") in text.skipgram_pairs(sentence, 2)
    assert len(text.skipgram_pairs(sentence, 2)) == sum(len(c) for c, _ in pairs)
    with pytest.raises(ValueError):
        text.context_pairs(sentence, 0)


def test_stories_give_sensible_similarity():
    stories = data.stories()[:4]
    docs = [text.tokenize(body) for _, body in stories]
    vocab = text.build_vocab(docs, min_freq=2)
    sims = text.cosine_similarity_matrix(text.tf_idf(docs, vocab))
    assert np.allclose(np.diag(sims), 1) and (sims[~np.eye(4, dtype=bool)] < 0.9).all()


def test_idf_of_a_count_matrix():
    counts = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 0.0]])
    np.testing.assert_allclose(text.idf(counts), [math.log(2), 0.0, 0.0])


def _tf_idf_one(doc, corpus, vocab):
    counts = text.bag_of_words(corpus, vocab)
    return text.bag_of_words([doc], vocab)[0] * np.log(len(corpus) / np.maximum((counts > 0).sum(axis=0), 1))


def _tf_idf_one_per_word_df(doc, corpus, vocab):  # counts <unk> once per distinct unknown word: a real bug
    df = np.zeros(len(vocab))
    for d in corpus:
        for token in set(d):
            df[vocab.index(token)] += 1
    return text.bag_of_words([doc], vocab)[0] * np.log(len(corpus) / np.maximum(df, 1))


@pytest.mark.parametrize(
    ("fn", "ok", "hint"),
    [
        (_tf_idf_one, True, "Correct"),
        (lambda d, c, v: text.bag_of_words([d], v)[0], False, "raw counts"),
        (lambda d, c, v: _tf_idf_one(d, c, v) + text.bag_of_words([d], v)[0], False, "+1"),
        (lambda d, c, v: _tf_idf_one(d, c, v) / math.log(10), False, "log10"),
        (_tf_idf_one_per_word_df, False, "<unk>"),
        (lambda d, c, v: _tf_idf_one(d, c, v)[1:], False, "shape"),
        (lambda d, c, v: _tf_idf_one(d, c, v) * 2, False, "log(N / df_i)"),
        (lambda d, c, v: 1 / 0, False, "ZeroDivisionError"),
    ],
)
def test_check_tf_idf_one(fn, ok, hint, capsys):
    assert m1_1.check_tf_idf_one(fn) is ok
    assert hint in capsys.readouterr().out


def _skipgram(tokens, window):
    return [(t, tokens[j]) for i, t in enumerate(tokens) for j in range(max(0, i - window), min(len(tokens), i + window + 1)) if j != i]  # fmt: skip


@pytest.mark.parametrize(
    ("fn", "ok", "hint"),
    [
        (_skipgram, True, "Correct"),
        (lambda tokens, w: reversed(_skipgram(tokens, w)), True, "Correct"),  # any order is fine
        (lambda tokens, w: _skipgram(tokens, w) + [(t, t) for t in tokens], False, "its own context"),
        (lambda tokens, w: _skipgram(tokens, w - 1) if w > 1 else _skipgram(tokens, w), False, "missing"),
        (lambda tokens, w: _skipgram(tokens, w + 1), False, "too many"),
        (lambda tokens, w: None, False, "TypeError"),
    ],
)
def test_check_skipgram_pairs(fn, ok, hint, capsys):
    assert m1_2.check_skipgram_pairs(fn) is ok
    assert hint in capsys.readouterr().out


def _cosine(a, b):
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


@pytest.mark.parametrize(
    ("fn", "ok", "hint"),
    [
        (_cosine, True, "Correct"),
        (lambda a, b: float(_cosine(a.astype(float), b.astype(float))), True, "Correct"),
        (lambda a, b: a @ b, False, "dot product alone"),
        (lambda a, b: a @ b / np.linalg.norm(a), False, "BOTH"),
        (lambda a, b: a @ b / ((a @ a) * (b @ b)), False, "square root"),
        (lambda a, b: _cosine(a, b) + 0.1, False, "expected"),
        (lambda a, b: "high", False, "ValueError"),
    ],
)
def test_check_cosine(fn, ok, hint, capsys):
    assert m1_1.check_cosine(fn) is ok
    assert hint in capsys.readouterr().out


@pytest.fixture(scope="module")
def word_vectors():
    from gensim.models import KeyedVectors

    words = ["man", "woman", "he", "she", "him", "her", "mr", "mrs", "father", "mother", "son", "daughter", "door"]
    wv = KeyedVectors(vector_size=8)
    wv.add_vectors(words, np.random.default_rng(0).normal(size=(len(words), 8)).astype(np.float32))
    wv.vectors[words.index("door")] *= 50  # a long vector: wins a dot product, not a cosine
    return wv


def _analogy(wv, a, b, c):
    unit = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    query = unit[wv.key_to_index[b]] - unit[wv.key_to_index[a]] + unit[wv.key_to_index[c]]
    scores = unit @ query
    scores[[wv.key_to_index[w] for w in (a, b, c)]] = -np.inf
    return wv.index_to_key[int(scores.argmax())]


def _analogy_with_queries(wv, a, b, c):
    unit = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    return wv.index_to_key[int((unit @ (unit[wv.key_to_index[b]] - unit[wv.key_to_index[a]] + unit[wv.key_to_index[c]])).argmax())]  # fmt: skip


def _analogy_raw(wv, a, b, c):
    scores = wv.vectors @ (wv[b] - wv[a] + wv[c])
    scores[[wv.key_to_index[w] for w in (a, b, c)]] = -np.inf
    return wv.index_to_key[int(scores.argmax())]


@pytest.mark.parametrize(
    ("fn", "ok", "hint"),
    [
        (_analogy, True, "Correct"),
        (_analogy_with_queries, False, "query words out"),
        (_analogy_raw, False, "unit vectors"),
        (lambda wv, a, b, c: "detective", False, "rank by cosine"),
        (lambda wv, a, b, c: wv["nonsense"], False, "KeyError"),
    ],
)
def test_check_analogy(word_vectors, fn, ok, hint, capsys):
    assert m1_2.check_analogy(fn, word_vectors) is ok
    assert hint in capsys.readouterr().out


def test_check_analogy_needs_words_in_the_vocabulary(word_vectors, capsys):
    assert m1_2.check_analogy(_analogy, word_vectors, analogies=[("king", "queen", "man")]) is False
    assert "vocabulary" in capsys.readouterr().out
