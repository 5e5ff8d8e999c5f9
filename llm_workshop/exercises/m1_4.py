"""Exercise graders of 1.4 Subword tokenization: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from llm_workshop.concepts.bpe import Pair, Words, count_pairs, merge_pair, most_frequent, pretokenize
from llm_workshop.course.verdict import attempt, grader

_CHECK_TEXTS = (
    "low lower lowest newer newest wider",
    "ab ab ba ba",
    "aaaa aaa aa a",
    "the cat sat on the mat; the hat",
)


def _words_of(text: str) -> Words:
    return dict(Counter(tuple(piece.encode("utf-8")) for piece in pretokenize(text)))


@grader()
def check_count_pairs(fn: Callable[[Words], dict[Pair, int]]) -> tuple[bool, str]:
    """Exercise check: `fn(words)` counts adjacent pairs, each word's pairs weighted by how often the word occurs."""
    for text in _CHECK_TEXTS:
        words = _words_of(text)
        got, error = attempt(fn, words)
        if error:
            return False, error
        expected = count_pairs(words)
        try:
            got = {tuple(pair): int(n) for pair, n in dict(got).items() if n}
        except (TypeError, ValueError):
            return False, "return a dict (or Counter) mapping each pair (a, b) to its count."
        if got == dict(expected):
            continue
        unweighted = count_pairs(dict.fromkeys(words, 1))
        if got == dict(unweighted):
            return False, "weight each word's pairs by its count: a word seen 3 times adds 3 to each of its pairs."
        if len(got) < len(expected):
            return False, f"some pairs are missing: every (word[i], word[i + 1]) is a pair (text {text!r})."
        return False, f"the counts differ from the expected ones on {text!r}; zip(word, word[1:]) gives the pairs."
    return True, ""


@grader()
def check_merge_step(fn: Callable[[Words, int], tuple[Pair, Words]]) -> tuple[bool, str]:
    """Exercise check: `fn(words, new_id)` picks the most frequent pair (ties: smallest) and merges it in every word."""
    for text in _CHECK_TEXTS:
        words = _words_of(text)
        counts = count_pairs(words)
        pair = most_frequent(counts)
        expected = {tuple(merge_pair(w, pair, 256)): n for w, n in words.items()}
        got, error = attempt(fn, dict(words), 256)
        if error:
            return False, error
        try:
            got_pair, got_words = got
            got_pair = tuple(int(i) for i in got_pair)
            got_words = {tuple(word): n for word, n in dict(got_words).items()}
        except (TypeError, ValueError):
            return False, "return a tuple (pair, new_words): the pair (a, b) and a dict {word tuple: count}."
        if got_pair != pair:
            if counts.get(got_pair) == counts[pair]:
                return False, f"{got_pair} is tied with {pair}: break ties by the smallest pair."
            return False, f"on {text!r} the most frequent pair is {pair} ({counts[pair]} times), not {got_pair}."
        if got_words != expected:
            overlap = {tuple(_merge_right_to_left(w, pair, 256)): n for w, n in words.items()}
            if got_words == overlap:
                return False, "merge left to right: (97, 97) in [97, 97, 97] gives [256, 97], not [97, 256]."
            return False, f"replace every occurrence of {pair} by new_id in every word, keeping the counts."
    return True, ""


def _merge_right_to_left(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """A common slip: scanning from the right merges overlapping pairs the other way round."""
    return merge_pair(list(ids)[::-1], pair[::-1], new_id)[::-1]
