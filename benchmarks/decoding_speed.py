"""From-scratch decoding (`llm_workshop.decoding.generate`) vs `model.generate()`: same strategy, same tokens, time ratio.

Run: python benchmarks/decoding_speed.py [--model gpt2|chat] [--new-tokens 128] [--repeats 3]
"""

from __future__ import annotations

import argparse

import torch
from transformers.utils import logging

from llm_workshop import models
from llm_workshop.concepts import decoding
from llm_workshop.course.timing import best_of

STRATEGIES = {
    "greedy": (dict(strategy="greedy"), dict(do_sample=False)),
    "sample top-p": (
        dict(strategy="sample", temperature=0.8, top_p=0.9),
        dict(do_sample=True, temperature=0.8, top_p=0.9, top_k=0),
    ),
    "beam x4": (dict(strategy="beam", num_beams=4), dict(do_sample=False, num_beams=4)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt2", choices=["gpt2", "chat"])
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.set_verbosity_error()
    model, tokenizer = models.load(args.model, "smoke")
    model.eval()
    ids = tokenizer("Holmes looked at the door and said", return_tensors="pt")["input_ids"]
    mask = torch.ones_like(ids)
    print(
        f"smoke {args.model}, torch threads {torch.get_num_threads()}, {args.new_tokens} new tokens, best of {args.repeats}"
    )
    for name, (ours_kwargs, hf_kwargs) in STRATEGIES.items():
        reseed = lambda: torch.manual_seed(0)  # noqa: E731  (sampling: both sides draw the same random stream)
        ours_s, ours = best_of(
            lambda kw=ours_kwargs: decoding.generate(model, ids, args.new_tokens, **kw), args.repeats, reseed
        )
        hf_s, theirs = best_of(
            lambda kw=hf_kwargs: model.generate(
                ids, attention_mask=mask, max_new_tokens=args.new_tokens, eos_token_id=None, pad_token_id=0, **kw
            ),
            args.repeats,
            reseed,
        )
        same = "same tokens" if torch.equal(ours, theirs) else "DIFFERENT tokens"
        print(
            f"{name:>13}: ours {ours_s:.3f} s, generate() {hf_s:.3f} s -> ratio {ours_s / hf_s:.2f}x (target <= 1.5x), {same}"
        )


if __name__ == "__main__":
    main()
