"""The copying circuit: the hand-set previous-token heads, the pre-training mix, and the smoke chat model's induction."""

import pytest
import torch

from llm_workshop import models
from llm_workshop.concepts import induction
from llm_workshop.concepts.sql import sandbox, shop
from llm_workshop.standins.chat import pretraining_batches, random_queries, recall_row, set_previous_token_heads


@pytest.mark.parametrize("offsets", [(1,), (1, 2), (2, 1)])
def test_previous_token_heads_attend_the_requested_distance_back(offsets, tiny_qwen):
    model = tiny_qwen()
    set_previous_token_heads(model, offsets=offsets)
    ids = torch.randint(induction.FIRST_ORDINARY_ID, 300, (2, 24), generator=torch.Generator().manual_seed(0))
    attention = model(input_ids=ids, output_attentions=True).attentions[0]  # (batch, head, query, key)
    for head, offset in enumerate(offsets):
        back = attention[:, head].diagonal(offset=-offset, dim1=-2, dim2=-1)  # query i -> key i - offset
        assert back.min() > 0.99, (head, offset, back.min())


def test_previous_token_heads_reject_impossible_offsets(tiny_qwen):
    with pytest.raises(ValueError, match="offsets"):
        set_previous_token_heads(tiny_qwen(), offsets=(1, 2, 3))  # only 2 query heads share key head 0
    with pytest.raises(ValueError, match="offsets"):
        set_previous_token_heads(tiny_qwen(), offsets=(0,))


@pytest.mark.slow
def test_induction_score_tells_a_copying_model_from_a_random_one(tiny_qwen):
    random_model = tiny_qwen()
    assert induction.induction_score(random_model) < 0.05
    chat, _ = models.load("chat", "smoke")
    assert induction.induction_score(chat) >= 0.9  # measured 0.97 (500 pre-training steps)
    assert chat.training is False


def test_pretraining_batches_are_seeded_and_start_with_repeats():
    text, sql_ids = torch.arange(8, 600), torch.arange(8, 400)
    words, separators = list(range(10, 60)), [[5], [6, 7]]

    def batches(seed: int) -> list[torch.Tensor]:
        return [
            b["input_ids"]
            for b in pretraining_batches(
                text,
                sql_ids,
                words,
                separators,
                [[4]],
                300,
                steps=4,
                batch_size=8,
                seq_len=64,
                repeats_only=2,
                seed=seed,
            )
        ]

    first, again, other = batches(0), batches(0), batches(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    assert [b.shape for b in first] == [torch.Size([8, 64])] * 4
    for row in first[0]:  # the repeats-only steps: each row is one span repeated
        period = next(p for p in range(6, 33) if torch.equal(row[p:], row[:-p]))
        assert 6 <= period <= 32
    with pytest.raises(ValueError, match="seq_len"):
        next(pretraining_batches(text[:10], sql_ids, words, separators, [[4]], 300, steps=1, seq_len=64))


def test_recall_row_repeats_every_pair_later_in_the_row():
    row = recall_row(torch.Generator().manual_seed(0), 128, list(range(100, 200)), [[7], [8]], [[9]]).tolist()
    assert len(row) == 128
    half = row[:64]
    # every (key token, separator, value token) triple of the first pairs occurs again in the shuffled second part
    triples = {tuple(half[i : i + 3]) for i in range(len(half) - 2) if half[i + 1] in (7, 8)}
    rest = row[64:]
    assert triples and any(tuple(rest[i : i + 3]) in triples for i in range(len(rest) - 2))


def test_random_queries_run_in_the_sandbox(tmp_path):
    db = tmp_path / "shop.db"
    shop.make_database(db)
    queries = random_queries(200, ["apple", "Black", "river"], seed=0)
    assert queries == random_queries(200, ["apple", "Black", "river"], seed=0)
    assert len(set(queries)) > 100
    for query in queries:
        sandbox.execute_readonly(db, query)  # raises on a syntax error or a write
    with pytest.raises(ValueError, match="words"):
        random_queries(5, [])
