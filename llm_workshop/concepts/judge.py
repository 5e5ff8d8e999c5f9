"""LLM-as-a-judge: a pairwise judging prompt, a strict verdict parser, and the statistics that check the judge.

A reply the parser cannot read is "no verdict" (None): it is counted as such and never turned into a win.
Position bias is measured by judging every pair twice, the answers swapped; a judge without it picks the same
answer in both orders.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

import torch
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList

from llm_workshop.concepts.decoding import generation_kwargs
from llm_workshop.concepts.hallucination import reading_items

VERDICTS = ("A", "B", "tie")
JUDGE_SYSTEM = "You are a strict judge of answers to questions about the Sherlock Holmes stories."
# Each answer is followed by its letter, and the judge restates the reference before the letter: a reply such as
# "Reference answer: Irene Adler (A)" is easy to read, and a model that copies from its prompt can write it.
JUDGE_PROMPT = (
    "Question: {question}\n{reference}Answers:\n{answer_a} (A)\n{answer_b} (B)\n\n"
    "Which answer agrees with the reference answer? Restate the reference answer, then give the letter."
)
JUDGE_PROMPT_NO_REFERENCE = (
    "Question: {question}\nAnswers:\n{answer_a} (A)\n{answer_b} (B)\n\n"
    "Which answer is correct? Restate the correct answer, then give the letter."
)
REPLY_PREFIX = "Reference answer: {reference} ("  # the judge's reply up to its letter
# A reply may end with a letter in brackets, "... (A)", "(tie)"; or its first line may be "A", "B." or "Answer: A",
# "The better answer is B", "tie" or "[[A]]"; nothing else is a verdict.
_TRAILING = re.compile(r"\((A|B|tie)\)", re.IGNORECASE)
_BRACKETED = re.compile(r"\[\[(A|B|tie)\]\]", re.IGNORECASE)
_LEADING = re.compile(
    r"^(?:(?:the )?(?:better |correct )?(?:answer|verdict)(?: is)?:? )?(A|B|tie)(?:[.:)!,]|\s+is\b|$)", re.IGNORECASE
)


@torch.no_grad()
def replies(
    model,
    tokenizer,
    prompts: Sequence[str] | Sequence[list[int]],
    max_new_tokens: int,
    temperature: float | None = None,
    batch_size: int = 16,
    constraint: Callable[[range, int], LogitsProcessor] | None = None,
) -> list[str]:
    """The model's replies to rendered chat prompts, as text or as token ids (greedy, or sampled at `temperature`:
    seed torch first).

    Prompts are left-padded per call (every row ends where generation starts); the tokenizer is not changed.
    `constraint(rows, prompt_length)`, if given, is the logits processor for the batch of prompts `rows` (e.g.
    `quoting.quoted_replies`'s, which knows each row's passages).
    """
    settings = generation_kwargs(tokenizer.pad_token_id, tokenizer.eos_token_id, temperature)
    config = GenerationConfig(max_new_tokens=max_new_tokens, **settings)
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        if isinstance(chunk[0], str):
            batch = tokenizer(chunk, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
        else:  # token ids, e.g. from `injection.encode_chat`
            batch = tokenizer.pad({"input_ids": chunk}, padding=True, padding_side="left", return_tensors="pt")
        batch, length = batch.to(device), batch["input_ids"].shape[1]
        rows = range(start, start + len(chunk))
        processors = LogitsProcessorList([constraint(rows, length)] if constraint else [])
        generated = model.generate(**batch, generation_config=config, logits_processor=processors)
        out += tokenizer.batch_decode(generated[:, length:], skip_special_tokens=True)
    return [text.strip() for text in out]


def judge_messages(question: str, answer_a: str, answer_b: str, reference: str | None = None) -> list[dict]:
    """Chat messages asking the judge to pick answer A or B, each listed before its letter, with an optional
    reference answer to compare them with."""
    if reference:
        ref = f"Reference answer: {reference}\n"
        content = JUDGE_PROMPT.format(question=question, reference=ref, answer_a=answer_a, answer_b=answer_b)
    else:
        content = JUDGE_PROMPT_NO_REFERENCE.format(question=question, answer_a=answer_a, answer_b=answer_b)
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": content}]


def judge_reply(reference: str, verdict: str) -> str:
    """The reply the judge is asked for: the reference restated, then the verdict's letter in brackets."""
    if verdict not in VERDICTS:
        raise ValueError(f"a verdict is 'A', 'B' or 'tie', got {verdict!r}")
    return REPLY_PREFIX.format(reference=reference) + f"{verdict})"


