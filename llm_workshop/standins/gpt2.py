"""The smoke `gpt2`: a ~0.7M-parameter GPT-2 (2 layers, 128 wide) pre-trained briefly on news, not on Sherlock
Holmes, so that fine-tuning it on the stories shows what fine-tuning the real GPT-2 shows."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, GPT2Config, PreTrainedTokenizerFast

from llm_workshop.concepts.training import pretrain_causal_lm
from llm_workshop.course.data import news_text
from llm_workshop.standins.tokenizer import smoke_tokenizer


def config(tokenizer: PreTrainedTokenizerFast, n_layer: int, n_embd: int, n_head: int) -> GPT2Config:
    """A GPT-2 config of the given depth and width with the smoke tokenizer and 256 positions."""
    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def build(out: Path) -> None:
    """Pre-train the smoke GPT-2 on the news text for 300 steps and save it with its tokenizer into `out`."""
    torch.manual_seed(0)
    tokenizer = smoke_tokenizer("causal")
    model = AutoModelForCausalLM.from_config(config(tokenizer, n_layer=2, n_embd=128, n_head=4))
    pretrain_causal_lm(model, tokenizer, news_text())
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
