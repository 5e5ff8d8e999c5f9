"""The judge's verdict parser, its position statistics, and truly greedy replies whatever the checkpoint's defaults."""

import pytest
import torch
from transformers import GenerationConfig

from llm_workshop import models
from llm_workshop.concepts import decoding, judge


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("A", "A"),
        ("b.", "B"),
        ("Answer: A", "A"),
        ("Answer B is better, it names the man.", "B"),
        ("The better answer is B", "B"),
        ("**A**\nBecause it names Irene Adler.", "A"),
        ("A, because it is right", "A"),
        ("Tie.", "tie"),
        ("I think [[B]] is right", "B"),
        ("Reference answer: Irene Adler (A)", "A"),
        ("Reference answer: the Bible (B).", "B"),
        ("Both name her (tie)", "tie"),
        ("Answer (A) is wrong, so (B)", "B"),
    ],
)
def test_parse_verdict_reads_the_usual_forms(reply, verdict):
    assert judge.parse_verdict(reply) == verdict
    assert judge.verdict_or_none(reply) == verdict


@pytest.mark.parametrize("reply", ["", "A good answer names the woman.", "Holmes would agree", "Both are fine", "AB"])
def test_unparseable_reply_is_no_verdict_never_a_win(reply):
    with pytest.raises(ValueError, match="no verdict"):
        judge.parse_verdict(reply)
    assert judge.verdict_or_none(reply) is None
    with pytest.raises(ValueError, match="cannot become a match"):
        judge.to_match("model_x", "model_y", judge.verdict_or_none(reply))
    with pytest.raises(TypeError, match="string"):
        judge.parse_verdict(None)


def test_matches_from_verdicts():
    assert judge.to_match("x", "y", "A") == ("x", "y", 1.0)
    assert judge.to_match("x", "y", "B") == ("x", "y", 0.0)
    assert judge.to_match("x", "y", "tie") == ("x", "y", 0.5)
    with pytest.raises(ValueError, match="'A', 'B' or 'tie'"):
        judge.to_match("x", "y", "C")


def test_position_stats_and_combining_orders():
    first = ["A", "A", "B", "tie", None, "A"]
    swapped = ["B", "A", "B", "tie", "A", "tie"]  # consistent, position, position, consistent, none, mixed
    stats = judge.position_stats(first, swapped)
    assert stats == {"pairs": 6, "no_verdict": 1, "consistent": 2 / 5, "position_bias": 2 / 5}
    combined = [judge.combine_orders(v, w) for v, w in zip(first, swapped)]
    assert combined == ["A", "tie", "tie", "tie", None, "tie"]
    with pytest.raises(ValueError, match="both orders"):
        judge.position_stats(["A"], [])
    with pytest.raises(ValueError, match="at least one pair"):
        judge.position_stats([], [])


def test_self_consistency_agreement():
    assert judge.agreement(["A", "A", "A"]) == 1.0
    assert judge.agreement(["A", "B", "A", None]) == 0.5
    assert judge.agreement([None, None]) == 0.0
    with pytest.raises(ValueError, match="at least once"):
        judge.agreement([])


def test_labelled_pairs_and_prompts():
    pairs = judge.labelled_pairs()
    assert len(pairs) == 15 and all(p["good"] != p["bad"] for p in pairs)
    with_ref = judge.judge_messages("Q?", "one", "two", reference="one")[1]["content"]
    without = judge.judge_messages("Q?", "one", "two")[1]["content"]
    assert "Reference answer: one\n" in with_ref and "Reference" not in without
    assert "Answers:\none (A)\ntwo (B)\n" in without and "Answers:\none (A)\ntwo (B)\n" in with_ref


def test_the_reply_format_is_what_the_parser_reads():
    reply = judge.judge_reply("Irene Adler", "B")
    assert reply == "Reference answer: Irene Adler (B)"
    assert reply.startswith(judge.REPLY_PREFIX.format(reference="Irene Adler"))
    assert [judge.parse_verdict(judge.judge_reply("x", v)) for v in judge.VERDICTS] == list(judge.VERDICTS)
    with pytest.raises(ValueError, match="'A', 'B' or 'tie'"):
        judge.judge_reply("x", "C")


@pytest.fixture(scope="module")
def chat_with_qwen_defaults():
    """The smoke chat model carrying Qwen2.5-Instruct's real generation_config: it samples, with a repetition penalty."""
    model, tokenizer = models.load("chat", "smoke")
    qwen = GenerationConfig.from_pretrained(models.hub_files("chat"))
    assert qwen.do_sample and qwen.repetition_penalty == 1.1
    qwen.pad_token_id, qwen.eos_token_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    model.generation_config = qwen
    return model, tokenizer


def _argmax_loop(model, tokenizer, prompt: str, steps: int) -> str:
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    start = ids.shape[1]
    with torch.no_grad():
        for _ in range(steps):
            token = model(input_ids=ids).logits[0, -1].argmax()
            ids = torch.cat([ids, token.view(1, 1)], dim=1)
            if token.item() == tokenizer.eos_token_id:
                break
    return tokenizer.decode(ids[0, start:], skip_special_tokens=True).strip()


@pytest.mark.slow
def test_greedy_replies_ignore_the_checkpoints_sampling_defaults(chat_with_qwen_defaults):
    model, tokenizer = chat_with_qwen_defaults
    prompts = [
        tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        for q in ("Who is Holmes?", "Which answer is better, A or B? Reply with one letter.", "Hi")
    ]
    got = judge.replies(model, tokenizer, prompts, max_new_tokens=12, batch_size=2)  # left-padded batches
    assert got == [_argmax_loop(model, tokenizer, p, 12) for p in prompts]
    ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    assert judge.replies(model, tokenizer, ids, max_new_tokens=12, batch_size=2) == got  # token ids work the same
    assert tokenizer.padding_side == "right"  # left padding was per call; the tokenizer is unchanged
    torch.manual_seed(0)
    first = judge.replies(model, tokenizer, prompts, 12, temperature=1.0)
    torch.manual_seed(0)
    assert judge.replies(model, tokenizer, prompts, 12, temperature=1.0) == first
    with pytest.raises(ValueError, match="temperature must be > 0"):
        decoding.generation_kwargs(0, None, temperature=0.0)
