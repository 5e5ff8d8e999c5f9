"""BPE training speed: our `bpe.BPETokenizer` vs Hugging Face `tokenizers` (Rust), 2,048 tokens on the whole corpus.

Both train a byte-level BPE (GPT-2 pre-tokenizer, 256 byte tokens, no special tokens) on the same text. The target
is ours <= 20 s on one core. Pin the process to one core and keep Rust to one thread for a fair comparison:
    RAYON_NUM_THREADS=1 taskset -c 0 python benchmarks/bpe.py [--vocab-size 2048] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from llm_workshop.concepts import bpe
from llm_workshop.course import data
from llm_workshop.course.timing import best_of

TARGET_S = 20.0


def train_tokenizers(text: str, vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator([text], trainer=trainer)
    return tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab-size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    text = data.load_corpus()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"corpus: {len(text):,} characters; CPU cores available to this process: {cores}; "
          f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset')}; load average {os.getloadavg()[0]:.2f}")  # fmt: skip

    ours_s, ours = best_of(lambda: bpe.BPETokenizer().train(text, args.vocab_size), args.repeats)
    rust_s, rust = best_of(lambda: train_tokenizers(text, args.vocab_size), args.repeats)

    chars = bpe.bytes_to_unicode()
    ours_merges = {tuple("".join(chars[b] for b in part) for part in merge) for merge in ours.merges}
    rust_merges = {tuple(m) for m in json.loads(rust.to_str())["model"]["merges"]}
    held_out = data.stories()[-1][1]
    same_ids = ours.encode(held_out) == ours.to_tokenizers().encode(held_out).ids

    print(f"ours:       {ours_s:6.2f} s for {len(ours.merges):,} merges ({len(ours):,} tokens)")
    print(f"tokenizers: {rust_s:6.2f} s ({rust.get_vocab_size():,} tokens)")
    print(f"ratio ours / tokenizers: {ours_s / rust_s:.1f}x; merges in common: {len(ours_merges & rust_merges):,} "
          f"of {len(rust_merges):,}; our merges in tokenizers encode the held-out story to our ids: {same_ids}")  # fmt: skip
    print(f"target ours <= {TARGET_S:.0f} s: {'met' if ours_s <= TARGET_S else 'NOT met'}")


if __name__ == "__main__":
    main()
