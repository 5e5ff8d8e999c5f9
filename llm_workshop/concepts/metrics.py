"""Evaluation metrics written out: perplexity, ROUGE-N, ROUGE-L and corpus BLEU (checked against the libraries)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import torch

from llm_workshop.concepts.text import ngrams


@torch.no_grad()
def perplexity(model, input_ids: torch.Tensor, block_size: int = 128, stride: int | None = None) -> float:
    """exp(mean next-token cross-entropy) of `model` over a 1-D token sequence, in windows of `block_size`.

    With `stride < block_size` the windows overlap and only the new tokens of each window are scored,
    so every token is predicted once with up to `block_size - stride` tokens of context.
    """
    ids = input_ids.flatten()
    if ids.numel() < 2:
        raise ValueError("perplexity needs at least two tokens")
    stride = stride or block_size
    if not 0 < stride <= block_size:
        raise ValueError(f"stride must be in (0, block_size], got {stride}")
    device = next(model.parameters()).device
    model.eval()
    total_nll, total_tokens, scored_until = 0.0, 0, 0
    for start in range(0, ids.numel() - 1, stride):
        window = ids[start : start + block_size].to(device)
        if window.numel() < 2:
            break
        labels = window.clone()
        new_from = max(scored_until - start, 1)  # tokens before this were scored by an earlier window
        labels[:new_from] = -100
        n_scored = int((labels[1:] != -100).sum())
        if n_scored == 0:
            continue
        loss = model(input_ids=window.unsqueeze(0), labels=labels.unsqueeze(0)).loss
        total_nll += loss.item() * n_scored
        total_tokens += n_scored
        scored_until = start + window.numel()
    return math.exp(total_nll / total_tokens)


# --- ROUGE and BLEU, written out to match `rouge-score` and `sacrebleu` -------------------------


class Score(NamedTuple):
    """Precision, recall and their harmonic mean (F1), as `rouge_score` reports them."""

    precision: float
    recall: float
    fmeasure: float


class BleuScore(NamedTuple):
    """Corpus BLEU in points (0-100) with what it is made of, as `sacrebleu.corpus_bleu` reports it."""

    score: float
    precisions: list[float]
    bp: float
    sys_len: int
    ref_len: int


def rouge_tokenize(text: str) -> list[str]:
    """ROUGE's tokens: lowercase, every run of characters outside [a-z0-9] becomes a space, split."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _ngram_counts(tokens: list[str], n: int) -> Counter:
    return Counter(ngrams(tokens, n))


def f_measure(precision: float, recall: float) -> float:
    """The harmonic mean of precision and recall (0 when both are 0): ROUGE's and SQuAD's F1."""
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _references(ref: str | Sequence[str]) -> list[str]:
    refs = [ref] if isinstance(ref, str) else list(ref)
    if not refs or not all(isinstance(r, str) for r in refs):
        raise ValueError("ref must be a string or a non-empty list of strings (one per reference)")
    return refs


def _best(scores: list[Score]) -> Score:
    """With several references ROUGE keeps the one with the highest F1 (the first on a tie)."""
    return max(scores, key=lambda s: s.fmeasure)


