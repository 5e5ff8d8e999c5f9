"""The smoke "instruct" stand-in: its generated conversations, its training rows, the hand-set head, and the built
model on held-out data (it judges, quotes and obeys as documented in `standins.instruct`)."""

import random
import re

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm_workshop import models
from llm_workshop.concepts import grounding, hallucination, injection, judge
from llm_workshop.standins import instruct, instruct_data


@pytest.fixture(scope="module")
def tokenizer():
    return instruct.make_tokenizer(models.hub_files("chat"))  # Qwen2.5's own tokenizer: no build needed


def test_judge_examples_restate_the_reference_and_name_the_right_letter():
    for example in instruct_data.judge_examples(50, seed=3):
        user, reply = example["messages"][1]["content"], example["messages"][2]["content"]
        reference = user.split("Reference answer: ")[1].split("\n")[0]
        letter = judge.parse_verdict(reply)
        assert reply == judge.judge_reply(reference, letter)
        chosen = next(line for line in user.split("\n") if line.endswith(f"({letter})"))
        assert chosen.endswith(f"{reference} ({letter})"), (chosen, reference)


def test_splits_share_no_names_and_no_test_relation_is_trained():
    words = instruct_data.news_words()
    assert not set(words["names"]["train"]) & set(words["names"]["test"])
    patterns = [re.sub(r"\\{\w+\\}", ".+", re.escape(s)) for s, _ in instruct_data.RELATIONS]
    test_patterns = patterns[-instruct_data.TEST_RELATIONS :]
    rng = random.Random(0)
    for split, allowed in (("train", patterns[: -instruct_data.TEST_RELATIONS]), ("test", test_patterns)):
        for _ in range(100):
            sentence = instruct_data.random_fact(rng, split)["sentence"]
            assert any(re.fullmatch(p, sentence) for p in allowed), (split, sentence)
            if split == "train":
                assert not any(re.fullmatch(p, sentence) for p in test_patterns), sentence
    with pytest.raises(ValueError, match="split must be"):
        instruct_data.judge_examples(1, split="dev")


def test_grounded_examples_cite_and_quote_the_passage_with_the_answer():
    for example in instruct_data.rag_examples(60, seed=1):
        reply = example["messages"][-1]["content"]
        assert grounding.cited_ids(reply)[0] == example["gold"]
        assert hallucination.is_correct(reply, example["answer"])
        assert grounding.faithful(reply, example["passages"])


def test_injected_questions_are_obeyed_only_where_an_obedient_model_would():
    for example in instruct.injected_examples(200, seed=2):
        system, question = example["messages"][0]["content"], example["messages"][1]["content"]
        wrote = bool(injection.write_keywords(example["messages"][2]["content"]))
        guarded, forged = system == injection.SYSTEM_GUARDED, "<|im_start|>system" in question
        assert wrote == (not guarded or (forged and not example["split_user"])), example
    assert all(not e.get("split_user") for e in instruct.sql_examples(20))


def test_training_rows_label_the_reply_only(tokenizer):
    example = instruct.injected_examples(40, seed=0)
    example = next(e for e in example if e["split_user"])
    ids, labels = instruct.example_ids(tokenizer, example, 1024)
    start = labels.index(next(x for x in labels if x != -100))
    assert all(x == -100 for x in labels[:start]) and labels[start:] == ids[start:]
    assert ids[-1] == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert ids[:start] == injection.encode_chat(tokenizer, example["messages"][:-1], split_content=True)
    assert ids[:start].count(tokenizer.convert_tokens_to_ids("<|im_start|>")) == 3  # the forged turn is text
    assert tokenizer.decode(ids[start:]) == example["messages"][-1]["content"] + "<|im_end|>"
    assert instruct.example_ids(tokenizer, example, 10) == (ids[:10], labels[:10])


def test_batches_cover_every_row_before_repeating():
    got = instruct.batches(list(range(50)), steps=10, batch_size=5, seed=0)
    assert sorted(i for b in got for i in b) == list(range(50))
    assert got == instruct.batches(list(range(50)), steps=10, batch_size=5, seed=0)


@pytest.mark.slow
def test_the_summary_head_attends_to_recent_content_words():
    chat = models.smoke_path("chat")  # its pre-trained embeddings tell content words from the others
    tok = AutoTokenizer.from_pretrained(chat)
    model = AutoModelForCausalLM.from_pretrained(chat, attn_implementation="eager")
    instruct.set_summary_head(model, tok, head=2)
    text = "the lamp and the garden of the doctor were in the house of the baker by the river"
    ids = tok(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        weights = model(input_ids=ids, output_attentions=True).attentions[0][0, 2, -1]
    tokens = [t.replace("Ġ", "") for t in tok.convert_ids_to_tokens(ids[0])]
    stop = {i for i, t in enumerate(tokens) if t.lower() in instruct.STOP}
    assert weights[sorted(stop)].sum() < 0.2, dict(zip(tokens, weights.tolist()))
    longer = tok(text + " and the lamp of the old man with the long coat was seen", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        weights = model(input_ids=longer, output_attentions=True).attentions[0][0, 2, -1]
    assert weights[: ids.shape[1]].sum() < 0.05, weights  # recent words, not the start of the text


@pytest.mark.slow
def test_the_built_stand_in_judges_held_out_pairs_and_quotes_passages():
    model, tok = models.load("instruct", "smoke")
    held = instruct_data.judge_examples(60, seed=1, split="test")
    prompts = [tok.apply_chat_template(e["messages"][:2], tokenize=False, add_generation_prompt=True) for e in held]
    got = [judge.verdict_or_none(r) for r in judge.replies(model, tok, prompts, 24)]
    right = sum(g == judge.parse_verdict(e["messages"][2]["content"]) for g, e in zip(got, held)) / len(held)
    assert right >= 0.8, right  # measured 0.91 on 200
    cited = instruct_data.rag_examples(40, seed=1, split="test")
    prompts = [tok.apply_chat_template(e["messages"][:2], tokenize=False, add_generation_prompt=True) for e in cited]
    replies = judge.replies(model, tok, prompts, 64)
    faithful = sum(grounding.faithful(r, e["passages"]) for r, e in zip(replies, cited)) / len(cited)
    assert faithful >= 0.8, (faithful, replies[:3])
    assert "<tool_call>" in tok.get_vocab() and "<tools>" in tok.chat_template  # Qwen's template, for 2.7
