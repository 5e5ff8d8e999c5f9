"""The bi-encoder: pooling and InfoNCE by hand, and the smoke encoder loads in sentence-transformers with the same
embeddings as our own mean-pool-and-normalise code."""

import json
import random

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertModel

from llm_workshop.concepts import dense
from llm_workshop.standins import encoder
from llm_workshop.standins.base import one_thread


def test_mean_pool_ignores_padding():
    vectors = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert torch.equal(dense.mean_pool(vectors, torch.tensor([[1, 1, 0]])), torch.tensor([[2.0, 3.0]]))


def test_info_nce_is_cross_entropy_over_in_batch_negatives():
    q = torch.nn.functional.normalize(torch.randn(4, 8, generator=torch.Generator().manual_seed(0)), dim=-1)
    p = torch.nn.functional.normalize(torch.randn(4, 8, generator=torch.Generator().manual_seed(1)), dim=-1)
    logits = 20.0 * q @ p.T
    by_hand = -(logits.diag() - logits.logsumexp(dim=1)).mean()
    assert dense.info_nce(q, p).item() == pytest.approx(by_hand.item(), rel=1e-6)
    assert dense.info_nce(q, q).item() < dense.info_nce(q, p).item(), "matching pairs should have the lower loss"
    with pytest.raises(ValueError, match="one passage per query"):
        dense.info_nce(q, p[:3])


def test_generated_questions_use_the_sentences_content_words():
    sentence = "The commissionaire found a blue stone in the crop of the Christmas goose."
    question = dense.generated_question(sentence, random.Random(0))
    words = question.rstrip("?").split()
    assert words[0] in dense.QUESTION_WORDS and 3 <= len(words) - 1 <= 7, question
    assert set(words[1:]) <= set(sentence.lower().replace(".", "").split()), question


@pytest.fixture(scope="module")
def smoke_encoder(tmp_path_factory):
    out = tmp_path_factory.mktemp("encoder")
    with one_thread():
        losses = encoder.build(out, steps=30)
    return out, losses


@pytest.mark.slow
def test_contrastive_training_lowers_the_loss(smoke_encoder):
    _, losses = smoke_encoder
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), (
        f"loss {np.mean(losses[:5]):.2f} -> {np.mean(losses[-5:]):.2f}"
    )


@pytest.mark.slow
def test_sentence_transformers_loads_it_like_all_minilm(smoke_encoder):
    from sentence_transformers import SentenceTransformer

    out, _ = smoke_encoder
    for name in encoder.SENTENCE_TRANSFORMERS_FILES + encoder.TOKENIZER_FILES:
        assert (out / name).read_bytes() == (encoder.MINILM / name).read_bytes(), (
            f"{name} differs from all-MiniLM-L6-v2's"
        )
    pooling = json.loads((out / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and pooling["word_embedding_dimension"] == 64
    texts = ["Who found the goose?", "Peterson, the commissionaire, found it in Tottenham Court Road.", "Hi"]
    library = SentenceTransformer(str(out), device="cpu").encode(texts, convert_to_numpy=True)
    ours = dense.encode_all(BertModel.from_pretrained(out), AutoTokenizer.from_pretrained(out), texts)
    assert np.abs(library - ours).max() < 1e-5, f"max |ST - ours| = {np.abs(library - ours).max():.2e}"
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5), "embeddings are not unit length"


def test_encode_refuses_nothing():
    with pytest.raises(ValueError, match="nothing to encode"):
        dense.encode(None, None, [])