def rouge_n(pred: str, ref: str | Sequence[str], n: int = 1) -> Score:
    """ROUGE-N: overlap of n-grams, each counted at most as often as it appears in the reference (clipping).

    recall = matches / reference n-grams, precision = matches / predicted n-grams. Several references:
    the best F1 wins, like `RougeScorer.score_multi`.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer (1 for ROUGE-1, 2 for ROUGE-2), got {n!r}")
    pred_ngrams = _ngram_counts(rouge_tokenize(pred), n)
    scores = []
    for reference in _references(ref):
        ref_ngrams = _ngram_counts(rouge_tokenize(reference), n)
        matches = sum(min(count, pred_ngrams[gram]) for gram, count in ref_ngrams.items())
        precision = matches / max(sum(pred_ngrams.values()), 1)
        recall = matches / max(sum(ref_ngrams.values()), 1)
        scores.append(Score(precision, recall, f_measure(precision, recall)))
    return _best(scores)


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (dynamic programming, one row kept)."""
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0  # row[j - 1] of the previous row
        for j, y in enumerate(b, start=1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def rouge_l(pred: str, ref: str | Sequence[str]) -> Score:
    """ROUGE-L: the longest common subsequence (in order, gaps allowed) over prediction and reference lengths."""
    pred_tokens = rouge_tokenize(pred)
    scores = []
    for reference in _references(ref):
        ref_tokens = rouge_tokenize(reference)
        if not pred_tokens or not ref_tokens:
            scores.append(Score(0.0, 0.0, 0.0))
            continue
        lcs = lcs_length(ref_tokens, pred_tokens)
        precision, recall = lcs / len(pred_tokens), lcs / len(ref_tokens)
        scores.append(Score(precision, recall, f_measure(precision, recall)))
    return _best(scores)


_BLEU_13A = [  # the mteval-v13a rules: split off punctuation and symbols, keep decimals and thousands together
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def bleu_tokenize(text: str) -> list[str]:
    """BLEU's standard '13a' tokens (WMT's mteval-v13a, sacrebleu's default); case is kept."""
    line = text.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, char in (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")):
        line = line.replace(entity, char)
    line = f" {line} "
    for pattern, replacement in _BLEU_13A:
        line = pattern.sub(replacement, line)
    return line.split()


def bleu(preds: Sequence[str], refs: Sequence[str | Sequence[str]], max_n: int = 4, smooth: str = "exp") -> BleuScore:
    """Corpus BLEU: geometric mean of clipped 1..max_n-gram precisions pooled over the corpus, times a brevity penalty.

    `refs[i]` is the reference (or list of references) of `preds[i]`. Brevity penalty exp(1 - r/c) when the
    corpus is shorter than its references, r summing per sentence the reference length closest to it.
    `smooth="exp"` (sacrebleu's default) gives the k-th n-gram order with no match a precision of
    1 / (2^k * total); `smooth="none"` makes any order without a match give BLEU 0.
    """
    if isinstance(preds, str) or isinstance(refs, str):
        raise ValueError("bleu scores a corpus: pass a list of predictions and a list of references")
    if len(preds) != len(refs):
        raise ValueError(f"got {len(preds)} predictions but {len(refs)} references; give one reference entry each")
    if not preds:
        raise ValueError("bleu needs at least one prediction")
    if not isinstance(max_n, int) or max_n < 1:
        raise ValueError(f"max_n must be a positive integer, got {max_n!r}")
    if smooth not in ("exp", "none"):
        raise ValueError(f"smooth must be 'exp' or 'none', got {smooth!r}")
    matches, totals = [0] * max_n, [0] * max_n
    sys_len = ref_len = 0
    for pred, ref in zip(preds, refs):
        pred_tokens = bleu_tokenize(pred)
        ref_tokens = [bleu_tokenize(r) for r in _references(ref)]
        sys_len += len(pred_tokens)
        # the reference length closest to the prediction's (the shorter one on a tie)
        ref_len += min((abs(len(r) - len(pred_tokens)), len(r)) for r in ref_tokens)[1]
        for n in range(1, max_n + 1):
            pred_ngrams = _ngram_counts(pred_tokens, n)
            max_ref = Counter()  # each n-gram may match as often as it appears in any single reference
            for r in ref_tokens:
                max_ref |= _ngram_counts(r, n)
            matches[n - 1] += sum(min(count, max_ref[gram]) for gram, count in pred_ngrams.items())
            totals[n - 1] += sum(pred_ngrams.values())
    bp = 1.0 if sys_len >= ref_len else (math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0)
    if not any(matches):  # nothing matches at all: BLEU is 0 whatever the smoothing
        return BleuScore(0.0, [0.0] * max_n, bp, sys_len, ref_len)
    precisions, halvings = [], 1.0
    for match, total in zip(matches, totals):
        if total == 0:
            precisions.append(0.0)
        elif match == 0 and smooth == "exp":
            halvings *= 2
            precisions.append(100.0 / (halvings * total))
        else:
            precisions.append(100.0 * match / total)
    if min(precisions) == 0:  # an order with no n-gram at all (prediction too short), or no match unsmoothed
        return BleuScore(0.0, precisions, bp, sys_len, ref_len)
    score = bp * math.exp(sum(math.log(p) for p in precisions) / max_n)
    return BleuScore(score, precisions, bp, sys_len, ref_len)
