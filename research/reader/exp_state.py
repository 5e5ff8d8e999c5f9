import pickle, re, sys, time, json, torch, numpy as np
from pathlib import Path

torch.set_num_threads(1)
from transformers import AutoModelForCausalLM, AutoTokenizer
from llm_workshop import models
from llm_workshop.concepts import bm25, grounding, hallucination, judge, text
from llm_workshop.standins import reader

name = sys.argv[1]
over = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
for k, v in over.items():
    if k in ("MAX_WORDS", "MAX_PASSAGES"):
        setattr(reader, k, v)
        continue
    if k == "evalsplit":
        continue
    if k == "prior":
        reader.RANK_PRIOR = tuple(v)
        continue
    if k == "split":
        reader.SENTENCE = __import__("re").compile(v)
        reader.story_sentences.cache_clear()
        continue
    (reader.MIXTURE if k in reader.MIXTURE else reader.RECIPE)[k] = v
out = Path(f"/tmp/rd/m-{name}")
if name == "instruct":
    out = models.smoke_path("instruct")
    cpu = 0
elif not (out / "config.json").exists():
    t = time.process_time()
    reader.build(out, models.smoke_path("instruct"))
    cpu = time.process_time() - t
else:
    cpu = -1
model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
tok = AutoTokenizer.from_pretrained(out)
if "evalsplit" in over:
    reader.SENTENCE = __import__("re").compile(over["evalsplit"])
s = pickle.load(open("/tmp/state26.pkl", "rb"))
Q, G = s["questions"], s["gold_answers"]


def ask(msgs, n=96):
    prompts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in msgs]
    return [r.strip() for r in judge.replies(model, tok, prompts, n, batch_size=16)]


def sentences(t):
    return [x for x in reader.SENTENCE.split(t) if len(x.split()) >= 3]


def windows(depth, k):
    P = []
    for q, ranked in zip(Q, s["ranked_best"]):
        sents = list(dict.fromkeys(x for c in ranked[:depth] for x in sentences(s["texts"][c])))
        idx = bm25.BM25([text.tokenize(x) for x in sents], k1=1.5, b=0.75)
        P.append([sents[i] for i in idx.top_k(text.tokenize(q), k)[0].tolist()])
    return P


closed = ask([grounding.closed_book_messages(q) for q in Q], 24)
acc_c = np.mean([hallucination.is_correct(a, g) for a, g in zip(closed, G)])
res = {"name": name, "over": over, "cpu_s": round(cpu, 1), "closed": acc_c}
for label, P in [
    ("chunks2", [[s["texts"][c] for c in h[:2]] for h in s["hits"]]),
    ("sent4x1", windows(4, 1)),
    ("sent4x2", windows(4, 2)),
    ("sent4x3", windows(4, 3)),
]:
    ans = ask([grounding.grounded_messages(q, p) for q, p in zip(Q, P)])
    acc = np.mean([hallucination.is_correct(a, g) for a, g in zip(ans, G)])
    fa = np.mean([grounding.faithful(a, p) for a, p in zip(ans, P)])
    exact = np.mean([any(a.split("]", 1)[-1].strip() == p for p in ps) for a, ps in zip(ans, P)])
    c1 = np.mean([grounding.cited_ids(a)[:1] == [1] for a in ans])
    ceil = np.mean([any(hallucination.is_correct(p, g) for p in ps) for ps, g in zip(P, G)])
    res[label] = dict(
        acc=round(acc, 2), faithful=round(fa, 2), exact=round(exact, 2), cites1=round(c1, 2), gold_in=round(ceil, 2)
    )
    if label == "sent4x2":
        print(ans[:3], file=sys.stderr)
print(json.dumps(res))
open("/tmp/rd/results.jsonl", "a").write(json.dumps(res) + "\n")
