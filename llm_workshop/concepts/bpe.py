"""Byte-level byte-pair encoding (BPE), the GPT-2 scheme, written out: train, encode, decode.

Text is cut into pre-tokens with GPT-2's regular expression, each pre-token becomes its UTF-8 bytes (ids
0-255), and training repeatedly merges the most frequent adjacent pair of tokens into a new token.
`BPETokenizer` keeps pair counts up to date incrementally, so each merge touches only the words that
contain the merged pair. module_01/04 writes the readable version and checks this one against `tokenizers`.
"""

from __future__ import annotations

import heapq
import operator
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache

import regex
import tokenizers

# GPT-2's pre-tokenizer: contractions, letters, digits, other symbols, each with at most one leading space; then
# runs of white space (the last space of a run before a word is left to the word).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

Pair = tuple[int, int]
Words = dict[tuple[int, ...], int]


def pretokenize(text: str, pattern: str = GPT2_PATTERN) -> list[str]:
    """Cut `text` into the pieces BPE never merges across (GPT-2: words with their leading space, digits, symbols)."""
    return regex.findall(pattern, text)


def merge_pair(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `ids`, scanning left to right, by `new_id` ([a, a, a] -> [aa, a])."""
    merged, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return merged


def count_pairs(words: Words) -> Counter[Pair]:
    """How often each adjacent pair occurs, each word's pairs counted as many times as the word occurs."""
    counts: Counter[Pair] = Counter()
    for word, n in words.items():
        for pair in zip(word, word[1:]):
            counts[pair] += n
    return counts


def most_frequent(counts: Counter[Pair]) -> Pair:
    """The most frequent pair; ties go to the smallest pair of ids, so training is deterministic."""
    return min(counts, key=lambda pair: (-counts[pair], pair))


def _require_text(text: object, what: str) -> str:
    """`text` if it is a str UTF-8 can encode; else a TypeError or ValueError saying what was expected."""
    if not isinstance(text, str):
        raise TypeError(f"{what} expects a str, got {type(text).__name__}; decode bytes to str first")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"the text holds a lone surrogate ({error.object[error.start : error.end]!r}) that UTF-8 cannot encode; "
            "repair it first, e.g. text.encode('utf-8', 'replace').decode()"
        ) from None
    return text


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte to a printable character (a space becomes 'Ġ', a newline 'Ċ'), as `tokenizers` uses."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {b: chr(b) for b in printable}, 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return dict(sorted(chars.items()))


