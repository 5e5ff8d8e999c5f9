"""Text representation from scratch: tokenization, a vocabulary, one-hot, bag of words, TF-IDF.

torchtext used to provide `vocab.stoi`/`vocab.itos`; it is no longer maintained and does not
install beside current PyTorch, so the course builds the vocabulary itself.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

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
