"""Extractive question answering written out: start/end logits → the best answer span, over sliding windows.

transformers 5.3 removed the question-answering pipeline; `answer` does what it did, step by step,
`encode_training_examples` turns (question, context, answer) triples into start/end labels for fine-tuning, and
`synthetic_examples` / `hidden_fact_examples` make questions about made-up facts for the smoke tier to train on.
"""

from __future__ import annotations

import inspect
import random
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from llm_workshop.concepts.metrics import f_measure

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class Answer:
    """An answer span: its text, where it sits in the context (`context[start:end] == text`) and its probability."""

    text: str
    start: int
    end: int
    score: float


def _require_inputs(question: str, context: str) -> None:
    if not question or not question.strip():
        raise ValueError("the question is empty; pass the question to answer as a non-empty string")
    if not context or not context.strip():
        raise ValueError("the context is empty; pass the text in which to look for the answer")


def _windows(tokenizer, questions, contexts, max_length: int, stride: int):
    """Tokenize (question, context) pairs into overlapping windows of the context, with character offsets."""
    return tokenizer(
        questions,
        contexts,
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="longest",
        return_tensors="pt",
    )


def _window_room(tokenizer, question: str, max_length: int, stride: int) -> None:
    """Fail early, with a sentence, when a window has no room left for context after the question."""
    question_tokens = len(tokenizer(question, add_special_tokens=False)["input_ids"])
    room = max_length - question_tokens - tokenizer.num_special_tokens_to_add(pair=True)
    if stride < 0 or room <= stride:
        raise ValueError(
            f"a window of max_length={max_length} tokens leaves {room} tokens of context after the question, "
            f"which must be more than stride={stride}; raise max_length (up to the model's limit) or lower stride"
        )


def _model_inputs(model, encoding) -> dict[str, torch.Tensor]:
    """The tensors the model's forward accepts (DistilBERT takes no token_type_ids, BERT does)."""
    accepted = inspect.signature(model.forward).parameters
    device = next(model.parameters()).device
    return {name: encoding[name].to(device) for name in MODEL_INPUTS if name in encoding and name in accepted}


@torch.no_grad()
def answer(
    model,
    tokenizer,
    question: str,
    context: str,
    max_length: int = 384,
    stride: int = 128,
    max_answer_length: int = 30,
) -> Answer:
    """The most probable span of `context` answering `question`, searched in overlapping windows of `max_length` tokens.

    In each window only context tokens may start or end the answer; the span maximises
    p(start) · p(end) with start <= end < start + max_answer_length, and the best window wins. The probabilities
    are a softmax over the context tokens and [CLS], so a window the model deems answerless scores low.
    """
    _require_inputs(question, context)
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if limit is not None and max_length > limit:
        raise ValueError(
            f"max_length={max_length} exceeds the model's limit of {limit} positions; pass at most {limit}"
        )
    _window_room(tokenizer, question, max_length, stride)
    encoding = _windows(tokenizer, question, context, max_length, stride)
    model.eval()
    output = model(**_model_inputs(model, encoding))
    best = None
    for window in range(encoding["input_ids"].shape[0]):
        in_context = torch.tensor([s == 1 for s in encoding.sequence_ids(window)])
        # [CLS] takes part in the softmax, as in transformers' former pipeline: a window whose model puts the
        # probability on [CLS] ("no answer here") scores low against the window that holds the answer.
        competing = in_context | (encoding["input_ids"][window] == tokenizer.cls_token_id)
        start_logits = output.start_logits[window].float().cpu().masked_fill(~competing, float("-inf"))
        end_logits = output.end_logits[window].float().cpu().masked_fill(~competing, float("-inf"))
        p_start = start_logits.softmax(-1).masked_fill(~in_context, 0.0)
        p_end = end_logits.softmax(-1).masked_fill(~in_context, 0.0)
        # scores[i, j] = p(start=i) p(end=j), kept only where i <= j < i + max_answer_length
        scores = (p_start[:, None] * p_end[None, :]).triu().tril(max_answer_length - 1)
        flat = int(scores.argmax())
        start_token, end_token = divmod(flat, scores.shape[1])
        score = float(scores[start_token, end_token])
        if best is None or score > best[0]:
            offsets = encoding["offset_mapping"][window]
            best = (score, int(offsets[start_token][0]), int(offsets[end_token][1]))
    score, start, end = best
    while start < end and context[start].isspace():  # byte-level BPE tokens carry their leading space
        start += 1
    return Answer(text=context[start:end], start=start, end=end, score=score)


