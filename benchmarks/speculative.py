"""Speculative decoding speed-up on the registry pair (gpt2-medium target, distilgpt2 draft), as notebook 2.4 measures it.

In the smoke tier the pair is the course's stand-ins: a 14-layer GPT-2 target and a 1-layer draft distilled on the
target's own greedy text. The benchmark measures the acceptance rate alpha (how often the draft proposes the
target's greedy token), the cost ratio c (draft pass / target pass, one new token, KV cache) and the cost v_k of the
verifying pass over k + 1 tokens (in one-token target passes); predicts the speed-up at each k with Leviathan et
al.'s Theorem 3.8 with the verifying pass costed, E(alpha, k) / (c k + v_k); and measures it against plain greedy
decoding, identical tokens asserted. Every pass and every prompt's generation is timed `--repeats` times and its
fastest run kept; plain decoding is timed again next to each k.
Torch runs on one thread by default (steadier under load; `taskset -c 0` pins it to a core).

    python benchmarks/speculative.py [--tier smoke] [--ks 1 2 3 4 6] [--new-tokens 48] [--threads 1]
"""

from __future__ import annotations

import argparse
import os

import torch
from transformers.utils import logging

from llm_workshop import models
from llm_workshop.concepts import decoding, speculative
from llm_workshop.course.timing import best_of

PROMPTS = ["Holmes looked at the door and said", "The government said on Tuesday that", "Police said the man"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", default="smoke", choices=["smoke", "full"])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 4, 6])
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    target, tokenizer = models.load("gpt2-medium", args.tier)
    draft, _ = models.load("distilgpt2", args.tier)
    prompts = [tokenizer(p, return_tensors="pt")["input_ids"] for p in PROMPTS]
    n = args.new_tokens
    n_target, n_draft = (sum(p.numel() for p in m.parameters()) for m in (target, draft))
    print(
        f"target {n_target / 1e6:.2f}M ({target.config.n_layer} layers), draft {n_draft / 1e6:.2f}M "
        f"({draft.config.n_layer}); {len(prompts)} prompts x {n} new tokens; torch threads {torch.get_num_threads()}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    with torch.inference_mode():
        greedy = [decoding.generate(target, ids, n) for ids in prompts]
        alpha = sum(speculative.greedy_acceptance(draft, g, ids.shape[1]) for g, ids in zip(greedy, prompts)) / len(
            prompts
        )
        stretch = torch.cat([greedy[1], greedy[2][:, 1:]], dim=1)[:, :120]

        passes = {"draft": (draft, 1), "target": (target, 1)} | {k: (target, k + 1) for k in args.ks}
        costs = speculative.seconds_per_pass(passes, stretch, repeats=args.repeats)
        target_pass, c = costs["target"], costs["draft"] / costs["target"]
        print(f"alpha {alpha:.3f}; target pass {target_pass * 1e3:.3f} ms, cost ratio c {c:.3f}")
        print(f"{'k':>2} {'tok/pass':>8} {'E(a,k)':>7} {'v_k':>5} {'P(v=1)':>7} {'P':>6} {'S':>6} {'|S-P|/P':>7}")
        contenders = {"plain": lambda ids: decoding.generate(target, ids, n)}
        contenders |= {
            k: lambda ids, k=k: speculative.speculative_generate(target, draft, ids, n, k=k) for k in args.ks
        }
        fastest = {key: [float("inf")] * len(prompts) for key in contenders}
        outputs = {}
        for _ in range(args.repeats):  # the contenders take turns, so that all meet the same load
            for key, generate_one in contenders.items():
                for i, ids in enumerate(prompts):
                    elapsed, outputs[key, i] = best_of(lambda f=generate_one, ids=ids: f(ids), repeats=1)
                    fastest[key][i] = min(fastest[key][i], elapsed)
        results = {}
        for k in args.ks:
            verify_cost = costs[k] / target_pass
            runs = [outputs[k, i] for i in range(len(prompts))]
            plain, seconds = sum(fastest["plain"]), sum(fastest[k])
            assert all(torch.equal(out, ref) for (out, _), ref in zip(runs, greedy)), f"k={k} changed the tokens"
            per_round = sum(s.new_tokens for _, s in runs) / sum(s.target_calls for _, s in runs)
            p, s = speculative.predicted_speedup(alpha, c, k, verify_cost), plain / seconds
            results[k] = (s, p)
            print(
                f"{k:>2} {per_round:>8.2f} {speculative.expected_tokens_per_round(alpha, k):>7.2f} {verify_cost:>5.2f} "
                f"{speculative.predicted_speedup(alpha, c, k):>7.2f} {p:>6.2f} {s:>6.2f} {abs(s - p) / p:>7.2f}"
            )
    k_best = max(results, key=lambda k: results[k][1])  # the k the prediction picks, as in the notebook
    s, p = results[k_best]
    print(
        f"speculative decoding: {s:.2f}x wall clock at k={k_best} (acceptance {alpha:.2f}, cost ratio {c:.2f}, "
        f"predicted {p:.2f}x)"
    )


if __name__ == "__main__":
    main()
