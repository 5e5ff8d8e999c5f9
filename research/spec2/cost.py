"""Cost ratio c and v_k of a research pair, measured as 2.4 measures them: python research/spec2/cost.py TARGET DRAFT."""

from __future__ import annotations

import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging

from llm_workshop.concepts import decoding, speculative

PROMPTS = ["Holmes looked at the door and said", "The government said on Tuesday that", "Police said the man"]


def main() -> None:
    logging.set_verbosity_error()
    torch.set_num_threads(1)
    target, draft = (AutoModelForCausalLM.from_pretrained(p).eval() for p in sys.argv[1:3])
    tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
    prompts = [tokenizer(p, return_tensors="pt")["input_ids"] for p in PROMPTS]
    greedy = [decoding.generate(target, ids, 48) for ids in prompts]
    alpha = sum(speculative.greedy_acceptance(draft, o, p.shape[1]) for o, p in zip(greedy, prompts)) / 3
    stretch = torch.cat([greedy[1], greedy[2][:, 1:]], dim=1)
    passes = {"draft": (draft, 1), "target": (target, 1)} | {k: (target, k + 1) for k in [1, 2, 3, 4]}
    costs = speculative.seconds_per_pass(passes, stretch, repeats=5)
    c = costs["draft"] / costs["target"]
    v = {k: costs[k] / costs["target"] for k in [1, 2, 3, 4]}
    best = max((speculative.predicted_speedup(alpha, c, k, v[k]), k) for k in v)
    print(
        f"{sys.argv[2]}: alpha {alpha:.3f} c {c:.3f} target {costs['target'] * 1e3:.2f} ms v {[round(x, 2) for x in v.values()]} "
        f"P {best[0]:.2f} at k={best[1]} ({torch.backends.cpu.get_cpu_capability()})"
    )


if __name__ == "__main__":
    main()
