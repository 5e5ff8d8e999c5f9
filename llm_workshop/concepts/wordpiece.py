"""WordPiece, BERT's tokenizer, written out: the score its training merges by, and longest-match-first encoding.

A word is spelled as its first character followed by the others with the continuation prefix `##` ("cat" -> c ##a
##t). Training merges the pair with the highest count(ab) / (count(a) * count(b)), not the most frequent pair as BPE
does. Encoding ignores the merge order: it takes the longest vocabulary entry that starts the rest of the word, and a
word with any stretch that no entry covers becomes one `[UNK]`. module_01/04 checks `encode_word` against BERT's
real tokenizer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container, Mapping

PREFIX = "##"


def spell(word: str, prefix: str = PREFIX) -> tuple[str, ...]:
    """The word as WordPiece's starting units: its first character, then every other one with the prefix."""
    return (word[0], *(prefix + c for c in word[1:])) if word else ()


def pair_scores(words: Mapping[tuple[str, ...], int]) -> dict[tuple[str, str], float]:
    """WordPiece's merge score of every adjacent pair: count(ab) / (count(a) * count(b)), weighted by word counts."""
    units: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for word, n in words.items():
        for unit in word:
            units[unit] += n
        for pair in zip(word, word[1:]):
            pairs[pair] += n
    return {(a, b): count / (units[a] * units[b]) for (a, b), count in pairs.items()}


def encode_word(
    word: str, vocab: Container[str], unk: str = "[UNK]", prefix: str = PREFIX, max_chars: int = 100
) -> list[str]:
    """Longest match first: the longest entry of `vocab` that starts the rest of the word (with `prefix` after the
    first piece), again and again; if no entry fits somewhere, or the word is longer than `max_chars`, `[unk]`."""
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = word[start:end] if start == 0 else prefix + word[start:end]
            if piece in vocab:
                break
        else:
            return [unk]  # one character no entry covers costs the whole word
        pieces.append(piece)
        start = end
    return pieces
