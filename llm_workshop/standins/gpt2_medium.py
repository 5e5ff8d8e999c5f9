"""The smoke `gpt2-medium`, the speculative-decoding target of 2.4: a GPT-2 fourteen layers deep (128 wide, ~3.1M
parameters) pre-trained on the news text, all but its last 10% (the part 2.4 holds out).

Training fourteen layers from scratch costs more than a smoke build may spend, so it is grown (Du et al. 2024,
"stacking your transformers", G_stack): a 2-layer model is pre-trained first, its blocks are stacked seven times
(b0 b1 b0 b1 ...), and the deep model trains on. Its forward pass costs several times a 1-layer draft's, which is
what lets speculative decoding pay on a CPU; fourteen layers (ten before) bring the draft's cost under a fifth of it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerFast

from llm_workshop.concepts.training import fit, random_windows
from llm_workshop.course.data import news_text
from llm_workshop.standins.gpt2 import config
from llm_workshop.standins.tokenizer import smoke_tokenizer

TRAIN_FRACTION = 0.9  # 2.4 holds out the news text after this fraction (by characters); no smoke model of 2.4 sees it
BASE_LAYERS, STACK, WIDTH, HEADS = 2, 7, 128, 4
BASE_STEPS, STACKED_STEPS, SEQ_LEN, BATCH_SIZE = 1000, 150, 64, 4


def train_ids(tokenizer: PreTrainedTokenizerFast) -> torch.Tensor:
    """Token ids of the news text 2.4's smoke models train on: the first `TRAIN_FRACTION` of it."""
    news = news_text()
    return torch.tensor(tokenizer(news[: int(TRAIN_FRACTION * len(news))])["input_ids"])


def stacked(model: PreTrainedModel, times: int) -> PreTrainedModel:
    """A GPT-2 `times` as deep as `model` whose blocks are copies of `model`'s, in order, repeated (b0 b1 b0 b1 ...)."""
    deep = AutoModelForCausalLM.from_config(type(model.config).from_dict(
        model.config.to_dict() | {"n_layer": model.config.n_layer * times}
    ))  # fmt: skip
    state = model.state_dict()
    deep_state = {}
    for key in deep.state_dict():
        source = key
        if key.startswith("transformer.h."):
            index, rest = key.removeprefix("transformer.h.").split(".", 1)
            source = f"transformer.h.{int(index) % model.config.n_layer}.{rest}"
        deep_state[key] = state[source].clone()
    deep.load_state_dict(deep_state)
    return deep


def build(out: Path) -> None:
    """Pre-train a 2-layer GPT-2 for 1000 steps, stack it to 14 layers, train 150 steps more, save into `out`."""
    torch.manual_seed(0)
    tokenizer = smoke_tokenizer("causal")
    ids = train_ids(tokenizer)
    model = AutoModelForCausalLM.from_config(config(tokenizer, n_layer=BASE_LAYERS, n_embd=WIDTH, n_head=HEADS))
    fit(model, random_windows(ids, BASE_STEPS, BATCH_SIZE, SEQ_LEN, seed=0), BASE_STEPS, lr=2e-3, warmup=20)
    model = stacked(model, STACK)
    fit(model, random_windows(ids, STACKED_STEPS, BATCH_SIZE, SEQ_LEN, seed=1), STACKED_STEPS, lr=1e-3, warmup=10)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
