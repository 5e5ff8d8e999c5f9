import pickle, re, numpy as np
from llm_workshop.concepts import bm25, hallucination, text

s = pickle.load(open("/tmp/state26.pkl", "rb"))
Q, G = s["questions"], s["gold_answers"]
SPL = {
    "A": r"(?<=[.!?])\s+(?=[\"'A-Z])",
    "B": r"(?<=[.!?’”])\s+(?=[‘“A-Z_])",
    "C": r"(?<=[.!?])\s+(?=[‘“A-Z_])",
    "E": r"(?<=[.!?][’”]?)\s+(?=[‘“A-Z_])",
}
for name, pat in SPL.items():
    R = re.compile(pat)
    for depth in (2, 3, 4, 5):
        for k in (1, 2, 3):
            for win in (1, 2):
                P = []
                for q, ranked in zip(Q, s["ranked_best"]):
                    sents = []
                    for c in ranked[:depth]:
                        ss = [x for x in R.split(s["texts"][c]) if len(x.split()) >= 3]
                        sents += [" ".join(ss[i : i + win]) for i in range(len(ss))]
                    sents = list(dict.fromkeys(sents))
                    idx = bm25.BM25([text.tokenize(x) for x in sents], k1=1.5, b=0.75)
                    P.append([sents[i] for i in idx.top_k(text.tokenize(q), k)[0].tolist()])
                inpass = np.mean([any(hallucination.is_correct(p, g) for p in ps) for ps, g in zip(P, G)])
                in1 = np.mean([hallucination.is_correct(ps[0], g) for ps, g in zip(P, G)])
                print(
                    f"{name} depth {depth} k {k} win {win}: in {inpass:.2f} in1 {in1:.2f} words {np.mean([len(p.split()) for ps in P for p in ps]):.0f}"
                )