def labelled_pairs() -> list[dict]:
    """The labelled set: per reading question, the right answer as `good`, a plausible wrong one as `bad`."""
    return [
        {"question": it["question"], "reference": it["answer"], "good": it["answer"], "bad": it["wrong"]}
        for it in reading_items()
    ]


def parse_verdict(reply: str) -> str:
    """'A', 'B' or 'tie' from a judge's reply: the last letter in brackets, "(A)", else a verdict at its start; a reply
    without a clear verdict raises ValueError."""
    if not isinstance(reply, str):
        raise TypeError(f"a judge reply is a string, got {type(reply).__name__}")
    trailing = _TRAILING.findall(reply)
    if trailing:
        return "tie" if trailing[-1].lower() == "tie" else trailing[-1].upper()
    bracketed = _BRACKETED.search(reply)
    first_line = re.sub(r"[*#`\"'\[\]]", "", reply).strip().split("\n")[0].strip()
    match = bracketed or _LEADING.match(first_line)
    if match is None:
        raise ValueError(f"no verdict (A, B or tie) at the start of the judge's reply {reply[:60]!r}; count it as none")
    word = match.group(1)
    return "tie" if word.lower() == "tie" else word.upper()


def verdict_or_none(reply: str) -> str | None:
    """The verdict of a reply, or None ("no verdict") when it cannot be parsed: never a silent win."""
    try:
        return parse_verdict(reply)
    except ValueError:
        return None


def flip(verdict: str | None) -> str | None:
    """The verdict as it reads with the two answers swapped (A <-> B; tie and None stay)."""
    return {"A": "B", "B": "A"}.get(verdict, verdict)


def position_stats(first_order: Sequence[str | None], swapped: Sequence[str | None]) -> dict[str, float]:
    """Compare verdicts on pairs judged in both orders (the second time with the answers swapped).

    Returns the counts `pairs` and `no_verdict` (a None in either order) and, among pairs judged both times, the
    rates `consistent` (the same answer, or a tie, both times) and `position_bias` (the same letter both times,
    whatever answer it holds).
    """
    if len(first_order) != len(swapped):
        raise ValueError(f"got {len(first_order)} and {len(swapped)} verdicts; judge every pair in both orders")
    if not first_order:
        raise ValueError("no verdicts to compare; judge at least one pair in both orders")
    both = [(v, w) for v, w in zip(first_order, swapped) if v is not None and w is not None]
    judged = max(len(both), 1)
    return {
        "pairs": len(first_order),
        "no_verdict": len(first_order) - len(both),
        "consistent": sum(flip(w) == v for v, w in both) / judged,
        "position_bias": sum(v == w != "tie" for v, w in both) / judged,
    }


def combine_orders(first_order: str | None, swapped: str | None) -> str | None:
    """One verdict from both orders: a win only if the same answer wins both times, else a tie; None if either is."""
    if first_order is None or swapped is None:
        return None
    return first_order if flip(swapped) == first_order else "tie"


def agreement(samples: Sequence[str | None]) -> float:
    """Self-consistency: the share of sampled verdicts equal to the most common parsed one (None never agrees)."""
    if not samples:
        raise ValueError("no sampled verdicts; sample the judge at least once")
    parsed = Counter(v for v in samples if v is not None)
    return parsed.most_common(1)[0][1] / len(samples) if parsed else 0.0


def to_match(model_a: str, model_b: str, verdict: str | None) -> tuple[str, str, float]:
    """An arena match (model_a, model_b, outcome) from a verdict on (A = model_a, B = model_b)."""
    if verdict is None:
        raise ValueError("a reply without a verdict cannot become a match; drop it (and count it) or ask again")
    if verdict not in VERDICTS:
        raise ValueError(f"a verdict is 'A', 'B' or 'tie', got {verdict!r}")
    return model_a, model_b, {"A": 1.0, "B": 0.0, "tie": 0.5}[verdict]
