"""Text representation from scratch: tokenization, a vocabulary, one-hot, bag of words, TF-IDF.

torchtext used to provide `vocab.stoi`/`vocab.itos`; it is no longer maintained and does not
install beside current PyTorch, so the course builds the vocabulary itself.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llm_workshop.exercises import attempt, verdict

TOKEN_RE = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens: runs of letters/digits, keeping an apostrophe inside (holmes's, don't)."""
    return TOKEN_RE.findall(text.lower().replace("’", "'"))


@dataclass
class Vocab:
    """A token ↔ index mapping: `stoi` (string to integer), `itos` (integer to string), with <unk>."""

    itos: list[str]
    unk_token: str | None = "<unk>"
    stoi: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def index(self, token: str) -> int:
        """The index of `token`; unknown tokens map to <unk> (KeyError if there is no <unk>)."""
        if token in self.stoi:
            return self.stoi[token]
        if self.unk_token is None:
            raise KeyError(f"{token!r} is not in the vocabulary and it has no unknown token")
        return self.stoi[self.unk_token]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.index(t) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]


def build_vocab(docs_tokens: Sequence[Sequence[str]], min_freq: int = 1, specials: Sequence[str] = ("<unk>",)) -> Vocab:
    """Vocabulary of tokens seen at least `min_freq` times, specials first, then by frequency, then A–Z."""
    if min_freq < 1:
        raise ValueError(f"min_freq must be at least 1, got {min_freq}")
    counts = Counter(token for doc in docs_tokens for token in doc)
    if not counts:
        raise ValueError("cannot build a vocabulary from an empty corpus: no document has any token")
    kept = sorted((t for t, c in counts.items() if c >= min_freq and t not in specials), key=lambda t: (-counts[t], t))
    unk = "<unk>" if "<unk>" in specials else None
    return Vocab(itos=list(specials) + kept, unk_token=unk)


def one_hot(token: str, vocab: Vocab) -> np.ndarray:
    """A vector of len(vocab) zeros with a single 1 at the token's index."""
    vector = np.zeros(len(vocab), dtype=np.float32)
    vector[vocab.index(token)] = 1.0
    return vector


def bag_of_words(docs_tokens: Sequence[Sequence[str]], vocab: Vocab) -> np.ndarray:
    """Count matrix of shape (n_docs, len(vocab)): entry [j, i] counts token i in document j."""
    if not docs_tokens:
        raise ValueError("bag_of_words needs at least one document")
    matrix = np.zeros((len(docs_tokens), len(vocab)), dtype=np.float64)
    for j, doc in enumerate(docs_tokens):
        for token, count in Counter(doc).items():
            if token in vocab or vocab.unk_token is not None:
                matrix[j, vocab.index(token)] += count
    return matrix


def tf_idf(docs_tokens: Sequence[Sequence[str]], vocab: Vocab) -> np.ndarray:
    """TF-IDF matrix with w_ij = tf_ij * log(N / df_i): raw counts times the inverse document frequency.

    A token in every document gets weight 0; a token in no document (df = 0) gets 0 too.
    """
    tf = bag_of_words(docs_tokens, vocab)
    return tf * idf(tf)


def idf(counts: np.ndarray) -> np.ndarray:
    """Inverse document frequency log(N / df_i) of each column of a (n_docs, vocab) count matrix; 0 where df = 0."""
    n_docs = counts.shape[0]
    df = (counts > 0).sum(axis=0)
    return np.array([math.log(n_docs / d) if d else 0.0 for d in df])


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """The contiguous n-token windows of `tokens`."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def cosine_similarity_matrix(matrix: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarity of the rows of `matrix` (rows of zeros give 0)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = np.divide(matrix, norms, out=np.zeros_like(matrix, dtype=np.float64), where=norms > 0)
    return unit @ unit.T


def context_pairs(tokens: Sequence[str], window: int) -> list[tuple[list[str], str]]:
    """CBOW training pairs (context words, target word) with up to `window` words on each side.

    Skip-gram uses the same windows the other way round: (target, one context word) per pair.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    pairs = []
    for i, target in enumerate(tokens):
        context = list(tokens[max(0, i - window) : i]) + list(tokens[i + 1 : i + 1 + window])
        if context:
            pairs.append((context, target))
    return pairs


def skipgram_pairs(tokens: Sequence[str], window: int) -> list[tuple[str, str]]:
    """Skip-gram training pairs (target word, context word), one per context word."""
    return [(target, word) for context, target in context_pairs(tokens, window) for word in context]


# --- exercise checks (they print a verdict and never raise) ---------------------------------------------------------