def encode_training_examples(
    tokenizer,
    questions: Sequence[str],
    contexts: Sequence[str],
    answer_starts: Sequence[int],
    answer_texts: Sequence[str],
    max_length: int = 384,
    stride: int = 128,
) -> dict[str, torch.Tensor]:
    """Tokenize (question, context) pairs into windows labelled with the answer's start/end token.

    A window that does not contain the whole answer is labelled (0, 0), the [CLS] token: "no answer here". An empty
    answer text means the context does not answer the question (SQuAD 2.0's convention): all its windows get (0, 0).
    """
    if not len(questions) == len(contexts) == len(answer_starts) == len(answer_texts):
        raise ValueError("questions, contexts, answer_starts and answer_texts must have the same length")
    for question, context, start, text in zip(questions, contexts, answer_starts, answer_texts):
        _require_inputs(question, context)
        if text and context[start : start + len(text)] != text:
            raise ValueError(f"the answer {text!r} is not at character {start} of its context")
    _window_room(tokenizer, max(questions, key=len), max_length, stride)
    encoding = _windows(tokenizer, list(questions), list(contexts), max_length, stride)
    starts, ends = [], []
    for window, sample in enumerate(encoding["overflow_to_sample_mapping"].tolist()):
        first_char, last_char = answer_starts[sample], answer_starts[sample] + len(answer_texts[sample])
        context_tokens = [i for i, s in enumerate(encoding.sequence_ids(window)) if s == 1]
        offsets = encoding["offset_mapping"][window].tolist()
        inside = [i for i in context_tokens if offsets[i][1] > first_char and offsets[i][0] < last_char]
        covered = (
            answer_texts[sample]
            and inside
            and offsets[inside[0]][0] <= first_char
            and offsets[inside[-1]][1] >= last_char
        )
        starts.append(inside[0] if covered else 0)
        ends.append(inside[-1] if covered else 0)
    features = {name: encoding[name] for name in MODEL_INPUTS if name in encoding}
    features["start_positions"] = torch.tensor(starts)
    features["end_positions"] = torch.tensor(ends)
    return features


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles (a, an, the), single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def exact_match(prediction: str, truth: str) -> float:
    """1.0 when the normalised prediction equals the normalised truth, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(truth))


def token_f1(prediction: str, truth: str) -> float:
    """Token-overlap F1 between prediction and truth after normalisation (the SQuAD metric)."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    return f_measure(common / len(predicted), common / len(expected))


NAMES = [
    "Sherlock Holmes", "John Watson", "Irene Adler", "Jabez Wilson", "Mary Sutherland", "James McCarthy",
    "John Openshaw", "Helen Stoner", "Violet Hunter", "Alexander Holder", "Hosmer Angel", "Kate Whitney",
]  # fmt: skip
VALUES = {
    "place": [
        "Baker Street", "Briony Lodge", "Boscombe Valley", "Horsham", "Stoke Moran", "Covent Garden", "Kensington",
        "Reading", "Winchester", "Paddington",
    ],
    "job": ["pawnbroker", "typist", "governess", "banker", "butler", "doctor", "clerk", "coachman"],
    "thing": ["a blue carbuncle", "five orange pips", "a speckled band", "a beryl coronet", "a gold watch", "a lens"],
}  # fmt: skip
FACTS = {  # a fact template and the questions it answers, with the slot holding each answer
    "place": ("{name} lives in {place}.", [("Where does {name} live?", "place"), ("Who lives in {place}?", "name")]),
    "job": ("{name} works as a {job}.", [("What does {name} work as?", "job"), ("Who works as a {job}?", "name")]),
    "thing": (
        "{name} keeps {thing} in a drawer.",
        [("What does {name} keep in a drawer?", "thing"), ("Who keeps {thing}?", "name")],
    ),
}


