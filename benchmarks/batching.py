"""Continuous vs static batching: throughput (generated tokens per second) on one mixed-length workload.

Both schedulers run the same paged GPT-2 engine (`llm_workshop.batching`) on the smoke GPT-2, so the ratio measures
scheduling alone; every request's tokens are checked equal between the two. For context it also times
`model.generate()` on the same static groups (left-padded prompts), transformers' own static batching.
Torch runs on one thread by default (steadier under load; `taskset -c 0` pins it).
Run: python benchmarks/batching.py [--requests 48] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from transformers.utils import logging

from llm_workshop import models
from llm_workshop.concepts import batching
from llm_workshop.course import data

TARGET = 1.5


def generate_static(model, requests, batch_size: int) -> float:
    """Seconds for `model.generate()` on groups of `batch_size` left-padded prompts, each group run to its longest
    answer (greedy, no EOS), as a server without continuous batching would."""
    start = time.perf_counter()
    for first in range(0, len(requests), batch_size):
        group = requests[first : first + batch_size]
        width = max(len(r.prompt) for r in group)
        ids = torch.tensor([[0] * (width - len(r.prompt)) + r.prompt for r in group])
        mask = torch.tensor([[0] * (width - len(r.prompt)) + [1] * len(r.prompt) for r in group])
        model.generate(ids, attention_mask=mask, max_new_tokens=max(r.max_new_tokens for r in group),
                       do_sample=False, repetition_penalty=1.0, eos_token_id=None, pad_token_id=0)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    model, tokenizer = models.load("gpt2", "smoke")
    text_ids = tokenizer(data.load_corpus()[:100_000])["input_ids"]
    requests = batching.mixed_workload(text_ids, args.requests, seed=0, output_range=(4, args.max_new_tokens))
    useful = sum(r.max_new_tokens for r in requests)
    print(
        f"{len(requests)} requests, prompts {min(len(r.prompt) for r in requests)}-"
        f"{max(len(r.prompt) for r in requests)} tokens, answers {min(r.max_new_tokens for r in requests)}-"
        f"{max(r.max_new_tokens for r in requests)} tokens ({useful} in all), batch size {args.batch_size}; "
        f"torch threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    with torch.inference_mode():
        static = batching.static_batching(model, requests, args.batch_size)
        continuous = batching.continuous_batching(model, requests, args.batch_size)
        assert static.outputs == continuous.outputs, "the schedule changed some request's tokens"
        hf_seconds = generate_static(model, requests, args.batch_size)
    for name, run in [("static", static), ("continuous", continuous)]:
        print(
            f"{name:10s} {run.steps:5d} forward passes, {run.rows:6d} rows ({run.rows - useful} padding), "
            f"{run.seconds:6.2f} s, {run.tokens_per_second:7.1f} tokens/s"
        )
    print(f"model.generate() on the same static groups: {hf_seconds:.2f} s, {useful / hf_seconds:.1f} tokens/s")
    ratio = continuous.tokens_per_second / static.tokens_per_second
    print(
        f"continuous batching throughput: {ratio:.2f}x static ({static.steps / continuous.steps:.2f}x fewer forward "
        f"passes), identical tokens (target >= {TARGET}x)"
    )


if __name__ == "__main__":
    main()