class BPETokenizer:
    """A byte-level BPE tokenizer: `train(text, vocab_size)`, `encode(text)`, `decode(ids)`, and `merges` in order.

    Ids 0-255 are the bytes; every merge adds the token made of its two parts (a merge whose result already
    exists reuses that token's id, as `tokenizers` does), so `vocab[i]` is the bytes of token i.
    """

    def __init__(self, pattern: str = GPT2_PATTERN) -> None:
        self.pattern = pattern
        self._regex = regex.compile(pattern)
        self._reset([], trained=False)

    def _reset(self, merges: list[tuple[Pair, int]], trained: bool = True) -> None:
        """Install merges given as ((left id, right id), new id); the vocabulary follows from them."""
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]
        self._ranks: dict[Pair, tuple[int, int]] = {}
        for rank, ((a, b), new_id) in enumerate(merges):
            if new_id == len(self.vocab):
                self.vocab.append(self.vocab[a] + self.vocab[b])
            self._ranks.setdefault((a, b), (rank, new_id))
        self.merges: list[tuple[bytes, bytes]] = [(self.vocab[a], self.vocab[b]) for (a, b), _ in merges]
        self._trained = trained
        self._piece_cache: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def merge_ids(self) -> dict[Pair, int]:
        """Every merge as (left id, right id) -> new id, in the order learned: the priority `encode` applies."""
        return {pair: new_id for pair, (_, new_id) in self._ranks.items()}

    @classmethod
    def from_merges(cls, merges: Iterable[tuple[bytes, bytes]], pattern: str = GPT2_PATTERN) -> BPETokenizer:
        """A tokenizer from an ordered list of byte merges, e.g. the first k merges of a trained one."""
        tokenizer = cls(pattern)
        ids = {bytes([b]): b for b in range(256)}
        installed = []
        for left, right in merges:
            if left not in ids or right not in ids:
                raise ValueError(
                    f"merge ({left!r}, {right!r}) uses a token no earlier merge made; keep the merge order"
                )
            new_id = ids.setdefault(left + right, len(ids))
            installed.append(((ids[left], ids[right]), new_id))
        tokenizer._reset(installed)
        return tokenizer

    def train(self, text: str, vocab_size: int) -> BPETokenizer:
        """Learn merges on `text` until the vocabulary has `vocab_size` tokens (256 bytes + merges); returns self.

        Pair counts live in a dict, a heap finds the most frequent pair, and `where` remembers which words hold
        each pair, so a merge only re-counts the words it changes instead of the whole text.
        """
        _require_text(text, "train")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (one token per byte), got {vocab_size}")
        words = Counter(self._regex.findall(text))
        seqs = [list(word.encode("utf-8")) for word in words]
        counts = list(words.values())
        pair_counts: dict[Pair, int] = defaultdict(int)
        where: dict[Pair, set[int]] = defaultdict(set)
        for i, seq in enumerate(seqs):
            for pair in zip(seq, seq[1:]):
                pair_counts[pair] += counts[i]
                where[pair].add(i)
        heap = [(-n, pair) for pair, n in pair_counts.items()]
        heapq.heapify(heap)
        vocab = [bytes([b]) for b in range(256)]
        token_ids = {token: i for i, token in enumerate(vocab)}
        merges: list[tuple[Pair, int]] = []
        while len(vocab) < vocab_size:
            while heap and pair_counts.get(heap[0][1], 0) != -heap[0][0]:
                heapq.heappop(heap)  # a stale entry: that pair's count has changed since it was pushed
            if not heap:
                raise ValueError(
                    f"vocab_size={vocab_size} is more than this text allows: after {len(merges)} merges every "
                    f"pre-token is a single token ({len(vocab)} tokens); train on more text or ask for fewer tokens"
                )
            _, pair = heapq.heappop(heap)
            new_token = vocab[pair[0]] + vocab[pair[1]]
            if new_token not in token_ids:
                token_ids[new_token] = len(vocab)
                vocab.append(new_token)
            new_id = token_ids[new_token]
            merges.append((pair, new_id))
            changed = set()
            for i in where.pop(pair):
                seq, n = seqs[i], counts[i]
                merged = merge_pair(seq, pair, new_id)
                if len(merged) == len(seq):
                    continue  # this word lost the pair to an earlier merge
                for old in zip(seq, seq[1:]):
                    pair_counts[old] -= n
                    changed.add(old)
                for new in zip(merged, merged[1:]):
                    pair_counts[new] += n
                    where[new].add(i)
                    changed.add(new)
                seqs[i] = merged
            for p in changed:
                if pair_counts[p] > 0:
                    heapq.heappush(heap, (-pair_counts[p], p))
                else:
                    del pair_counts[p]
        self._reset(merges)
        return self

    def _require_trained(self) -> None:
        if not self._trained:
            raise ValueError(
                "this BPETokenizer has no merges yet: call train(text, vocab_size) or from_merges(...) first"
            )

    def _encode_piece(self, piece: str) -> list[int]:
        """One pre-token: start from its bytes and apply the earliest-learned merge present until none applies."""
        if piece in self._piece_cache:
            return self._piece_cache[piece]
        ids = list(piece.encode("utf-8"))
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: self._ranks.get(p, (len(self._ranks), 0)))
            if pair not in self._ranks:
                break
            ids = merge_pair(ids, pair, self._ranks[pair][1])
        self._piece_cache[piece] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`: pre-tokenize, then merge each piece's bytes in the order the merges were learned."""
        self._require_trained()
        return [i for piece in self._regex.findall(_require_text(text, "encode")) for i in self._encode_piece(piece)]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`: join the tokens' bytes and read them as UTF-8 (bytes that split a character become �)."""
        self._require_trained()
        return b"".join(self.vocab[self._token_index(i)] for i in ids).decode("utf-8", errors="replace")

    def _token_index(self, i: object) -> int:
        """`i` as a valid token id (Python, NumPy or 0-d torch integers), or a ValueError."""
        try:
            index = operator.index(i)
        except TypeError:
            index = -1
        if isinstance(i, bool) or not 0 <= index < len(self):
            raise ValueError(f"token ids must be ints in [0, {len(self)}), got {i!r}")
        return index

    def to_tokenizers(self) -> tokenizers.Tokenizer:
        """The same tokenizer as a `tokenizers.Tokenizer` (BPE model, ByteLevel pre-tokenizer and decoder)."""
        self._require_trained()
        if self.pattern != GPT2_PATTERN:
            raise ValueError("only the GPT-2 pre-tokenizer pattern has a `tokenizers` equivalent (ByteLevel)")
        chars = bytes_to_unicode()

        def text(token: bytes) -> str:
            return "".join(chars[b] for b in token)

        model = tokenizers.models.BPE(
            vocab={text(token): i for i, token in enumerate(self.vocab)},
            merges=[(text(a), text(b)) for a, b in self.merges],
        )
        tokenizer = tokenizers.Tokenizer(model)
        tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tokenizer.decoder = tokenizers.decoders.ByteLevel()
        return tokenizer
