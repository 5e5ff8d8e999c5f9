"""Exercise graders of 1.2 Word embeddings: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from llm_workshop.concepts.text import skipgram_pairs
from llm_workshop.course.verdict import attempt, grader

_CHECK_SENTENCES = ["the quick brown fox jumps over the lazy dog", "holmes looked at me", "elementary", ""]


@grader(
    "for i, target in enumerate(tokens): the context positions are j in range(max(0, i - window), "
    "min(len(tokens), i + window + 1)), all but j == i.",
    "append (target, tokens[j]) for each such j, and return the list of pairs.",
)
def check_skipgram_pairs(fn: Callable[[Sequence[str], int], Iterable[tuple[str, str]]]) -> tuple[bool, str]:
    """Check `fn(tokens, window)`: the (target, context) skip-gram pairs, in any order, against `skipgram_pairs`."""
    for sentence in _CHECK_SENTENCES:
        tokens = sentence.split()
        for window in (1, 2, 3):
            expected = sorted(skipgram_pairs(tokens, window))
            got, error = attempt(lambda t, w: sorted(tuple(pair) for pair in fn(t, w)), tokens, window)
            if error:
                return False, error
            if got == expected:
                continue
            if len(got) == len(expected) + len(tokens):
                hint = "a word is not its own context: skip position i itself."
            elif len(got) < len(expected):
                hint = f"some pairs are missing: take up to `window` words on each side (for {tokens} and window={window})."
            else:
                hint = f"too many pairs: at most `window` words on each side, none outside the sentence (for {tokens}, window={window})."
            return False, hint
    return True, ""


ANALOGIES = [("man", "woman", "he"), ("he", "she", "him"), ("mr", "mrs", "he"), ("father", "mother", "son")]


@grader(
    "compare by cosine: unit = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True), then query = "
    "unit[row of b] - unit[row of a] + unit[row of c] (rows from wv.key_to_index).",
    "scores = unit @ query; set the scores of a, b and c to -np.inf; return wv.index_to_key[int(scores.argmax())].",
)
def check_analogy(
    fn: Callable[[Any, str, str, str], str], wv: Any, analogies: Sequence[tuple[str, str, str]] = ANALOGIES
) -> tuple[bool, str]:
    """Check `fn(wv, a, b, c)` ("a is to b as c is to ?") against gensim's `wv.most_similar(positive=[b, c], negative=[a])`.

    `wv` is a gensim `KeyedVectors`; analogies with a word outside its vocabulary are skipped.
    """
    usable = [words for words in analogies if all(w in wv.key_to_index for w in words)]
    if not usable:
        return False, "none of the analogies has all three words in this vocabulary; pass others."
    for a, b, c in usable:
        expected = wv.most_similar(positive=[b, c], negative=[a], topn=1)[0][0]
        got, error = attempt(fn, wv, a, b, c)
        if error:
            return False, error
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
        return False, hint
    return True, ""
