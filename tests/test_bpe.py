"""Byte-level BPE: the fast trainer equals the readable one, encodes like `tokenizers`, and round-trips any text."""

import json
import random
from collections import Counter

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from llm_workshop.concepts import bpe
from llm_workshop.course import data, verdict
from llm_workshop.exercises import m1_4

UNSEEN = [
    "",
    "Holmes",
    "naïve café, déjà vu — “quotes” and ‘apostrophes’",
    "emoji: 🕵️‍♂️🔍 👨‍👩‍👧‍👦 🇬🇧 ❤️",
    "日本語のテキスト、中文文本，한국어 텍스트",
    "Ελληνικά, русский текст, עברית, العربية, हिन्दी",
    "def f(x):\n\treturn {'a': x ** 2}  # comment\r\n",
    "    leading spaces, trailing spaces    ",
    "tabs\t\tand\n\n\nnewlines\u00a0nbsp\u3000ideographic space",
    "numbers 1234567890 3.14159 1e-5 -42 ½ ² ٣",
    "combining: e\u0301 a\u0308 n\u0303; zero width\u200bjoiner\u200d",
    "\x00\x01 control \x7f characters",
    "I'm, you're, we've, they'll, he'd, it's — and IT'S",
]


def random_text(rng: random.Random) -> str:
    """A random string drawn from scripts, symbols, emoji and white space, surrogates excluded."""
    ranges = [(0x20, 0x7E), (0x09, 0x0D), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF)]
    ranges += [(0x900, 0x97F), (0x2000, 0x206F), (0x3000, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAC80)]
    ranges += [(0x1F300, 0x1F6FF), (0x1F900, 0x1F9FF), (0xE000, 0xE010), (0x10000, 0x10050)]
    chars = []
    for _ in range(rng.randint(0, 40)):
        low, high = rng.choice(ranges)
        chars.append(chr(rng.randint(low, high)))
    return "".join(chars)


@pytest.fixture(scope="module")
def stories() -> list[tuple[str, str]]:
    return data.stories()


@pytest.fixture(scope="module")
def trained(stories) -> bpe.BPETokenizer:
    """Trained on the first eleven stories; the twelfth is held out."""
    return bpe.BPETokenizer().train("\n\n".join(body for _, body in stories[:-1]), 1024)


def readable_train(text: str, vocab_size: int) -> list[tuple[bytes, bytes]]:
    """The textbook trainer: recount every pair after every merge."""
    words = Counter(tuple(piece.encode("utf-8")) for piece in bpe.pretokenize(text))
    vocab = [bytes([b]) for b in range(256)]
    merges = []
    while len(vocab) < vocab_size:
        pair = bpe.most_frequent(bpe.count_pairs(words))
        merges.append((vocab[pair[0]], vocab[pair[1]]))
        words = Counter({tuple(bpe.merge_pair(w, pair, len(vocab))): n for w, n in words.items()})
        vocab.append(vocab[pair[0]] + vocab[pair[1]])
    return merges


def test_merge_pair_scans_left_to_right():
    assert bpe.merge_pair([97, 97, 97], (97, 97), 256) == [256, 97]
    assert bpe.merge_pair([1, 2, 3, 1, 2], (1, 2), 9) == [9, 3, 9]
    assert bpe.merge_pair([], (1, 2), 9) == []


def test_count_pairs_weights_each_word_by_its_count():
    assert bpe.count_pairs({(1, 2, 3): 2, (2, 3): 5}) == Counter({(1, 2): 2, (2, 3): 7})


def test_training_gives_the_vocabulary_size_and_frequent_merges(stories):
    text = stories[0][1]
    tokenizer = bpe.BPETokenizer().train(text, 300)
    assert len(tokenizer) == 300 and len(tokenizer.merges) == 44
    assert tokenizer.merges[0] in {(b" ", b"t"), (b"e", b" "), (b"h", b"e"), (b"t", b"h")}
    assert all(tokenizer.vocab[i] == a + b for i, (a, b) in enumerate(tokenizer.merges, start=256))


def test_fast_trainer_learns_the_readable_trainers_merges(stories):
    text = stories[2][1]
    assert bpe.BPETokenizer().train(text, 420).merges == readable_train(text, 420)


def test_training_is_deterministic(stories):
    text = stories[3][1][:20_000]
    assert bpe.BPETokenizer().train(text, 400).merges == bpe.BPETokenizer().train(text, 400).merges


