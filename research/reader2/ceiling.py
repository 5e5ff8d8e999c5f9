"""Sentence-window variants scored without a model: share of DEV questions whose answer is in passage [1] / in any
passage, and [1]'s words. Run on DEV only (the 50 test questions are scored once, with the chosen variant)."""

import itertools
import json
import re
import sys

import numpy as np

from llm_workshop.concepts import bm25, chunking, hallucination, text
from llm_workshop.concepts import retrieval_eval as ev
from llm_workshop.course.data import load_corpus

split = sys.argv[1] if len(sys.argv) > 1 else "dev"
items = ev.dev_items() if split == "dev" else ev.eval_items()
corpus = load_corpus()
chunk_objs = chunking.token_chunks(100, 20)
chunks = [c.text for c in chunk_objs]
index = bm25.BM25([text.tokenize(t) for t in chunks], k1=1.5, b=0.75)
questions, golds = [q.question for q in items], [q.answer for q in items]
ranked = [index.top_k(text.tokenize(q), 12)[0].tolist() for q in questions]
END = re.compile(r"[.!?][’”]?\s")


def whole(i: int) -> str:
    """Chunk i widened to whole sentences (back to the previous sentence end, on to the next)."""
    c = chunk_objs[i]
    back = [m.end() for m in END.finditer(corpus, max(0, c.start - 400), c.start)]
    fwd = END.search(corpus, c.end, c.end + 400)
    return corpus[back[-1] if back else c.start : fwd.end() if fwd else c.end]


def pool_of(r, n, widen):
    return list(dict.fromkeys(s for i in r[:n] for s in chunking.sentences(whole(i) if widen else chunks[i])))


def ranked_sents(q, pool, k1, b, bigram, chunkw, r, n, widen):
    toks = text.tokenize(q)
    local = bm25.BM25([text.tokenize(s) for s in pool], k1=k1, b=b)
    sc = local.scores(toks)
    if bigram:
        qb = set(zip(toks, toks[1:]))
        sc = sc + bigram * np.array([len(qb & set(zip(t, t[1:]))) for t in (text.tokenize(s) for s in pool)])
    if chunkw:
        first = {}
        for rank, i in enumerate(r[:n]):
            for s in chunking.sentences(whole(i) if widen else chunks[i]):
                first.setdefault(s, rank)
        sc = sc - chunkw * np.array([first[s] for s in pool])
    return [pool[i] for i in np.argsort(-sc, kind="stable")]


def window(s, pool_sents, mode):
    if mode == 0:
        return s
    j = pool_sents.index(s)
    out = s
    if mode in (1, 3) and j + 1 < len(pool_sents) and len((s + pool_sents[j + 1]).split()) <= 80:
        out = out + " " + pool_sents[j + 1]
    if mode in (2, 3) and j > 0 and len((pool_sents[j - 1] + out).split()) <= 80:
        out = pool_sents[j - 1] + " " + out
    return out


rows = []
for n, widen, k1b, bigram, chunkw, mode in itertools.product(
    (3, 4, 6), (0, 1), ((1.5, 0.75), (1.2, 0.3)), (0, 1.0), (0, 0.3), (0, 1, 3)
):
    p1, pany, words = [], [], []
    for q, r, g in zip(questions, ranked, golds):
        pool = pool_of(r, n, widen)
        best = ranked_sents(q, pool, *k1b, bigram, chunkw, r, n, widen)
        ps = [window(s, pool, mode) for s in best[:2]]
        p1.append(hallucination.is_correct(ps[0], g))
        pany.append(any(hallucination.is_correct(p, g) for p in ps))
        words.append(len(ps[0].split()))
    rows.append(dict(n=n, widen=widen, k1b=k1b, bigram=bigram, chunkw=chunkw, mode=mode,
                     in1=round(float(np.mean(p1)), 3), in2=round(float(np.mean(pany)), 3), words=round(float(np.mean(words)))))  # fmt: skip
for row in sorted(rows, key=lambda r: (-r["in1"], r["words"]))[:25]:
    print(json.dumps(row))
print(
    "baseline",
    [
        json.dumps(r)
        for r in rows
        if r["n"] == 4
        and not r["widen"]
        and r["k1b"] == (1.5, 0.75)
        and not r["bigram"]
        and not r["chunkw"]
        and r["mode"] == 0
    ],
)
