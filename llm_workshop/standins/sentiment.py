"""The smoke `sentiment` reward model: a tiny DistilBERT classifier with NEGATIVE/POSITIVE labels, like
`lvwerra/distilbert-imdb`, that grades text the way the smoke tier's word lexicon does."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, DistilBertConfig

from llm_workshop.concepts.preferences import NEGATIVE_WORDS, POSITIVE_WORDS, generated_pairs, lexicon_score
from llm_workshop.concepts.training import random_rows, train
from llm_workshop.course.data import news_text
from llm_workshop.standins.tokenizer import smoke_tokenizer


def build(out: Path) -> None:
    """A tiny DistilBERT sentiment classifier with NEGATIVE/POSITIVE labels, like `lvwerra/distilbert-imdb`.

    It learns the smoke tier's word-lexicon sentiment: trained towards P(POSITIVE) = sigmoid(lexicon score)
    on generated reviews and on news snippets with sentiment words sprinkled in, so its log-odds grade text
    the way the lexicon does; module_03's PPO uses it as the reward.
    """
    torch.manual_seed(0)
    rng = random.Random(0)
    tokenizer = smoke_tokenizer("masked")
    config = DistilBertConfig(
        vocab_size=len(tokenizer),
        dim=64,
        hidden_dim=128,
        n_layers=2,
        n_heads=2,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    model = AutoModelForSequenceClassification.from_config(config)
    texts = [p["prompt"] + p[side] for p in generated_pairs(512, seed=1234) for side in ("chosen", "rejected")]
    news, lexicon = news_text().split(), sorted(POSITIVE_WORDS | NEGATIVE_WORDS)
    for _ in range(1024):
        start = rng.randrange(len(news) - 20)
        words = news[start : start + rng.randint(4, 16)]
        for _ in range(rng.randint(0, 3)):
            words.insert(rng.randint(0, len(words)), rng.choice(lexicon))
        texts.append(" ".join(words))
    p_positive = torch.sigmoid(torch.tensor([lexicon_score(t) for t in texts]))
    targets = torch.stack([1 - p_positive, p_positive], dim=1)

    def soft_label_loss(model, rows: torch.Tensor) -> torch.Tensor:
        batch = tokenizer([texts[i] for i in rows], return_tensors="pt", padding=True, truncation=True, max_length=64)
        return torch.nn.functional.cross_entropy(model(**batch).logits, targets[rows])

    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    train(model, random_rows(len(texts), 200, 32), optimizer, loss_fn=soft_label_loss)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
