"""Build a research variant of 2.4's smoke target: python research/spec2/target.py OUT STACK STACKED_STEPS [BASE_STEPS]."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from llm_workshop.concepts.training import fit, random_windows
from llm_workshop.standins import gpt2_medium as gm
from llm_workshop.standins.gpt2 import config
from llm_workshop.standins.tokenizer import smoke_tokenizer


def main() -> None:
    out, stack, steps = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    base_steps = int(sys.argv[4]) if len(sys.argv) > 4 else gm.BASE_STEPS
    torch.set_num_threads(1)
    start = time.process_time()
    torch.manual_seed(0)
    tokenizer = smoke_tokenizer("causal")
    ids = gm.train_ids(tokenizer)
    model = AutoModelForCausalLM.from_config(
        config(tokenizer, n_layer=gm.BASE_LAYERS, n_embd=gm.WIDTH, n_head=gm.HEADS)
    )
    fit(model, random_windows(ids, base_steps, gm.BATCH_SIZE, gm.SEQ_LEN, seed=0), base_steps, lr=2e-3, warmup=20)
    model = gm.stacked(model, stack)
    fit(model, random_windows(ids, steps, gm.BATCH_SIZE, gm.SEQ_LEN, seed=1), steps, lr=1e-3, warmup=10)
    print(f"target {out}: {time.process_time() - start:.1f} s cpu", flush=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


if __name__ == "__main__":
    main()
