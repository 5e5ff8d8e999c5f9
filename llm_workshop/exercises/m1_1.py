"""Exercise graders of 1.1 Text representation: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from llm_workshop.concepts.text import Vocab, bag_of_words, build_vocab, idf, tokenize
from llm_workshop.course.verdict import attempt, grader

_CHECK_DOCS = [
    "Holmes examined the door, and the lock of the door.",
    "Watson opened the door for Holmes.",
    "The lock was new; the key was old and the key was bent.",
    "A client's letter lay on the table beside the key.",
]


@grader(
    "tf: tf = np.zeros(len(vocab)), then tf[vocab.index(token)] += 1 for each token of the document; df: for each "
    "corpus document, add 1 at every index in set(vocab.encode(doc)).",
    "idf = np.where(df > 0, np.log(len(corpus_tokens) / np.maximum(df, 1)), 0.0), and return tf * idf.",
)
def check_tf_idf_one(fn: Callable[[Sequence[str], Sequence[Sequence[str]], Vocab], np.ndarray]) -> tuple[bool, str]:
    """Check `fn(doc_tokens, corpus_tokens, vocab)`: the TF-IDF vector of one document against `tf_idf`."""
    corpus = [tokenize(d) for d in _CHECK_DOCS]
    vocab = build_vocab(corpus, min_freq=2)  # rare words become <unk>, as in the notebook
    queries = [*corpus, tokenize("The key to the lock, said Holmes to Moriarty.")]
    counts = bag_of_words(corpus, vocab)
    df = (counts > 0).sum(axis=0)
    df_per_word = Counter(vocab.index(token) for doc in corpus for token in set(doc))
    idf_per_word = np.array(
        [math.log(len(corpus) / df_per_word[i]) if df_per_word[i] else 0.0 for i in range(len(vocab))]
    )
    wrong = {  # common mistakes, recognised so the hint can name them
        "you returned the raw counts: multiply each count by its idf, log(N / df).": lambda tf: tf,
        "that is scikit-learn's convention, tf * (log(N / df) + 1); the course formula has no +1.": (
            lambda tf: tf * (idf(counts) + (df > 0))
        ),
        "tf is the number of times the token occurs in the document, not just whether it occurs.": (
            lambda tf: (tf > 0) * idf(counts)
        ),
        "use the natural logarithm (np.log or math.log), not log10.": lambda tf: tf * idf(counts) / math.log(10),
        "count a document once per vocabulary index: all unknown words share <unk>, so use set(vocab.encode(doc)).": (
            lambda tf: tf * idf_per_word
        ),
    }
    for doc in queries:
        expected = bag_of_words([doc], vocab)[0] * idf(counts)
        got, error = attempt(lambda d: np.asarray(fn(d, corpus, vocab), dtype=np.float64), doc)
        if error:
            return False, error
        if got.shape != expected.shape:
            return False, f"return one weight per vocabulary entry: shape {expected.shape}, got {got.shape}."
        if not np.allclose(got, expected):
            tf = bag_of_words([doc], vocab)[0]
            hint = next((h for h, f in wrong.items() if np.allclose(got, f(tf))), None)
            return False, (
                hint
                or "w_i = tf_i * log(N / df_i): tf_i counts token i in this document, N is the number of documents "
                "in the corpus, df_i how many of them contain token i."
            )
    return True, ""


_CHECK_VECTORS = [
    ([1.0, 0.0], [0.0, 1.0]),
    ([3.0, 4.0], [6.0, 8.0]),
    ([2, 0, 1, 5], [1, 1, 0, 2]),
    ([0.5, -1.0, 2.0], [-1.0, 2.0, 0.25]),
]


@grader(
    "np.linalg.norm(a) is the length of a, the square root of a @ a; the cosine divides a @ b by both lengths.",
    "return a @ b / (np.linalg.norm(a) * np.linalg.norm(b)).",
)
def check_cosine(fn: Callable[[np.ndarray, np.ndarray], float]) -> tuple[bool, str]:
    """Check `fn(a, b)`: the cosine similarity of two non-zero vectors, a·b / (|a| |b|)."""
    for a, b in _CHECK_VECTORS:
        a, b = np.array(a), np.array(b)
        dot, norm_a, norm_b = float(a @ b), float(np.linalg.norm(a)), float(np.linalg.norm(b))
        got, error = attempt(lambda x, y: float(fn(x, y)), a, b)
        if error:
            return False, error
        if math.isclose(got, dot / (norm_a * norm_b), rel_tol=1e-6, abs_tol=1e-9):
            continue
        if math.isclose(got, dot, rel_tol=1e-6):
            hint = "that is the dot product alone: divide it by the lengths of both vectors."
        elif math.isclose(got, dot / norm_a, rel_tol=1e-6) or math.isclose(got, dot / norm_b, rel_tol=1e-6):
            hint = "divide by the lengths of BOTH vectors, |a| * |b|."
        elif math.isclose(got, dot / (norm_a**2 * norm_b**2), rel_tol=1e-6):
            hint = "the length is the square root of the sum of squares: np.linalg.norm(a)."
        else:
            hint = f"cos(a, b) = a·b / (|a| |b|); for a={a.tolist()}, b={b.tolist()} expected {dot / (norm_a * norm_b):.4f}."
        return False, hint
    return True, ""