_CHECK_DOCS = [
    "Holmes examined the door, and the lock of the door.",
    "Watson opened the door for Holmes.",
    "The lock was new; the key was old and the key was bent.",
    "A client's letter lay on the table beside the key.",
]
_CHECK_SENTENCES = ["the quick brown fox jumps over the lazy dog", "holmes looked at me", "elementary", ""]


def check_tf_idf_one(fn: Callable[[Sequence[str], Sequence[Sequence[str]], Vocab], np.ndarray]) -> bool:
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
            return verdict(False, error)
        if got.shape != expected.shape:
            return verdict(False, f"return one weight per vocabulary entry: shape {expected.shape}, got {got.shape}.")
        if not np.allclose(got, expected):
            tf = bag_of_words([doc], vocab)[0]
            hint = next((h for h, f in wrong.items() if np.allclose(got, f(tf))), None)
            return verdict(
                False,
                hint
                or "w_i = tf_i * log(N / df_i): tf_i counts token i in this document, N is the number of documents "
                "in the corpus, df_i how many of them contain token i.",
            )
    return verdict(True)


def check_skipgram_pairs(fn: Callable[[Sequence[str], int], Iterable[tuple[str, str]]]) -> bool:
    """Check `fn(tokens, window)`: the (target, context) skip-gram pairs, in any order, against `skipgram_pairs`."""
    for sentence in _CHECK_SENTENCES:
        tokens = sentence.split()
        for window in (1, 2, 3):
            expected = sorted(skipgram_pairs(tokens, window))
            got, error = attempt(lambda t, w: sorted(tuple(pair) for pair in fn(t, w)), tokens, window)
            if error:
                return verdict(False, error)
            if got == expected:
                continue
            if len(got) == len(expected) + len(tokens):
                hint = "a word is not its own context: skip position i itself."
            elif len(got) < len(expected):
                hint = f"some pairs are missing: take up to `window` words on each side (for {tokens} and window={window})."
            else:
                hint = f"too many pairs: at most `window` words on each side, none outside the sentence (for {tokens}, window={window})."
            return verdict(False, hint)
    return verdict(True)


_CHECK_VECTORS = [
    ([1.0, 0.0], [0.0, 1.0]),
    ([3.0, 4.0], [6.0, 8.0]),
    ([2, 0, 1, 5], [1, 1, 0, 2]),
    ([0.5, -1.0, 2.0], [-1.0, 2.0, 0.25]),
]


def check_cosine(fn: Callable[[np.ndarray, np.ndarray], float]) -> bool:
    """Check `fn(a, b)`: the cosine similarity of two non-zero vectors, a·b / (|a| |b|)."""
    for a, b in _CHECK_VECTORS:
        a, b = np.array(a), np.array(b)
        dot, norm_a, norm_b = float(a @ b), float(np.linalg.norm(a)), float(np.linalg.norm(b))
        got, error = attempt(lambda x, y: float(fn(x, y)), a, b)
        if error:
            return verdict(False, error)
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
        return verdict(False, hint)
    return verdict(True)


ANALOGIES = [("man", "woman", "he"), ("he", "she", "him"), ("mr", "mrs", "he"), ("father", "mother", "son")]


def check_analogy(
    fn: Callable[[Any, str, str, str], str], wv: Any, analogies: Sequence[tuple[str, str, str]] = ANALOGIES
) -> bool:
    """Check `fn(wv, a, b, c)` ("a is to b as c is to ?") against gensim's `wv.most_similar(positive=[b, c], negative=[a])`.

    `wv` is a gensim `KeyedVectors`; analogies with a word outside its vocabulary are skipped.
    """
    usable = [words for words in analogies if all(w in wv.key_to_index for w in words)]
    if not usable:
        return verdict(False, "none of the analogies has all three words in this vocabulary; pass others.")
    for a, b, c in usable:
        expected = wv.most_similar(positive=[b, c], negative=[a], topn=1)[0][0]
        got, error = attempt(fn, wv, a, b, c)
        if error:
            return verdict(False, error)
        if got == expected:
            continue
        raw = wv.vectors @ (wv[b] - wv[a] + wv[c])  # the same arithmetic without unit vectors
        raw[[wv.key_to_index[w] for w in (a, b, c)]] = -np.inf
        if got in (a, b, c):
            hint = f"leave the three query words out of the answer (you returned {got!r})."
        elif got == wv.index_to_key[int(raw.argmax())]:
            hint = "normalise every vector to length 1 first (gensim compares unit vectors, by cosine)."
        else:
            hint = (
                f"for {a} : {b} = {c} : ?, gensim finds {expected!r}, you found {got!r}: rank by cosine with b - a + c."
            )
        return verdict(False, hint)
    return verdict(True)
