"""The smoke `encoder`: a tiny BERT bi-encoder with all-MiniLM-L6-v2's tokenizer and sentence-transformers files,
trained contrastively on questions generated from the course corpus, so `SentenceTransformer(path)` loads it as it
loads the real `sentence-transformers/all-MiniLM-L6-v2`.

It trains on the stories alone for about twenty seconds, so it learns which words go with which passages but no
paraphrases (MiniLM was tuned on a billion sentence pairs): notebook 2.6 measures it below BM25 and says why.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertConfig, BertModel, PreTrainedModel

from llm_workshop.concepts.chunking import token_chunks
from llm_workshop.concepts.dense import question_passage_pairs, train_encoder
from llm_workshop.course.data import HUB_ASSETS

MINILM = HUB_ASSETS / "sentence-transformers__all-MiniLM-L6-v2"  # the real tokenizer and module files
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
SENTENCE_TRANSFORMERS_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")
SIZE = {"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 128}
STEPS, BATCH = 150, 16  # about 20 s on one thread; more steps keep raising recall, but the build must stay short
CHUNK_WORDS, OVERLAP = 100, 20  # the passages it trains on: 2.6's windows


def save_sentence_transformer(model: PreTrainedModel, out: Path) -> None:
    """Save `model` with all-MiniLM-L6-v2's tokenizer and sentence-transformers files (pooling sized to the model).

    These are the 2.0-era files the Hub serves, which every sentence-transformers release reads; `save()` of a recent
    release writes a newer layout instead.
    """
    out = Path(out)
    model.save_pretrained(out)
    for name in (*TOKENIZER_FILES, *SENTENCE_TRANSFORMERS_FILES):
        shutil.copyfile(MINILM / name, out / name)
    pooling = json.loads((MINILM / "1_Pooling" / "config.json").read_text())
    pooling["word_embedding_dimension"] = model.config.hidden_size
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2) + "\n")


def build(out: Path, steps: int = STEPS, seed: int = 0) -> list[float]:
    """Train the tiny BERT bi-encoder on questions generated from the corpus windows, save it, return the losses."""
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(MINILM)
    config = BertConfig.from_pretrained(MINILM, **SIZE, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertModel(config)  # with BERT's (unused) pooler, as all-MiniLM-L6-v2's weights have one
    pairs = question_passage_pairs(token_chunks(CHUNK_WORDS, OVERLAP))
    losses = train_encoder(model, tokenizer, pairs, steps, batch_size=BATCH, seed=seed)
    save_sentence_transformer(model, out)
    return losses
