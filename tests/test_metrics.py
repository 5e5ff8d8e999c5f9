"""ROUGE and BLEU written from scratch give the same numbers as `rouge-score` and `sacrebleu`."""

import math
import random

import pytest
import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from llm_workshop.concepts import metrics
from llm_workshop.exercises import m2_3

SCORER = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rouge3", "rougeL"], use_stemmer=False)

# (prediction, reference) pairs, edge cases included
PAIRS = [
    ("it is very cold outside", "it is not cold outside"),
    ("The quick brown fox jumps over the lazy dog.", "The quick brown dog jumps on the log."),
    ("", "Holmes looked at the door."),  # empty prediction
    ("Holmes looked at the door.", ""),  # empty reference
    ("", ""),
    ("Watson took his hat", "a completely unrelated sentence"),  # no overlap
    ("the the the the the", "the cat sat on the mat"),  # repeated words are clipped
    ("the cat the cat the cat", "the cat sat on the mat with the cat"),
    ("Mr. Holmes, I presume?", "mr holmes i presume"),  # case and punctuation are ignored
    ("In 1891, it cost £3.50 -- a café's price!", "in 1891 it cost 3 50 at the cafe"),  # numbers, non-ASCII
    ("word", "word"),
    ("a b c d e f", "f e d c b a"),  # same words, reversed order
    ("police killed the gunman", "the gunman was shot down by police"),
]


def random_sentence(rng: random.Random, vocab: list[str]) -> str:
    return " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 14)))