def test_same_merges_as_the_tokenizers_trainer(stories, trained):
    """Both pick the most frequent pair each time; only the order of ties may differ."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=1024, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(["\n\n".join(body for _, body in stories[:-1])], trainer=trainer)
    theirs = {tuple(m) for m in json.loads(tokenizer.to_str())["model"]["merges"]}
    chars = bpe.bytes_to_unicode()
    ours = {tuple("".join(chars[b] for b in part) for part in merge) for merge in trained.merges}
    assert ours == theirs


def test_encode_matches_tokenizers_on_the_held_out_story(stories, trained):
    held_out = stories[-1][1]
    ids = trained.encode(held_out)
    assert ids == trained.to_tokenizers().encode(held_out).ids
    assert trained.decode(ids) == held_out
    assert len(ids) < 0.4 * len(held_out.encode("utf-8"))  # 1,024 tokens compress English ~3x over bytes


@pytest.mark.parametrize("text", UNSEEN, ids=range(len(UNSEEN)))
def test_round_trip_and_parity_on_unseen_strings(trained, text):
    ids = trained.encode(text)
    assert trained.decode(ids) == text
    assert ids == trained.to_tokenizers().encode(text).ids


def test_round_trip_and_parity_on_random_strings(trained):
    rng = random.Random(0)
    reference = trained.to_tokenizers()
    for _ in range(300):
        text = random_text(rng)
        ids = trained.encode(text)
        assert trained.decode(ids) == text, text
        assert ids == reference.encode(text).ids, text


def test_a_prefix_of_the_merges_is_the_smaller_tokenizer(stories):
    text = stories[4][1]
    big = bpe.BPETokenizer().train(text, 500)
    small = bpe.BPETokenizer.from_merges(big.merges[:100])
    assert small.merges == bpe.BPETokenizer().train(text, 356).merges and len(small) == 356
    assert small.encode(text) == bpe.BPETokenizer().train(text, 356).encode(text)


def test_a_merge_that_recreates_a_token_reuses_its_id():
    tokenizer = bpe.BPETokenizer.from_merges([(b"a", b"b"), (b"b", b"c"), (b"ab", b"c"), (b"a", b"bc")])
    assert len(tokenizer) == 259 and tokenizer.vocab[258] == b"abc"
    assert tokenizer.encode("abc") == [258] and tokenizer.decode([258]) == "abc"


def test_the_256_token_tokenizer_is_plain_utf8_bytes():
    tokenizer = bpe.BPETokenizer().train("any text", 256)
    assert tokenizer.merges == [] and tokenizer.encode("é!") == [0xC3, 0xA9, 0x21]
    assert tokenizer.decode(np.array([0xC3, 0xA9, 0x21])) == "é!", "NumPy integers are token ids too"


def test_bad_input_gets_one_clear_sentence(stories):
    fresh = bpe.BPETokenizer()
    with pytest.raises(ValueError, match="at least 256"):
        fresh.train("some text", 255)
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        fresh.train("some text", 300.0)
    with pytest.raises(TypeError, match="train expects a str, got bytes"):
        fresh.train(b"bytes", 300)
    with pytest.raises(ValueError, match="lone surrogate"):
        fresh.train("bad \udfff surrogate", 300)
    with pytest.raises(ValueError, match="more than this text allows"):
        fresh.train("ab ab abc", 1000)
    assert not fresh.merges, "a failed training leaves the tokenizer untouched"
    with pytest.raises(ValueError, match="call train"):
        fresh.encode("Holmes")
    with pytest.raises(ValueError, match="call train"):
        fresh.decode([1])
    tokenizer = bpe.BPETokenizer().train(stories[0][1][:5000], 300)
    with pytest.raises(TypeError, match="expects a str"):
        tokenizer.encode(b"bytes")
    with pytest.raises(ValueError, match="lone surrogate"):
        tokenizer.encode("bad \ud800 surrogate")
    with pytest.raises(ValueError, match=r"ints in \[0, 300\)"):
        tokenizer.decode([300])
    with pytest.raises(ValueError, match=r"ints in \[0, 300\), got 'a'"):
        tokenizer.decode(["a"])
    with pytest.raises(ValueError, match="keep the merge order"):
        bpe.BPETokenizer.from_merges([(b"ab", b"c")])
    with pytest.raises(ValueError, match="GPT-2 pre-tokenizer"):
        bpe.BPETokenizer(r"\S+|\s+").train("ab abc", 258).to_tokenizers()


def solution_count_pairs(words):
    counts = Counter()
    for word, n in words.items():
        for pair in zip(word, word[1:]):
            counts[pair] += n
    return counts


def solution_merge_step(words, new_id):
    counts = solution_count_pairs(words)
    pair = min(counts, key=lambda p: (-counts[p], p))
    return pair, {tuple(bpe.merge_pair(w, pair, new_id)): n for w, n in words.items()}


def test_check_merge_step(capsys):
    assert m1_4.check_merge_step(solution_merge_step)

    def largest_tie(words, new_id):
        counts = solution_count_pairs(words)
        pair = max(counts, key=lambda p: (counts[p], p))
        return pair, {tuple(bpe.merge_pair(w, pair, new_id)): n for w, n in words.items()}

    assert not m1_4.check_merge_step(largest_tie)
    assert "smallest pair" in capsys.readouterr().out

    def unweighted(words, new_id):
        return solution_merge_step(dict.fromkeys(words, 1), new_id)[0], solution_merge_step(words, new_id)[1]

    assert not m1_4.check_merge_step(unweighted)
    assert "weight each word" in capsys.readouterr().out

    def right_to_left(words, new_id):
        pair, _ = solution_merge_step(words, new_id)
        return pair, {tuple(m1_4._merge_right_to_left(w, pair, new_id)): n for w, n in words.items()}

    assert not m1_4.check_merge_step(right_to_left)
    assert "left to right" in capsys.readouterr().out
    assert not m1_4.check_merge_step(lambda words, new_id: None)
    assert not m1_4.check_merge_step(lambda words, new_id: ((0, 0), words))


def test_merge_step_hints_get_sharper_with_each_wrong_try(capsys, monkeypatch):
    monkeypatch.setattr(verdict, "_tries", Counter())  # a fresh kernel: no wrong tries yet
    for tries in range(1, 4):
        assert not m1_4.check_merge_step(lambda words, new_id: ((0, 0), words))
        assert capsys.readouterr().out.count("Hint:") == min(tries - 1, 2)


@pytest.mark.parametrize(
    "answer", [lambda w, n: (5, w), lambda w, n: ("ab", None), lambda w, n: ((1, 2), 7), lambda w, n: [1, 2]]
)
def test_check_merge_step_never_raises_on_malformed_answers(answer):
    assert m1_4.check_merge_step(answer) is False


def test_merge_ids_are_the_merges_in_the_order_learned(trained):
    merges = trained.merge_ids
    assert list(merges.values()) == list(range(256, len(trained)))
    assert [(trained.vocab[a], trained.vocab[b]) for a, b in merges] == trained.merges


def solution_encode(text, merges):
    ids = []
    for piece in bpe.pretokenize(text):
        piece_ids = list(piece.encode("utf-8"))
        while len(piece_ids) > 1:
            pair = min(zip(piece_ids, piece_ids[1:]), key=lambda p: merges.get(p, float("inf")))
            if pair not in merges:
                break
            piece_ids = bpe.merge_pair(piece_ids, pair, merges[pair])
        ids += piece_ids
    return ids


def in_turn(text, merges, whole_text=False, reverse=False):
    """Every merge applied over each piece (or the whole text) in turn: right in learned order, wrong reversed."""
    ids_of = [list(text.encode("utf-8"))] if whole_text else [list(p.encode("utf-8")) for p in bpe.pretokenize(text)]
    order = list(merges.items())[::-1] if reverse else merges.items()
    for pair, new_id in order:
        ids_of = [bpe.merge_pair(ids, pair, new_id) for ids in ids_of]
    return sum(ids_of, [])


def leftmost_first(text, merges):
    ids = []
    for piece in bpe.pretokenize(text):
        piece_ids = list(piece.encode("utf-8"))
        while found := [p for p in zip(piece_ids, piece_ids[1:]) if p in merges]:
            piece_ids = bpe.merge_pair(piece_ids, found[0], merges[found[0]])
        ids += piece_ids
    return ids


def one_merge_per_piece(text, merges):
    ids = []
    for piece in bpe.pretokenize(text):
        piece_ids = list(piece.encode("utf-8"))
        if found := [p for p in zip(piece_ids, piece_ids[1:]) if p in merges]:
            pair = min(found, key=merges.get)
            piece_ids = bpe.merge_pair(piece_ids, pair, merges[pair])
        ids += piece_ids
    return ids


def test_check_encode_accepts_both_right_ways(trained, stories):
    assert m1_4.check_encode(solution_encode)
    assert m1_4.check_encode(in_turn)  # each merge over the whole piece, in learned order, is the same encoding
    assert solution_encode(stories[-1][1], trained.merge_ids) == trained.encode(stories[-1][1])


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (lambda text, merges: list(text.encode("utf-8")), "bytes unmerged"),
        (lambda text, merges: in_turn(text, merges, whole_text=True), "pre-tokenize first"),
        (leftmost_first, "not the leftmost pair"),
        (one_merge_per_piece, "keep going"),
        (lambda text, merges: in_turn(text, merges, reverse=True), "expected ["),
        (lambda text, merges: "ids", "list of ints"),
        (lambda text, merges: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_check_encode_names_the_slip(answer, hint, capsys):
    assert m1_4.check_encode(answer) is False
    assert hint in capsys.readouterr().out
