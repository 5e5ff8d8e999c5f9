"""The held-out questions point at real evidence, and recall@k / MRR count what they should."""

import pytest

from llm_workshop.concepts import chunking
from llm_workshop.concepts import retrieval_eval as ev


def assert_located(items) -> None:
    """Each answer lies inside its own story, and no question names its answer."""
    spans = dict(chunking.story_spans())
    for item in items:
        start, end = spans[item.story]
        assert start <= item.answer_start < item.answer_end <= end, f"{item.question}: answer outside {item.story}"
        assert item.answer.lower() not in item.question.lower(), f"the question gives its answer away: {item.question}"


def test_every_answer_sits_in_its_evidence_inside_its_story():
    items = ev.eval_items()
    assert 30 <= len(items) <= 60, f"{len(items)} questions"
    assert_located(items)
    assert len({i.question for i in items}) == len(items), "a question is repeated"


def test_dev_questions_are_located_and_disjoint_from_the_test_questions():
    dev, test = ev.dev_items(), ev.eval_items()
    assert 25 <= len(dev) <= 40, f"{len(dev)} dev questions"
    assert_located(dev)
    shared = {i.answer.lower() for i in dev} & {i.answer.lower() for i in test}
    assert not shared and not {i.question for i in dev} & {i.question for i in test}, f"dev repeats test: {shared}"


@pytest.mark.parametrize(
    "chunks", [chunking.paragraph_chunks(), chunking.token_chunks(100, 20)], ids=["paragraphs", "windows"]
)
def test_every_question_has_a_gold_chunk_holding_the_answer(chunks):
    for item in ev.eval_items():
        gold = ev.gold_indices(chunks, item)
        assert gold, f"no chunk holds the answer to {item.question!r}"
        assert all(item.answer.split()[0] in chunks[i].text for i in gold)


def test_recall_and_mrr_by_hand():
    ranked, gold = [[3, 1, 2], [5, 6, 7], [9, 8, 0]], [{1}, {7}, {4}]
    assert ev.recall_at_k(ranked, gold, 1) == 0
    assert ev.recall_at_k(ranked, gold, 2) == pytest.approx(1 / 3)
    assert ev.recall_at_k(ranked, gold, 3) == pytest.approx(2 / 3)
    assert ev.mrr(ranked, gold) == pytest.approx((1 / 2 + 1 / 3 + 0) / 3)


def test_bad_rankings_raise_a_sentence():
    with pytest.raises(ValueError, match="one ranking per question"):
        ev.mrr([[1]], [{1}, {2}])
    with pytest.raises(ValueError, match="no gold chunk"):
        ev.recall_at_k([[1]], [set()], 1)
    with pytest.raises(ValueError, match="k must be"):
        ev.recall_at_k([[1]], [{1}], 0)