def random_pairs(count: int = 200, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    vocab = ["the", "a", "cat", "dog", "sat", "on", "mat", "Holmes", "Watson", "door", ",", ".", "ran", "it"]
    return [(random_sentence(rng, vocab), random_sentence(rng, vocab)) for _ in range(count)]


def assert_same(ours: metrics.Score, theirs, tol: float = 1e-6) -> None:
    assert ours.precision == pytest.approx(theirs.precision, abs=tol)
    assert ours.recall == pytest.approx(theirs.recall, abs=tol)
    assert ours.fmeasure == pytest.approx(theirs.fmeasure, abs=tol)


def assert_rouge_same(pred: str, ref: str) -> None:
    theirs = SCORER.score(ref, pred)  # rouge_score takes (target, prediction)
    for n in (1, 2, 3):
        assert_same(metrics.rouge_n(pred, ref, n), theirs[f"rouge{n}"])
    assert_same(metrics.rouge_l(pred, ref), theirs["rougeL"])


@pytest.mark.parametrize(("pred", "ref"), PAIRS)
def test_rouge_matches_rouge_score(pred, ref):
    assert_rouge_same(pred, ref)


def test_rouge_matches_rouge_score_on_random_pairs():
    for pred, ref in random_pairs():
        assert_rouge_same(pred, ref)


def test_rouge_tokenizer_matches_rouge_score():
    from rouge_score import tokenize

    for pred, ref in PAIRS:
        assert metrics.rouge_tokenize(pred) == tokenize.tokenize(pred, None)
        assert metrics.rouge_tokenize(ref) == tokenize.tokenize(ref, None)


def test_rouge_with_several_references_keeps_the_best():
    pred = "Holmes smoked his pipe by the fire"
    refs = ["Watson read the paper", "Holmes smoked a pipe near the fire", "the fire was lit"]
    theirs = SCORER.score_multi(refs, pred)
    for n in (1, 2):
        assert_same(metrics.rouge_n(pred, refs, n), theirs[f"rouge{n}"])
    assert_same(metrics.rouge_l(pred, refs), theirs["rougeL"])
    assert metrics.rouge_n(pred, refs, 1) == metrics.rouge_n(pred, refs[1], 1)


def test_rouge_by_hand():
    # the seed's example: one word differs, so ROUGE-1 cannot tell "very" from "not" but ROUGE-2 loses two bigrams
    r1 = metrics.rouge_n("it is not cold outside", "it is very cold outside", 1)
    r2 = metrics.rouge_n("it is not cold outside", "it is very cold outside", 2)
    assert r1 == metrics.Score(0.8, 0.8, pytest.approx(0.8))
    assert r2.recall == pytest.approx(2 / 4)
    assert metrics.rouge_n("the the the the", "the cat sat on the mat", 1).precision == pytest.approx(2 / 4)
    assert metrics.lcs_length(list("abcbdab"), list("bdcaba")) == 4


def test_bleu_tokenizer_matches_13a():
    tokenizer = Tokenizer13a()
    texts = [p for pair in PAIRS for p in pair] + [
        "It's 3.14, not 3,14 -- or 1,000.5 (well-known).",
        "He said &quot;no&quot; &amp; left; 5-4 &lt;b&gt;",
        "U.S. policy: $100/hour [approx.] {sic} ~ `quoted` @home #tag\nnext line-\nbroken",
    ]
    for text in texts:
        assert metrics.bleu_tokenize(text) == tokenizer(text.rstrip()).split(), text


def sacre(preds, refs, **kwargs):
    """sacrebleu wants reference *streams*: streams[k][i] is the k-th reference of prediction i."""
    refs = [[r] if isinstance(r, str) else list(r) for r in refs]
    width = max(len(r) for r in refs)
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
    return sacrebleu.corpus_bleu(preds, streams, **kwargs)


def assert_bleu_same(preds, refs, smooth="exp"):
    ours = metrics.bleu(preds, refs, smooth=smooth)
    theirs = sacre(preds, refs, smooth_method=smooth)
    assert ours.score == pytest.approx(theirs.score, abs=1e-2)
    assert ours.bp == pytest.approx(theirs.bp, abs=1e-9)
    assert (ours.sys_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)
    assert ours.precisions == pytest.approx(theirs.precisions, abs=1e-9)
    return ours, theirs


def test_bleu_matches_sacrebleu_on_a_corpus():
    preds, refs = list(zip(*PAIRS))
    smoothed, _ = assert_bleu_same(preds, refs, "exp")
    plain, _ = assert_bleu_same(preds, refs, "none")
    # no 4-gram of this corpus matches: unsmoothed BLEU collapses to 0, smoothing keeps a usable number
    assert plain.precisions[3] == 0 and plain.score == 0
    assert 0 < smoothed.score < 100


@pytest.mark.parametrize("smooth", ["exp", "none"])
def test_bleu_matches_sacrebleu_sentence_by_sentence(smooth):
    for pred, ref in PAIRS + random_pairs(100, seed=1):
        assert_bleu_same([pred], [ref], smooth)


def test_bleu_random_corpora():
    pairs = random_pairs(300, seed=2)
    for start in range(0, 300, 30):
        preds, refs = zip(*pairs[start : start + 30])
        assert_bleu_same(list(preds), list(refs))


def test_bleu_with_several_references():
    preds = ["Holmes smoked his pipe by the fire .", "Watson read the morning paper", "the door opened"]
    refs = [
        ["Holmes smoked a pipe by the fire.", "By the fire, Holmes smoked his pipe."],
        ["Watson was reading the morning paper", "Watson read the paper in the morning", "Watson read"],
        ["the door opened slowly"],  # a variable number of references per prediction
    ]
    ours, _ = assert_bleu_same(preds, refs)
    assert ours.score > metrics.bleu(preds, [r[-1] for r in refs]).score  # more references, more matches


def test_bleu_extremes():
    text = "Holmes looked at the door and then at the window of the room"
    assert metrics.bleu([text], [text]).score == pytest.approx(100)
    assert metrics.bleu(["nothing here matches"], [text]).score == 0
    assert metrics.bleu([""], [text]).score == 0
    short = metrics.bleu(["Holmes looked at the door"], [text])
    assert short.bp < 1  # shorter than the reference: brevity penalty


def test_bad_input():
    with pytest.raises(ValueError, match="positive integer"):
        metrics.rouge_n("a b", "a b", 0)
    with pytest.raises(ValueError, match="non-empty list"):
        metrics.rouge_l("a b", [])
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        metrics.bleu(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one"):
        metrics.bleu([], [])
    with pytest.raises(ValueError, match="list of predictions"):
        metrics.bleu("a cat", "a cat")
    with pytest.raises(ValueError, match="smooth"):
        metrics.bleu(["a"], ["a"], smooth="floor")
    with pytest.raises(ValueError, match="max_n"):
        metrics.bleu(["a"], ["a"], max_n=0)


def test_check_rouge_l_recall(capsys):
    def right(pred, ref):  # written out: LCS by dynamic programming over rouge tokens
        p, r = metrics.rouge_tokenize(pred), metrics.rouge_tokenize(ref)
        table = [[0] * (len(r) + 1) for _ in range(len(p) + 1)]
        for i, a in enumerate(p):
            for j, b in enumerate(r):
                table[i + 1][j + 1] = table[i][j] + 1 if a == b else max(table[i][j + 1], table[i + 1][j])
        return table[-1][-1] / len(r)

    def unigram_recall_instead(pred, ref):  # ignores word order: wrong on the scrambled sentence
        return metrics.rouge_n(pred, ref, 1).recall

    assert m2_3.check_rouge_l_recall(right)
    assert not m2_3.check_rouge_l_recall(unigram_recall_instead)
    assert not m2_3.check_rouge_l_recall(lambda pred, ref: metrics.rouge_l(pred, ref).precision)
    assert not m2_3.check_rouge_l_recall(lambda pred, ref: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not m2_3.check_rouge_l_recall(lambda pred, ref: None)
    assert "return a number" in capsys.readouterr().out


def test_brevity_penalty_check_agrees_with_bleu(capsys):
    def bp(c, r):
        return 1.0 if c >= r else (math.exp(1 - r / c) if c > 0 else 0.0)

    score = metrics.bleu(["the cat sat"], ["the cat sat on the mat"])
    assert score.bp == pytest.approx(bp(3, 6))  # the exercise's formula is the one bleu() applies
    assert m2_3.check_brevity_penalty(bp)
    assert not m2_3.check_brevity_penalty(lambda c, r: math.exp(1 - r / c) if c else 0.0)  # no cap at 1
    assert not m2_3.check_brevity_penalty(lambda c, r: min(1.0, c / r))
    assert "expected" in capsys.readouterr().out
