"""2.6's smoke answer accuracy for a generator, closed book and with retrieval, over several passage formats.

Self-contained: BM25 over the 100/20-word chunks (k1 1.5, b 0.75) reproduces the notebook's ranking of its fifty
held-out questions exactly (checked against the notebook's own state). Optionally builds a reader with RECIPE or
MIXTURE overrides first.

    OMP_NUM_THREADS=1 PYTHONPATH=. LLM_WORKSHOP_CACHE=build/cache python research/reader/evaluate.py NAME '{json}'

NAME "instruct" or "reader" evaluates the registry's stand-in; any other name builds `reader.build` with the
overrides into /tmp/reader-research/NAME (its process CPU time is reported) and evaluates it.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm_workshop import models
from llm_workshop.concepts import bm25, chunking, grounding, hallucination, judge, text
from llm_workshop.concepts import retrieval_eval as ev
from llm_workshop.standins import reader

torch.set_num_threads(1)
name, over = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
for key, value in over.items():
    if key in ("MAX_WORDS", "MAX_PASSAGES", "RANK_PRIOR"):
        setattr(reader, key, tuple(value) if isinstance(value, list) else value)
    else:
        (reader.MIXTURE if key in reader.MIXTURE else reader.RECIPE)[key] = value
cpu = 0.0
if name in models.REGISTRY:
    out = models.smoke_path(name)
else:
    out = Path(f"/tmp/reader-research/{name}")
    if not (out / "config.json").exists():
        start = time.process_time()
        reader.build(out, models.smoke_path("instruct"))
        cpu = time.process_time() - start
model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
tok = AutoTokenizer.from_pretrained(out)

chunks = [c.text for c in chunking.token_chunks(100, 20)]
index = bm25.BM25([text.tokenize(t) for t in chunks], k1=1.5, b=0.75)
items = ev.eval_items()
questions, golds = [q.question for q in items], [q.answer for q in items]
ranked = [index.top_k(text.tokenize(q), 10)[0].tolist() for q in questions]


def ask(message_lists: list[list[dict]], tokens: int = 96) -> list[str]:
    prompts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in message_lists]
    return [r.strip() for r in judge.replies(model, tok, prompts, tokens, batch_size=16)]


def sentence_windows(question: str, ids: list[int], k: int) -> list[str]:
    """The k sentences of chunks `ids` that BM25 (over those sentences alone) ranks best for the question."""
    pool = list(dict.fromkeys(s for i in ids for s in chunking.sentences(chunks[i])))
    local = bm25.BM25([text.tokenize(s) for s in pool], k1=1.5, b=0.75)
    return [pool[i] for i in local.top_k(text.tokenize(question), k)[0].tolist()]


closed = ask([grounding.closed_book_messages(q) for q in questions], 24)
result = {"name": name, "over": over, "cpu_s": round(cpu, 1),
          "closed": float(np.mean([hallucination.is_correct(a, g) for a, g in zip(closed, golds)]))}  # fmt: skip
formats = {"2 chunks": [[chunks[i] for i in r[:2]] for r in ranked]}
formats |= {
    f"{k} sentences of 4 chunks": [sentence_windows(q, r[:4], k) for q, r in zip(questions, ranked)] for k in (1, 2, 3)
}
for label, passages in formats.items():
    answers = ask([grounding.grounded_messages(q, p) for q, p in zip(questions, passages)])
    result[label] = {
        "acc": np.mean([hallucination.is_correct(a, g) for a, g in zip(answers, golds)]),
        "faithful": np.mean([grounding.faithful(a, p) for a, p in zip(answers, passages)]),
        "exact quote": np.mean([any(a.split("] ", 1)[-1] == p for p in ps) for a, ps in zip(answers, passages)]),
        "cites [1]": np.mean([grounding.cited_ids(a)[:1] == [1] for a in answers]),
        "gold in passages": np.mean(
            [any(hallucination.is_correct(p, g) for p in ps) for ps, g in zip(passages, golds)]
        ),
        "gold in [1]": np.mean([hallucination.is_correct(ps[0], g) for ps, g in zip(passages, golds)]),
    }
    result[label] = {k: round(float(v), 2) for k, v in result[label].items()}
print(json.dumps(result))
