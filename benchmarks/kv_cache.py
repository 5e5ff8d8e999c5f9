"""KV cache speed-up: greedy decoding of 256 new tokens with and without the cache on the smoke GPT-2.

The smoke GPT-2 has 256 positions, so the benchmark copies it into a model with 512 positions (same
weights; the extra position embeddings keep their random init, which changes no timing).
Run: python benchmarks/kv_cache.py [--new-tokens 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import AutoModelForCausalLM
from transformers.utils import logging

from llm_workshop import decoding, models


def long_context_copy(model, n_positions: int):
    """The same GPT-2 with `n_positions` position embeddings; trained rows copied, new rows left as initialised."""
    config = model.config.__class__.from_dict({**model.config.to_dict(), "n_positions": n_positions})
    torch.manual_seed(0)
    bigger = AutoModelForCausalLM.from_config(config)
    state = model.state_dict()
    wpe = bigger.transformer.wpe.weight.detach().clone()
    wpe[: state["transformer.wpe.weight"].shape[0]] = state["transformer.wpe.weight"]
    state["transformer.wpe.weight"] = wpe
    bigger.load_state_dict(state, strict=False)
    return bigger.eval()


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.set_verbosity_error()
    torch.manual_seed(0)
    model, tokenizer = models.load("gpt2", "smoke")
    model = long_context_copy(model, 512)
    ids = tokenizer("Holmes looked at the door and said", return_tensors="pt")["input_ids"]
    outputs = {}

    def run(use_cache: bool):
        outputs[use_cache] = decoding.generate(model, ids, args.new_tokens, use_cache=use_cache)

    with_cache = best_time(lambda: run(True), args.repeats)
    without_cache = best_time(lambda: run(False), args.repeats)
    assert torch.equal(outputs[True], outputs[False]), "the cache changed the tokens"
    print(
        f"torch threads: {torch.get_num_threads()}, prompt {ids.shape[1]} tokens, {args.new_tokens} new tokens (greedy)"
    )
    print(f"without cache: {without_cache:.3f} s   with cache: {with_cache:.3f} s")
    print(f"KV cache speed-up: {without_cache / with_cache:.2f}x (target >= 3x)")
    # the same measurement through transformers, to separate the model's own cost from our loop's
    mask = torch.ones_like(ids)

    def hf(use_cache: bool):
        model.generate(
            ids,
            attention_mask=mask,
            max_new_tokens=args.new_tokens,
            do_sample=False,
            use_cache=use_cache,
            eos_token_id=None,
            pad_token_id=0,
        )

    hf_with, hf_without = best_time(lambda: hf(True), args.repeats), best_time(lambda: hf(False), args.repeats)
    print(
        f"model.generate() for comparison: {hf_without:.3f} s without, {hf_with:.3f} s with cache "
        f"-> {hf_without / hf_with:.2f}x"
    )


if __name__ == "__main__":
    main()
