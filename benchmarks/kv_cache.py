"""KV cache speed-up: greedy decoding of 256 new tokens with and without the cache, on two GPT-2 sizes.

The headline number is for a GPT-2-small-shaped model (12 layers, 768 wide, 12 heads, 1,024 positions, the smoke
tokenizer's 2,048-token vocabulary; 87M parameters). It is built from its config with random weights: the Hub is
not needed, and the time of a forward pass depends on the shapes, not on the values of the weights. The second
number is for the trained 0.7M-parameter smoke GPT-2, where fixed per-step overhead hides most of the saving.
Run: python benchmarks/kv_cache.py [--new-tokens 256] [--repeats 1]
"""

from __future__ import annotations

import argparse

import torch
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel
from transformers.utils import logging

from llm_workshop import models
from llm_workshop.concepts import decoding
from llm_workshop.course.timing import best_of

TARGET = 3.0


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


def gpt2_small_shape(vocab_size: int):
    """GPT-2 small's architecture (12 x 768, 12 heads, 1,024 positions) with random weights and the given vocabulary."""
    torch.manual_seed(0)
    config = GPT2Config(n_embd=768, n_layer=12, n_head=12, n_positions=1024, vocab_size=vocab_size)
    return GPT2LMHeadModel(config).eval()


def cache_speedup(model, ids: torch.Tensor, new_tokens: int, repeats: int) -> tuple[float, float]:
    """Seconds for greedy decoding with and without the KV cache (best of `repeats`); the tokens must be equal."""
    outputs = {}

    def run(use_cache: bool):
        outputs[use_cache] = decoding.generate(model, ids, new_tokens, use_cache=use_cache)

    with_cache = best_of(lambda: run(True), repeats)[0]
    without_cache = best_of(lambda: run(False), repeats)[0]
    assert torch.equal(outputs[True], outputs[False]), "the cache changed the tokens"
    return with_cache, without_cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    logging.set_verbosity_error()
    smoke, tokenizer = models.load("gpt2", "smoke")
    smoke = long_context_copy(smoke, 512)  # the smoke GPT-2 has 256 positions; prompt + 256 new tokens needs more
    ids = tokenizer("Holmes looked at the door and said", return_tensors="pt")["input_ids"]
    print(f"torch threads: {torch.get_num_threads()}, prompt {ids.shape[1]} tokens, {args.new_tokens} new tokens")

    with torch.inference_mode():
        results = {}
        for name, model in [("GPT-2-small shape", gpt2_small_shape(len(tokenizer))), ("smoke GPT-2", smoke)]:
            n_params = sum(p.numel() for p in model.parameters())
            with_cache, without_cache = cache_speedup(model, ids, args.new_tokens, args.repeats)
            results[name] = without_cache / with_cache
            print(
                f"{name:18s} {n_params / 1e6:6.1f}M params: {without_cache:7.2f} s without cache, "
                f"{with_cache:6.2f} s with cache -> {results[name]:.2f}x"
            )

        # model.generate() on the smoke model, to separate the model's own per-step cost from our loop's
        mask = torch.ones_like(ids)

        def hf(use_cache: bool):
            smoke.generate(
                ids, attention_mask=mask, max_new_tokens=args.new_tokens, do_sample=False, use_cache=use_cache,
                eos_token_id=None, pad_token_id=0,
            )  # fmt: skip

        hf_with, hf_without = best_of(lambda: hf(True), args.repeats)[0], best_of(lambda: hf(False), args.repeats)[0]
    print(f"smoke GPT-2 through model.generate(): {hf_without:.2f} s / {hf_with:.2f} s -> {hf_without / hf_with:.2f}x")
    headline = results["GPT-2-small shape"]
    print(f"KV cache speed-up (GPT-2-small shape, {args.new_tokens} new tokens): {headline:.2f}x (target >= {TARGET}x)")


if __name__ == "__main__":
    main()
