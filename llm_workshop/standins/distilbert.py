"""The smoke `distilbert`: a randomly initialised 2-layer DistilBERT with the course tokenizer; notebook 1.3 pre-trains
it with masked language modelling itself."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForMaskedLM, DistilBertConfig

from llm_workshop.standins.tokenizer import smoke_tokenizer


def build(out: Path) -> None:
    """Save a randomly initialised 2-layer DistilBERT with the smoke tokenizer into `out`."""
    torch.manual_seed(0)
    tokenizer = smoke_tokenizer("masked")
    config = DistilBertConfig(
        vocab_size=len(tokenizer),
        dim=128,
        hidden_dim=256,
        n_layers=2,
        n_heads=4,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    AutoModelForMaskedLM.from_config(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
