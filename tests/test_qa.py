"""Extractive QA by hand: span selection rules, sliding windows over long contexts, training labels, SQuAD metrics."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from transformers import AutoTokenizer
from transformers.modeling_outputs import QuestionAnsweringModelOutput

from llm_workshop import models
from llm_workshop.concepts import qa
from llm_workshop.course import data
from llm_workshop.standins.qa_reader import UNSEEN_WORDS


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(models.model_path("distilbert", "smoke"))


class Pointer(nn.Module):
    """A stand-in QA model whose start/end logits peak on given token ids, so the right span is known."""

    def __init__(self, start_id: int, end_id: int, limit: int = 512) -> None:
        super().__init__()
        self.start_id, self.end_id = start_id, end_id
        self.config = SimpleNamespace(max_position_embeddings=limit)
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the module a device
        self.calls = []

    def forward(self, input_ids, attention_mask=None):
        self.calls.append(tuple(input_ids.shape))
        start = (input_ids == self.start_id).float() * 10
        end = (input_ids == self.end_id).float() * 10
        return QuestionAnsweringModelOutput(start_logits=start, end_logits=end)


def token_id(tokenizer, word: str) -> int:
    ids = tokenizer(" " + word, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1, f"{word!r} should be one token of the smoke vocabulary"
    return ids[0]


def filler(n_sentences: int) -> str:
    return " ".join(f"The fog lay thick upon the street on day {i}." for i in range(n_sentences))


@pytest.mark.slow
def test_finds_the_span_and_its_characters(tokenizer):
    context = "The client had rooms in Baker Street, near the station."
    model = Pointer(token_id(tokenizer, "Baker"), token_id(tokenizer, "Street"))
    result = qa.answer(model, tokenizer, "Where were the rooms?", context)
    assert result.text == "Baker Street"
    assert (result.start, result.end) == (context.index("Baker"), context.index(",")), "character offsets of the span"
    assert 0.9 < result.score <= 1.0


@pytest.mark.slow
def test_question_tokens_are_never_part_of_the_answer(tokenizer):
    # The pointer peaks on "Holmes" in the question too; only the one in the context may be chosen.
    context = "Watson wrote the notes while Holmes smoked."
    model = Pointer(token_id(tokenizer, "Holmes"), token_id(tokenizer, "Holmes"))
    result = qa.answer(model, tokenizer, "Where was Holmes?", context)
    assert result.text == "Holmes" and result.start == context.index("Holmes")


@pytest.mark.slow
def test_end_never_precedes_start_and_length_is_bounded(tokenizer):
    # The end peak lies before the start peak: the only valid spans start at or before their end.
    context = "Watson came early and Holmes came late to the house."
    model = Pointer(token_id(tokenizer, "Holmes"), token_id(tokenizer, "Watson"))
    result = qa.answer(model, tokenizer, "Who came?", context)
    assert result.start < result.end
    assert result.text != context[context.index("Watson") : context.index("Holmes") + len("Holmes")]
    assert result.text.startswith("Holmes") or result.text.endswith("Watson")
    far = "Holmes " + filler(10) + " Watson"
    bounded = qa.answer(model, tokenizer, "Who?", far, max_answer_length=5)
    assert len(tokenizer(bounded.text, add_special_tokens=False)["input_ids"]) <= 5


@pytest.mark.slow
def test_answer_beyond_the_first_window_is_found(tokenizer):
    context = filler(40) + " The stolen gem was hidden inside a Christmas hat. " + filler(5)
    question = "Where was the gem hidden?"
    n_tokens = len(tokenizer(question, context)["input_ids"])
    assert n_tokens > 3 * 128, "the context must be longer than several windows"
    model = Pointer(token_id(tokenizer, "Christmas"), token_id(tokenizer, "hat"))
    result = qa.answer(model, tokenizer, question, context, max_length=128, stride=32)
    assert result.text == "Christmas hat"
    assert result.start == context.index("Christmas hat"), "offsets point into the whole context, not the window"
    assert model.calls[0][0] > 3, "the long context was split into several windows"
    assert model.calls[0][1] <= 128


@pytest.mark.slow
def test_bad_input_raises_clear_errors(tokenizer):
    model = Pointer(0, 0, limit=64)
    with pytest.raises(ValueError, match="question is empty"):
        qa.answer(model, tokenizer, "  ", "Some context.")
    with pytest.raises(ValueError, match="context is empty"):
        qa.answer(model, tokenizer, "Who?", "")
    with pytest.raises(ValueError, match="limit of 64"):
        qa.answer(model, tokenizer, "Who?", "Some context.", max_length=128)
    with pytest.raises(ValueError, match="stride"):
        qa.answer(model, tokenizer, "Who?", "Some context.", max_length=32, stride=30)


@pytest.mark.slow
def test_training_labels_point_at_the_answer(tokenizer):
    contexts = ["Irene Adler lives at Briony Lodge in St. John's Wood.", "The case was solved by Sherlock Holmes."]
    answers = ["Briony Lodge", "Sherlock Holmes"]
    starts = [c.index(a) for c, a in zip(contexts, answers)]
    features = qa.encode_training_examples(
        tokenizer, ["Where does Irene Adler live?", "Who solved it?"], contexts, starts, answers
    )
    assert features["input_ids"].shape[0] == 2
    for i, expected in enumerate(answers):
        span = features["input_ids"][i, features["start_positions"][i] : features["end_positions"][i] + 1]
        assert tokenizer.decode(span).strip() == expected


@pytest.mark.slow
def test_training_windows_without_the_answer_point_at_cls(tokenizer):
    context = "The answer is Lestrade. " + filler(30)
    features = qa.encode_training_examples(
        tokenizer, ["Who?"], [context], [context.index("Lestrade")], ["Lestrade"], max_length=64, stride=16
    )
    assert features["input_ids"].shape[0] > 1
    assert features["start_positions"][0] > 0
    assert torch.all(features["start_positions"][1:] == 0) and torch.all(features["end_positions"][1:] == 0)
    with pytest.raises(ValueError, match="not at character"):
        qa.encode_training_examples(tokenizer, ["Who?"], [context], [0], ["Lestrade"])


@pytest.mark.slow
def test_an_empty_answer_labels_every_window_cls(tokenizer):
    context = "Holmes lit his pipe. " + filler(30)
    features = qa.encode_training_examples(tokenizer, ["Who?", "Who?"], [context] * 2, [0, 0], ["", "Holmes"], 64, 16)
    rows = features["input_ids"].shape[0]
    assert rows > 2 and features["start_positions"][: rows // 2].eq(0).all(), "no answer: [CLS] in every window"
    assert features["start_positions"][rows // 2] > 0, "the same context with an answer is labelled at it"


def test_squad_metrics():
    assert qa.exact_match("The Baker Street", "baker street!") == 1.0
    assert qa.exact_match("Baker", "Baker Street") == 0.0
    assert qa.token_f1("Baker", "Baker Street") == pytest.approx(2 / 3)
    assert qa.token_f1("Holmes", "Watson") == 0.0
    assert qa.token_f1("", "") == 1.0


def test_synthetic_examples_locate_a_unique_answer_and_are_seeded():
    examples = qa.synthetic_examples(200, seed=0)
    for e in examples:
        assert e["context"][e["start"] :].startswith(e["answer"])
        assert e["context"].count(e["answer"]) == 1, "the answer must be unambiguous in its context"
        assert e["question"].endswith("?") and e["context"].count(".") == 3
    assert examples == qa.synthetic_examples(200, seed=0) and examples != qa.synthetic_examples(200, seed=1)


def test_hidden_fact_examples_hide_facts_in_the_filler_and_ask_some_unanswerable_questions():
    words = filler(400).split()
    examples = qa.hidden_fact_examples(300, seed=0, filler=words, max_filler_words=120, unanswerable=0.3)
    answerable = [e for e in examples if e["answer"]]
    for e in answerable:
        assert e["context"][e["start"] :].startswith(e["answer"]) and e["context"].count(e["answer"]) == 1
    for e in examples:
        if not e["answer"]:
            asked = [p for p in qa.NAMES if p in e["question"]] or [
                v for vs in qa.VALUES.values() for v in vs if v in e["question"]
            ]
            assert asked and not any(a in e["context"] for a in asked), (
                "an unanswerable question asks about an absent fact"
            )
    assert 0.2 < 1 - len(answerable) / len(examples) < 0.4
    assert any("fog" in e["context"] for e in examples) and all(
        len(e["context"].split()) <= 120 + 3 * 9 for e in examples
    )
    assert examples == qa.hidden_fact_examples(300, seed=0, filler=words, max_filler_words=120)
    with pytest.raises(ValueError, match="unanswerable must lie"):
        qa.hidden_fact_examples(1, seed=0, filler=words[:10], max_filler_words=120)


class NoAnswerPointer(nn.Module):
    """A QA stand-in that peaks on the answer (logit 10); in a window without the answer's first token it peaks on a
    decoy (logit 12) and puts logit 20 on [CLS]: "no answer here"."""

    def __init__(self, answer_ids: tuple[int, int], decoy_ids: tuple[int, int], cls_id: int) -> None:
        super().__init__()
        self.answer_ids, self.decoy_ids, self.cls_id = answer_ids, decoy_ids, cls_id
        self.config = SimpleNamespace(max_position_embeddings=512)
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask=None):
        no_answer = ~(input_ids == self.answer_ids[0]).any(-1, keepdim=True)
        logits = [
            10.0 * (input_ids == a) + no_answer * (12.0 * (input_ids == d) + 20.0 * (input_ids == self.cls_id))
            for a, d in zip(self.answer_ids, self.decoy_ids)
        ]
        return QuestionAnsweringModelOutput(start_logits=logits[0], end_logits=logits[1])


@pytest.mark.slow
def test_a_window_that_points_at_cls_loses_to_the_window_with_the_answer(tokenizer):
    # Spread over the context tokens alone, the first window's probability would pick the decoy "old table" (logit
    # 12 > 10), with probability about 1. [CLS] takes part in the softmax, as in transformers' former pipeline, so
    # that window scores about e^-16 and the window that holds the answer wins.
    context = filler(2) + " Holmes sat at the old table. " + filler(40) + " The gem was inside a Christmas hat. "
    model = NoAnswerPointer(
        (token_id(tokenizer, "Christmas"), token_id(tokenizer, "hat")),
        (token_id(tokenizer, "old"), token_id(tokenizer, "table")),
        tokenizer.cls_token_id,
    )
    result = qa.answer(model, tokenizer, "Where was the gem?", context, max_length=128, stride=32)
    assert result.text == "Christmas hat" and result.score > 0.5


def hidden_fact_probes(n: int, seed: int) -> list[dict]:
    """n questions about one fact each, put at a sentence end 300-1,000 words into 1,000 words of the corpus that the
    smoke reader never trained on (its first `QA_UNSEEN_WORDS` words), with the real names and places of the stories
    around it as decoys."""
    import random

    words, rng, probes = data.load_corpus().split()[:UNSEEN_WORDS], random.Random(seed), []
    for i in range(n):
        kind = list(qa.FACTS)[i % 3]
        values = {"name": rng.choice(qa.NAMES), **{k: rng.choice(v) for k, v in qa.VALUES.items()}}
        question, field = qa.FACTS[kind][1][(i // 3) % 2]
        begin = rng.randrange(0, len(words) - 1000)
        text = words[begin : begin + 1000]
        ends = [j + 1 for j, w in enumerate(text) if j >= 300 and w.endswith((".", "?", "!", ".\u201d"))] or [1000]
        cut = rng.choice(ends)
        context = " ".join([*text[:cut], qa.FACTS[kind][0].format(**values), *text[cut:]])
        probes.append({"question": question.format(**values), "context": context, "answer": values[field]})
    return probes


@pytest.mark.slow
def test_the_smoke_reader_finds_facts_hidden_a_thousand_words_deep():
    from transformers import AutoModelForQuestionAnswering

    reader, tokenizer = models.load("distilbert-squad", "smoke", auto_class=AutoModelForQuestionAnswering)
    probes = hidden_fact_probes(36, seed=7)
    found = [qa.answer(reader, tokenizer, p["question"], p["context"], max_length=128, stride=32) for p in probes]
    hits = sum(qa.exact_match(f.text, p["answer"]) for f, p in zip(found, probes))
    assert hits >= 27, f"the smoke reader found {hits} of 36 hidden facts (33 when built)"
    assert all(len(tokenizer(p["context"])["input_ids"]) > 4 * 128 for p in probes), "the facts sit many windows deep"
