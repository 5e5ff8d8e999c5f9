"""Speculative decoding speed-up: greedy decoding with a draft model vs plain greedy decoding, identical tokens.

The smoke pair (0.7M target, 0.2M draft) is overhead-bound on a CPU: a forward pass of either costs about the same
fixed Python and kernel-launch time, so drafting is not cheaper than verifying. Here the target is a GPT-2 whose
forward pass costs enough to matter (4 layers x 256 wide, 3.8M parameters by default), pre-trained on the news
text like the smoke models, and the draft is a 1-layer, 64-wide GPT-2 (0.2M parameters, 19x smaller) distilled
from it. Both are trained here once (a few CPU minutes) and cached next to the smoke models.

The headline compares with the faster of two plain-greedy baselines (our own cached loop and `model.generate`).
Caveat, printed with a sample: greedy text of models this small collapses into repetition within a few tokens,
which a distilled draft predicts perfectly, so greedy acceptance is close to 1 and its speed-up is an upper bound.
The sampling line (temperature 1, same target distribution as plain sampling, tested in tests/test_speculative.py)
shows the speed-up at a realistic acceptance rate, on varied text.
Torch runs on one thread by default: under load from other processes one thread gives steadier timings, and
`taskset -c 0` pins it to a core. Run: python benchmarks/speculative.py [--ks 1 2 3 4 6 8] [--new-tokens 64]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging

from llm_workshop import models
from llm_workshop.concepts import decoding, distill, speculative, training
from llm_workshop.course import data
from llm_workshop.course.cache import cache_dir
from llm_workshop.course.timing import best_of
from llm_workshop.standins.tokenizer import smoke_tokenizer

TARGET = 1.5
PROMPTS = [
    "Holmes looked at the door and said",
    "The government said on Tuesday that",
    "Police said the man",
    "It was late in the evening when",
    "The Prime Minister told reporters",
    "I have no doubt that",
    "Australia's cricket team",
    "The fire spread",
]


def build_pair(out: Path, layers: int, width: int, steps: int) -> None:
    """Pre-train the target like the smoke models, distil the draft from it, save both under `out`."""
    tokenizer = smoke_tokenizer("causal")
    torch.manual_seed(0)
    target = AutoModelForCausalLM.from_config(
        models._smoke_gpt2_config(tokenizer, n_layer=layers, n_embd=width, n_head=width // 64)
    )
    training.pretrain_causal_lm(target, tokenizer, data.news_text(), steps=steps)
    torch.manual_seed(0)
    draft = AutoModelForCausalLM.from_config(models._smoke_gpt2_config(tokenizer, n_layer=1, n_embd=64, n_head=2))
    distill.train_student(draft, tokenizer, data.news_text(), steps=steps, teacher=target, temperature=2.0)
    for name, model in [("target", target), ("draft", draft)]:
        model.save_pretrained(out / name)
        tokenizer.save_pretrained(out / name)


def load_pair(layers: int, width: int, steps: int):
    out = cache_dir() / f"bench-speculative-{layers}x{width}-{steps}-{models.CACHE_VERSION}"
    if not (out / "draft" / "config.json").is_file():
        print(f"training the benchmark pair once into {out} ...", flush=True)
        start = time.perf_counter()
        build_pair(out, layers, width, steps)
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    target = AutoModelForCausalLM.from_pretrained(out / "target").eval()
    draft = AutoModelForCausalLM.from_pretrained(out / "draft").eval()
    return target, draft, AutoTokenizer.from_pretrained(out / "target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 4, 6, 8])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--target-layers", type=int, default=4)
    parser.add_argument("--target-width", type=int, default=256)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=1.0)
    args = parser.parse_args()
    logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    target, draft, tokenizer = load_pair(args.target_layers, args.target_width, args.steps)
    n_target, n_draft = (sum(p.numel() for p in m.parameters()) for m in (target, draft))
    prompts = [tokenizer(p, return_tensors="pt")["input_ids"] for p in PROMPTS]
    n = args.new_tokens
    print(
        f"target {n_target / 1e6:.2f}M, draft {n_draft / 1e6:.2f}M ({n_target / n_draft:.1f}x smaller); "
        f"{len(prompts)} prompts x {n} new tokens; torch threads {torch.get_num_threads()}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )

    with torch.inference_mode():
        ours, plain = best_of(lambda: [decoding.generate(target, ids, n) for ids in prompts], args.repeats)
        mask = [torch.ones_like(ids) for ids in prompts]
        hf, hf_out = best_of(
            lambda: [
                target.generate(ids, attention_mask=m, max_new_tokens=n, do_sample=False, repetition_penalty=1.0,
                                eos_token_id=None, pad_token_id=0)
                for ids, m in zip(prompts, mask)
            ],
            args.repeats,
        )  # fmt: skip
        assert all(torch.equal(a, b) for a, b in zip(plain, hf_out)), "our greedy loop and generate() disagree"
        baseline = min(ours, hf)
        print(f"plain greedy: our loop {ours:.2f} s, model.generate {hf:.2f} s -> baseline {baseline:.2f} s")
        print(f"{'k':>3} {'acceptance':>10} {'tokens/target pass':>18} {'seconds':>8} {'speed-up':>8}")
        results = {}
        for k in args.ks:
            seconds, runs = best_of(
                lambda k=k: [speculative.speculative_generate(target, draft, ids, n, k=k) for ids in prompts],
                args.repeats,
            )
            assert all(torch.equal(out, ref) for (out, _), ref in zip(runs, plain)), f"k={k} changed the tokens"
            drafted = sum(s.drafted for _, s in runs)
            accepted = sum(s.accepted for _, s in runs)
            per_pass = sum(s.new_tokens for _, s in runs) / sum(s.target_calls for _, s in runs)
            results[k] = (accepted / drafted, baseline / seconds)
            print(f"{k:>3} {accepted / drafted:>10.2f} {per_pass:>18.2f} {seconds:>8.2f} {baseline / seconds:>7.2f}x")

        k_hf = 4
        assisted, hf_spec = best_of(
            lambda: [
                target.generate(ids, attention_mask=m, assistant_model=draft, max_new_tokens=n, do_sample=False,
                                repetition_penalty=1.0, eos_token_id=None, pad_token_id=0, num_assistant_tokens=k_hf,
                                num_assistant_tokens_schedule="constant")
                for ids, m in zip(prompts, mask)
            ],
            args.repeats,
        )  # fmt: skip
        assert all(torch.equal(a, b) for a, b in zip(hf_spec, plain)), "assisted generation changed the tokens"
        print(f"transformers assisted generation (k={k_hf}): {assisted:.2f} s -> {baseline / assisted:.2f}x")
        best_k = max(results, key=lambda k: results[k][1])
        print("greedy sample:", repr(tokenizer.decode(plain[0][0, prompts[0].shape[1] :])))

        # sampling: the same distribution as plain sampling (tests/test_speculative.py), not the same tokens
        t = args.temperature
        sampled_plain, _ = best_of(
            lambda: [decoding.generate(target, ids, n, strategy="sample", temperature=t,
                                       generator=torch.Generator().manual_seed(0)) for ids in prompts],
            args.repeats,
        )  # fmt: skip
        seconds, runs = best_of(
            lambda: [speculative.speculative_generate(target, draft, ids, n, k=best_k, do_sample=True, temperature=t,
                                                      generator=torch.Generator().manual_seed(0)) for ids in prompts],
            args.repeats,
        )  # fmt: skip
        acceptance = sum(s.accepted for _, s in runs) / sum(s.drafted for _, s in runs)
        print(
            f"sampling at temperature {t}, k={best_k}: acceptance {acceptance:.2f}, "
            f"{sampled_plain / seconds:.2f}x plain sampling; sample: "
            f"{tokenizer.decode(runs[0][0][0, prompts[0].shape[1] :])!r}"
        )
    print(
        f"speculative decoding speed-up (greedy): {results[best_k][1]:.2f}x at k={best_k} (acceptance "
        f"{results[best_k][0]:.2f}), identical tokens (target >= {TARGET}x)"
    )


if __name__ == "__main__":
    main()
