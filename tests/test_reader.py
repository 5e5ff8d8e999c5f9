"""The smoke "reader" stand-in: its Holmes grounded examples hold out 2.6's test and dev answers, cite and quote the
right passage, and the built model quotes held-out sentences of the stories better than the instruct model it starts
from."""

import random
import re

import pytest

from llm_workshop import models
from llm_workshop.concepts import grounding, hallucination, judge
from llm_workshop.concepts.retrieval_eval import DEV_QUESTIONS, QUESTIONS, dev_items, eval_items
from llm_workshop.standins import reader


def test_no_passage_holds_a_test_or_dev_answer_or_evidence():
    sentences = [s for story in reader.story_sentences() for s in story]
    for _, _, answer, evidence in QUESTIONS + DEV_QUESTIONS:
        for quote in (answer, evidence):
            pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, quote.split())) + r"(?!\w)", re.IGNORECASE)
            held = [s for s in sentences if pattern.search(s)]
            assert not held, f"{quote!r} should be held out of the training sentences, found in {held[:1]}"
    evidence_sentences = {q.evidence for q in eval_items() + dev_items()}
    assert not evidence_sentences & set(sentences), "an evidence quote is a training sentence"


def test_examples_cite_and_quote_a_passage_that_the_question_was_made_from():
    for example in reader.holmes_examples(80, seed=1):
        messages, reply = example["messages"][:2], example["messages"][2]["content"]
        user = messages[1]["content"]
        question = user.split("Question: ")[-1]
        passages = re.findall(r"^\[\d+\] (.*)$", user, flags=re.MULTILINE)
        cited = grounding.cited_ids(reply)
        assert len(cited) == 1 and reply == f"[{cited[0]}] {passages[cited[0] - 1]}", reply
        assert grounding.faithful(reply, passages), reply
        asked = [w for w in question.rstrip("?").split() if w != "what"]
        assert all(w in passages[cited[0] - 1] for w in asked), f"{question!r} should come from {reply!r}"
        assert not any(question == q for _, q, _, _ in QUESTIONS + DEV_QUESTIONS)


def test_cloze_replaces_a_content_word_and_keeps_the_others():
    rng = random.Random(0)
    sentence = "The lamp in the window of the old house was burning brightly that evening."
    question = reader.cloze(rng, sentence)
    assert question.endswith("?") and " what " in f" {question} ", question
    assert reader.cloze(rng, "It is so.") is None


@pytest.mark.slow
def test_the_built_reader_quotes_held_out_holmes_sentences_better_than_instruct():
    held = reader.holmes_examples(40, seed=1, split="test")  # sentences the build never saw
    scores = {}
    for name in ("instruct", "reader"):
        model, tok = models.load(name, "smoke")
        prompts = [tok.apply_chat_template(e["messages"][:2], tokenize=False, add_generation_prompt=True) for e in held]
        replies = [r.strip() for r in judge.replies(model, tok, prompts, 96)]
        wanted = [e["messages"][2]["content"] for e in held]
        scores[name] = sum(hallucination.is_correct(r, w) for r, w in zip(replies, wanted)) / len(held)
    assert scores["reader"] >= scores["instruct"] + 0.2, f"the reader should quote the stories better: {scores}"
