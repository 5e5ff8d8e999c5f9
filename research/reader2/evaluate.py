"""2.6's smoke answer accuracy of a generator on DEV (or, once, on the 50 test questions) for sentence-window variants.

    OMP_NUM_THREADS=1 PYTHONPATH=. LLM_WORKSHOP_CACHE=build/cache python research/reader2/evaluate.py MODEL SPLIT VARIANTS

MODEL: a registry name ("reader", "instruct"), a model directory, or "none" (the passages' ceilings only). SPLIT: dev or test. VARIANTS: a JSON list of
{"n": pool chunks, "widen": 0/1 (chunks widened to whole sentences), "chunkw": penalty per chunk rank, "mode": 0 the
sentence, 1 with the next, 2 with the previous, 3 with both (same chunk, <= 80 words), "k": passages,
"quote": 1 for quote-constrained decoding}.
"""

import functools
import json
import re
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from llm_workshop import models
from llm_workshop.concepts import bm25, chunking, grounding, hallucination, judge, quoting, text
from llm_workshop.concepts import retrieval_eval as ev
from llm_workshop.course.data import load_corpus

torch.set_num_threads(1)
name, split, variants = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out = models.smoke_path(name) if name in models.REGISTRY else Path(name)
if name != "none":  # "none": the passages' ceilings only, no model
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(out)
corpus = load_corpus()
chunk_objs = chunking.token_chunks(100, 20)
chunks = [c.text for c in chunk_objs]
index = bm25.BM25([text.tokenize(t) for t in chunks], k1=1.5, b=0.75)
items = ev.dev_items() if split == "dev" else ev.eval_items()
questions, golds = [q.question for q in items], [q.answer for q in items]
ranked = [index.top_k(text.tokenize(q), 12)[0].tolist() for q in questions]
END = re.compile(r"[.!?][’”]?\s")


def whole(i: int) -> str:
    """Chunk i widened to whole sentences (back to the previous sentence end, on to the next)."""
    c = chunk_objs[i]
    back = [m.end() for m in END.finditer(corpus, max(0, c.start - 400), c.start)]
    fwd = END.search(corpus, c.end, c.end + 400)
    return corpus[back[-1] if back else c.start : fwd.end() if fwd else c.end]


def windows(question: str, r: list[int], v: dict) -> list[str]:
    """The variant's k passages: sentences of the top n chunks ranked by a local BM25 less chunkw per chunk rank."""
    per_chunk = [chunking.sentences(whole(i) if v["widen"] else chunks[i]) for i in r[: v["n"]]]
    pool, where = [], {}
    for c, sents in enumerate(per_chunk):
        for j, s in enumerate(sents):
            if s not in where:
                where[s] = (c, j)
                pool.append(s)
    scores = bm25.BM25([text.tokenize(s) for s in pool], k1=1.5, b=0.75).scores(text.tokenize(question))
    scores = scores - v["chunkw"] * np.array([where[s][0] for s in pool])
    out = []
    for i in np.argsort(-scores, kind="stable")[: v["k"]]:
        c, j = where[pool[i]]
        sents, w = per_chunk[c], pool[i]
        if v["mode"] in (1, 3) and j + 1 < len(sents) and len(f"{w} {sents[j + 1]}".split()) <= v.get("maxw", 80):
            w = f"{w} {sents[j + 1]}"
        if v["mode"] in (2, 3) and j > 0 and len(f"{sents[j - 1]} {w}".split()) <= v.get("maxw", 80):
            w = f"{sents[j - 1]} {w}"
        out.append(w)
    return out


def ask(message_lists: list[list[dict]], tokens: int = 96) -> list[str]:
    prompts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in message_lists]
    return [r.strip() for r in judge.replies(model, tok, prompts, tokens, batch_size=16)]


closed = ask([grounding.closed_book_messages(q) for q in questions], 24) if name != "none" else [""] * len(items)
print(json.dumps({"model": str(out.name), "split": split, "n": len(items),
                  "closed": round(float(np.mean([hallucination.is_correct(a, g) for a, g in zip(closed, golds)])), 3)}))  # fmt: skip
for v in variants:
    if v.get("no_repeat"):  # a decoding knob: no n-gram of this size twice in a reply (stops copy loops)
        judge.GenerationConfig = functools.partial(GenerationConfig, no_repeat_ngram_size=v["no_repeat"])
    else:
        judge.GenerationConfig = GenerationConfig
    passages = [windows(q, r, v) for q, r in zip(questions, ranked)]
    messages = [grounding.grounded_messages(q, p) for q, p in zip(questions, passages)]
    if name == "none":
        answers = [""] * len(items)
    elif v.get("quote"):  # quote-constrained decoding (`quoting.QuoteLogitsProcessor`)
        prompts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in messages]
        answers = quoting.quoted_replies(model, tok, prompts, passages, v.get("tokens", 96))
    else:
        answers = ask(messages, v.get("tokens", 96))
    ok = [hallucination.is_correct(a, g) for a, g in zip(answers, golds)]
    row = {
        "acc": np.mean(ok),
        "faithful": np.mean([grounding.faithful(a, p) for a, p in zip(answers, passages)]),
        "cites [1]": np.mean([grounding.cited_ids(a)[:1] == [1] for a in answers]),
        "gold in [1]": np.mean([hallucination.is_correct(ps[0], g) for ps, g in zip(passages, golds)]),
        "gold in any": np.mean([any(hallucination.is_correct(p, g) for p in ps) for ps, g in zip(passages, golds)]),
        "words [1]": np.mean([len(ps[0].split()) for ps in passages]),
        "quotes": np.mean([quoting.is_quote(a, p) for a, p in zip(answers, passages)]),
    }
    print(json.dumps(v | {k: round(float(x), 3) for k, x in row.items()}), flush=True)
    for q, g, a, ps, good in zip(questions, golds, answers, passages, ok):
        if v.get("dump") and not good and hallucination.is_correct(ps[0], g):  # the answer was in [1]: why missed?
            print(f"  {q} | gold {g!r}\n    [1] {ps[0]}\n    -> {a}")
