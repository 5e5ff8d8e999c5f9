"""Induction heads: copying from the context, and a score that measures it.

An induction head looks for an earlier occurrence of the current token and predicts the token that followed it
(Olsson et al., 2022). It needs two layers: a previous-token head in layer 0 writes "the token before me" into each
position, and a head in layer 1 attends to the position whose previous token is the current one. Copying a city name
from a question into SQL, or a label word from few-shot examples, is this circuit at work.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

FIRST_ORDINARY_ID = 8  # the smoke tokenizer's special tokens come first; random spans use ids from here on


@torch.no_grad()
def induction_score(model: PreTrainedModel, n: int = 64, length: int = 32, seed: int = 1234) -> float:
    """Next-token accuracy on the second half of `n` random `length`-token sequences repeated once.

    Without a copying circuit the second half is as unpredictable as the first (score near 0); with one, near 1.
    """
    generator = torch.Generator().manual_seed(seed)
    vocab = model.config.vocab_size - FIRST_ORDINARY_ID
    half = torch.stack([torch.randperm(vocab, generator=generator)[:length] for _ in range(n)]) + FIRST_ORDINARY_ID
    ids = torch.cat([half, half], dim=1).to(model.device)
    was_training = model.training
    model.eval()
    predictions = model(input_ids=ids).logits[:, length:-1].argmax(-1)
    model.train(was_training)
    return (predictions == ids[:, length + 1 :]).float().mean().item()
