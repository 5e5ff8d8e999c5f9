"""Dense retrieval with a bi-encoder: a transformer turns a question and a passage into one unit vector each (mean of
the token vectors, then L2-normalised), and the cosine similarity of the two ranks the passages.

Full tier: `sentence-transformers/all-MiniLM-L6-v2` (a 6-layer BERT, 384 dimensions) through sentence-transformers.
Smoke tier: a tiny BERT with the same tokenizer and the same sentence-transformers files (`standins/encoder.py`),
trained with `train_encoder`: each generated question must score its own passage above the other passages of the
batch (in-batch negatives, the InfoNCE loss). `SentenceTransformer(path)` loads either the same way.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from llm_workshop.concepts.chunking import Chunk
from llm_workshop.concepts.hallucination import content_words, sentences

QUESTION_WORDS = ("what", "who", "which", "where", "whom", "whose", "how", "why")
SCALE = 20.0  # cosines lie in [-1, 1]; x 20 makes the softmax over the batch sharp enough to learn from


def mean_pool(token_vectors: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mean of each sequence's token vectors over its real tokens (padding excluded): sentence-transformers' Pooling."""
    mask = attention_mask.unsqueeze(-1).to(token_vectors.dtype)
    return (token_vectors * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def encode(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int = 256
) -> torch.Tensor:
    """Unit-length embeddings of `texts` (one row each): tokenize, run the encoder, mean-pool, L2-normalise."""
    if len(texts) == 0:
        raise ValueError("nothing to encode: pass at least one text")
    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    batch = batch.to(model.device)
    pooled = mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])
    return torch.nn.functional.normalize(pooled, dim=-1)


@torch.no_grad()
def encode_all(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], batch_size: int = 64
) -> np.ndarray:
    """`encode` in batches, without gradients, as a float32 NumPy array of shape (len(texts), dim)."""
    model.eval()
    parts = [encode(model, tokenizer, texts[i : i + batch_size]).cpu() for i in range(0, len(texts), batch_size)]
    return torch.cat(parts).numpy().astype(np.float32)


def info_nce(queries: torch.Tensor, passages: torch.Tensor, scale: float = SCALE) -> torch.Tensor:
    """InfoNCE with in-batch negatives: cross-entropy of each query's scaled cosines, its own passage the right class."""
    if queries.shape != passages.shape:
        raise ValueError(
            f"need one passage per query (same shapes), got {tuple(queries.shape)} and {tuple(passages.shape)}"
        )
    logits = scale * queries @ passages.T
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(queries), device=logits.device))


def generated_question(sentence: str, rng: random.Random) -> str:
    """A keyword question about a sentence: a question word and 3-7 of the sentence's content words, shuffled."""
    words = content_words(sentence) or sentence.split()
    picked = rng.sample(words, min(len(words), rng.randint(3, 7)))
    return " ".join([rng.choice(QUESTION_WORDS), *picked]) + "?"


def question_passage_pairs(chunks: Sequence[Chunk]) -> list[tuple[str, str]]:
    """(sentence, passage) for every sentence of at least 6 words in every chunk: the sources of generated questions."""
    return [(s, c.text) for c in chunks for s in sentences(c.text) if len(s.split()) >= 6]


def train_encoder(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[tuple[str, str]],
    steps: int,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Contrastive training: each step, `batch_size` generated questions against their passages (InfoNCE); the losses."""
    if len(pairs) < batch_size:
        raise ValueError(f"need at least batch_size={batch_size} question-passage pairs, got {len(pairs)}")
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 10) * (1 - s / steps))
    model.train()
    losses = []
    for _ in range(steps):
        batch = rng.sample(range(len(pairs)), batch_size)
        questions = encode(model, tokenizer, [generated_question(pairs[i][0], rng) for i in batch], max_length=32)
        passages = encode(model, tokenizer, [pairs[i][1] for i in batch], max_length=160)
        loss = info_nce(questions, passages)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses
