"""lm-evaluation-harness on the local Sherlock Holmes task, offline, equals our own log-likelihood scorer."""

import re
import socket

import lm_eval
import pytest
from lm_eval.tasks import TaskManager
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm_workshop import models
from llm_workshop.concepts import harness
from llm_workshop.course.data import STORY_TITLES, stories


def test_every_generated_question_has_one_answer_the_text_confirms():
    texts = dict(stories())
    items = harness.story_questions(per_story=3, seed=0)
    assert len(items) == 2 * 3 * len(STORY_TITLES)
    for item in items:
        assert len(set(item["choices"])) == 4 and 0 <= item["label"] < 4
        quoted = re.search(r'"(.+)"', item["question"]).group(1)
        if item["kind"] == "story":
            counts = [texts[title].count(quoted) for title in item["choices"]]
        else:
            counts = [texts[quoted].count(word) for word in item["choices"]]
        assert counts[item["label"]] >= 4 and sum(c > 0 for c in counts) == 1, item
    assert items == harness.story_questions(per_story=3, seed=0)
    assert items != harness.story_questions(per_story=3, seed=1)


def test_accuracy_and_length_normalisation_by_hand():
    items = [{"choices": ["a", "bbbb"], "label": 1}, {"choices": ["cc", "d"], "label": 0}]
    scores = [[-2.0, -4.0], [-3.0, -1.0]]
    assert harness.accuracy(items, scores) == 0.0
    assert harness.accuracy(items, scores, normalize=True) == 0.5  # -4/4 > -2/1; -3/2 < -1/1
    with pytest.raises(ValueError, match="one non-empty list per item"):
        harness.accuracy(items, scores[:1])


def test_bad_input_is_a_sentence(tmp_path):
    with pytest.raises(ValueError, match="no items to write"):
        harness.write_lm_eval_task([], tmp_path)
    with pytest.raises(KeyError, match="lacks"):
        harness.write_lm_eval_task([{"question": "q", "choices": ["a", "b"]}], tmp_path)
    with pytest.raises(ValueError, match="n_choices"):
        harness.story_questions(n_choices=1)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:] if len(args) > 1 else args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gpt2", "chat"])
def test_lm_eval_offline_equals_completion_logprobs(name, tmp_path, no_network):
    items = harness.story_questions(per_story=1, seed=0)  # 24 questions, 96 choices
    harness.write_lm_eval_task(items, tmp_path)
    path = models.model_path(name, "smoke")
    results = lm_eval.simple_evaluate(
        model="hf",
        model_args={"pretrained": path, "dtype": "float32", "device": "cpu"},
        tasks=[harness.TASK_NAME],
        task_manager=TaskManager(include_path=str(tmp_path), include_defaults=False),
        batch_size=8,
        log_samples=True,
    )
    samples = results["samples"][harness.TASK_NAME]
    metrics = results["results"][harness.TASK_NAME]
    # the harness scored exactly our (prompt, choice) pairs ...
    arguments = [tuple(a) for s in sorted(samples, key=lambda s: s["doc_id"]) for a in s["arguments"]]
    assert arguments == harness.requests(items)
    # ... and got our log-likelihoods and accuracies
    model, tokenizer = AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    ours = harness.item_logprobs(model, tokenizer, items, batch_size=5)
    theirs = harness.harness_logprobs(samples)
    assert max(abs(a - b) for ra, rb in zip(ours, theirs) for a, b in zip(ra, rb)) < 1e-4
    assert harness.accuracy(items, ours) == metrics["acc,none"]
    assert harness.accuracy(items, ours, normalize=True) == metrics["acc_norm,none"]
