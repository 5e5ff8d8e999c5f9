"""Exercise graders of 1.4 Subword tokenization: each `check_...` prints a verdict and never raises."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from llm_workshop.concepts.bpe import BPETokenizer, Pair, Words, count_pairs, merge_pair, most_frequent, pretokenize
from llm_workshop.course.verdict import attempt, grader

_CHECK_TEXTS = (
    "low lower lowest newer newest wider",
    "ab ab ba ba",
    "aaaa aaa aa a",
    "the cat sat on the mat; the hat",
)


def _words_of(text: str) -> Words:
    return dict(Counter(tuple(piece.encode("utf-8")) for piece in pretokenize(text)))


@grader(
    "count with `counts = Counter()`; for word, n in words.items(): for pair in zip(word, word[1:]): counts[pair] += n.",
    "then pair = min(counts, key=lambda p: (-counts[p], p)), and new_words = {tuple(bpe.merge_pair(word, pair, "
    "new_id)): n for word, n in words.items()} (or your own left-to-right scan).",
)
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
            if got_pair == most_frequent(count_pairs(dict.fromkeys(words, 1))):
                return False, "weight each word's pairs by its count: a word seen 3 times adds 3 to each of its pairs."
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


_ENCODE_TEXTS = (
    "lowest newer widest",
    "the hat sat on the cat",
    "aaaaaaa aa",
    "lower, then low.  New!",
    "wider 3.1415 £5 — café",
)


# Merges chosen so that each slip gives other ids on "the abc cat": "e " first, which only a text that was not
# pre-tokenized can use (across "the abc"); "bc" before "ab"; "the" in two steps.
_TRAPS = [(b"e", b" "), (b"b", b"c"), (b"a", b"b"), (b"t", b"h"), (b"th", b"e"), (b" ", b"c"), (b"a", b"bc")]


def _encode_cases() -> list[tuple[BPETokenizer, str]]:
    """A hand-made tokenizer that tells the slips apart, then small ones trained on the check texts."""
    trained = [BPETokenizer().train(" ".join(_CHECK_TEXTS) * 2, size) for size in (262, 280)]
    cases = [(BPETokenizer.from_merges(_TRAPS), text) for text in ("the abc cat", "abcabc thethe")]
    return cases + [(tokenizer, text) for tokenizer in trained for text in (*_ENCODE_TEXTS, *_CHECK_TEXTS)]


def _merge_until_done(ids: list[int], merges: dict[Pair, int], rule: str, once: bool = False) -> list[int]:
    """Merge the pair `rule` picks among those with a merge ("earliest", "latest" or "leftmost"), until none is left
    (or after one merge with `once`): the right encoding of a piece, or one of the common slips."""
    while found := [pair for pair in zip(ids, ids[1:]) if pair in merges]:
        picks = {"earliest": min(found, key=merges.get), "latest": max(found, key=merges.get), "leftmost": found[0]}
        pair = picks[rule]
        ids = merge_pair(ids, pair, merges[pair])
        if once:
            break
    return ids


def _wrong_encodings(text: str, merges: dict[Pair, int]) -> dict[str, list[int]]:
    """The common slips, each encoded, so the hint can name the one the learner made."""
    pieces = [list(piece.encode("utf-8")) for piece in pretokenize(text)]

    def each_piece(rule: str, once: bool = False) -> list[int]:
        return [i for ids in pieces for i in _merge_until_done(ids, merges, rule, once)]

    return {
        "you returned the bytes unmerged: apply the merges to each piece until none applies.": sum(pieces, []),
        "pre-tokenize first: cut the text with bpe.pretokenize(text); merges never cross those pieces.": (
            _merge_until_done(list(text.encode("utf-8")), merges, "earliest")
        ),
        "not the leftmost pair that has a merge: among the pairs of the piece, merge the earliest-learned one.": (
            each_piece("leftmost")
        ),
        "apply the EARLIEST-learned merge first (the smallest new id), not the latest.": each_piece("latest"),
        "keep going: after a merge, look again for the earliest-learned pair, until no pair of the piece has a merge.": (
            each_piece("earliest", once=True)
        ),
    }


@grader(
    "for each piece in bpe.pretokenize(text): ids = list(piece.encode('utf-8')); then repeat: among the pairs "
    "zip(ids, ids[1:]) that are in `merges`, take the one with the smallest new id and merge it; stop when none is.",
    "inside the loop: pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float('inf'))); if pair not in "
    "merges: break; ids = bpe.merge_pair(ids, pair, merges[pair]). Collect every piece's ids into one list.",
)
def check_encode(fn: Callable[[str, dict[Pair, int]], list[int]]) -> tuple[bool, str]:
    """Exercise check: `fn(text, merges)` gives the ids `BPETokenizer.encode` gives, with the same merges."""
    for tokenizer, text in _encode_cases():
        merges = tokenizer.merge_ids
        expected = tokenizer.encode(text)
        got, error = attempt(fn, text, dict(merges))
        if error:
            return False, error
        try:
            got = [int(i) for i in got]
        except (TypeError, ValueError):
            return False, "return a list of ints, the token ids of the whole text."
        if got == expected:
            continue
        hint = next((h for h, wrong in _wrong_encodings(text, merges).items() if got == wrong), None)
        return False, hint or f"on {text!r} with {len(merges)} merges expected {expected}, got {got}."
    return True, ""
