"""Quote-constrained answers: the processor allows exactly the tokens a brute-force search over every valid answer
allows, and a random tiny model constrained by it always cites a passage and quotes it."""

import pytest
from transformers import AutoTokenizer

from llm_workshop.concepts import grounding, quoting
from llm_workshop.course.data import HUB_ASSETS

PASSAGES = [
    "“Well, Watson,” said he, “what do you make of it?” It was a swamp adder.",
    "Holmes’s lamp was lit; the lamp was out.",
]


def valid_answers(passages: list[str]) -> set[bytes]:
    """Every complete answer, by brute force: the found-nothing reply, and "[n] " with each piece of passage n that
    starts at a word and does not end inside one."""
    out = {grounding.NOTHING.encode()}
    for n, passage in enumerate(passages, start=1):
        for i in range(len(passage)):
            for j in range(i + 1, len(passage) + 1):
                answer = f"[{n}] {passage[i:j]}"
                if quoting.is_quote(answer, passages):
                    out.add(answer.encode())
    return out


def test_token_bytes_rebuild_the_text_curly_quotes_included(qwen_tokenizer):
    pieces = quoting.token_bytes(qwen_tokenizer)
    for passage in PASSAGES:
        ids = qwen_tokenizer(passage, add_special_tokens=False)["input_ids"]
        assert b"".join(pieces[i] for i in ids) == passage.encode(), passage
    assert pieces[qwen_tokenizer.eos_token_id] is None


def test_allowed_tokens_equal_a_brute_force_over_every_valid_answer(qwen_tokenizer):
    answers = valid_answers(PASSAGES)
    prefixes = {a[:i] for a in answers for i in range(len(a) + 1)}
    processor = quoting.QuoteLogitsProcessor(qwen_tokenizer, [PASSAGES], prompt_length=0)
    pieces = quoting.token_bytes(qwen_tokenizer)
    texts = [b"", b"[", b"[2", b"[1] ", b"[1] \xe2\x80\x9c", "[1] “Well".encode(), b"[1] It was", b"[2] the lamp",
             b"[2] lamp was", "[2] Holmes’s".encode(), b"I found", b"[2] Holmes\xe2\x80"]  # fmt: skip
    for text in texts:
        assert text in prefixes, text
        brute = {t for t, b in enumerate(pieces) if b and text + b in prefixes}
        brute |= {qwen_tokenizer.eos_token_id} if text in answers else set()
        assert set(processor.allowed(0, text)) == brute, text
    assert qwen_tokenizer.eos_token_id in processor.allowed(0, b"[2] the lamp")
    assert qwen_tokenizer.eos_token_id not in processor.allowed(0, b"[2] the lam")  # inside a word


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_constrained_answer_cites_and_quotes_a_passage(qwen_tokenizer, loud_qwen, seed):
    model = loud_qwen(qwen_tokenizer, seed)
    questions = ["What snake was it?", "Whose lamp was lit?"]
    passages = [PASSAGES, PASSAGES[::-1]]
    prompts = [qwen_tokenizer.apply_chat_template(grounding.grounded_messages(q, p), tokenize=False,
               add_generation_prompt=True) for q, p in zip(questions, passages)]  # fmt: skip
    answers = quoting.quoted_replies(model, qwen_tokenizer, prompts, passages, max_new_tokens=40)
    for answer, given in zip(answers, passages):
        assert quoting.is_quote(answer, given), f"a constrained answer should quote a passage: {answer!r}"
    free = model.generate(**qwen_tokenizer(prompts[:1], return_tensors="pt"), max_new_tokens=12, do_sample=False)
    unconstrained = qwen_tokenizer.decode(free[0, -12:], skip_special_tokens=True).strip()
    assert not quoting.is_quote(unconstrained, PASSAGES), f"a random model should not quote: {unconstrained!r}"


def test_bad_input_is_refused_with_a_sentence(qwen_tokenizer):
    with pytest.raises(ValueError, match="one passage list per prompt"):
        quoting.quoted_replies(None, qwen_tokenizer, ["a", "b"], [PASSAGES], 8)
    wordpiece = AutoTokenizer.from_pretrained(HUB_ASSETS / "distilbert-base-uncased")
    with pytest.raises(ValueError, match="byte-level BPE"):
        quoting.token_bytes(wordpiece)