def _facts(rng: random.Random, people: Sequence[str], kinds: Sequence[str]) -> list[tuple[str, dict]]:
    """One fact per person: its kind and the values filling its template (no two people share a value)."""
    values = {k: rng.sample(v, len(people)) for k, v in VALUES.items()}
    return [(kind, {"name": p, **{k: values[k][i] for k in VALUES}}) for i, (p, kind) in enumerate(zip(people, kinds))]


def _ask(rng: random.Random, context: str, facts: list[tuple[str, dict]]) -> dict:
    """A question about one of `facts`, all of which are in `context`, with its answer and the answer's start."""
    kind, v = rng.choice(facts)
    question, field = rng.choice(FACTS[kind][1])
    sentence = FACTS[kind][0].format(**v)
    start = context.index(sentence) + sentence.index(v[field])
    return {"question": question.format(**v), "context": context, "answer": v[field], "start": start}


def synthetic_examples(n: int, seed: int) -> list[dict]:
    """n contexts of three facts about three people, each with one question, its answer and the answer's start."""
    rng, examples = random.Random(seed), []
    for _ in range(n):
        people, kinds = rng.sample(NAMES, 3), rng.sample(list(FACTS), 3)
        facts = _facts(rng, people, kinds)
        examples.append(_ask(rng, " ".join(FACTS[kind][0].format(**v) for kind, v in facts), facts))
    return examples


def hidden_fact_examples(
    n: int,
    seed: int,
    filler: Sequence[str],
    max_filler_words: int = 150,
    unanswerable: float = 0.3,
    one_kind: float = 0.3,
) -> list[dict]:
    """n contexts hiding one to three facts at sentence ends of a random stretch of `filler` words, one question each.

    A share `unanswerable` of the questions ask about a person and values the context does not mention; their answer
    is "" (SQuAD 2.0's convention), so a reader trained on them learns to say "no answer here" with [CLS]. A share
    `one_kind` of the contexts state facts of a single kind, so that the answer's kind alone does not find it.
    """
    if not 0 <= unanswerable <= 1 or len(filler) <= max_filler_words:
        raise ValueError("unanswerable must lie in [0, 1] and filler must hold more than max_filler_words words")
    rng, examples = random.Random(seed), []
    for _ in range(n):
        k = rng.randint(1, 3)
        people, kinds = rng.sample(NAMES, k), [rng.choice(list(FACTS)) for _ in range(k)]
        facts = _facts(rng, people, kinds[:1] * k if rng.random() < one_kind else kinds)
        length = rng.randint(0, max_filler_words)
        begin = rng.randrange(len(filler) - length)
        words = list(filler[begin : begin + length])
        ends = [0, *(i + 1 for i, w in enumerate(words) if w.endswith((".", "?", "!", ".”", "?”", "!”")))]
        for cut, (kind, v) in sorted(zip((rng.choice(ends) for _ in facts), facts), key=lambda c: -c[0]):
            words.insert(cut, FACTS[kind][0].format(**v))  # from the last cut back, so earlier cuts stay valid
        context = " ".join(words)
        if rng.random() < unanswerable:
            question, _ = rng.choice(FACTS[rng.choice(list(FACTS))][1])
            absent = {"name": rng.choice([p for p in NAMES if p not in context])}
            absent |= {k: rng.choice([x for x in v if x not in context]) for k, v in VALUES.items()}
            examples.append({"question": question.format(**absent), "context": context, "answer": "", "start": 0})
        else:
            examples.append(_ask(rng, context, facts))
    return examples
