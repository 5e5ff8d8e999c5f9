"""The smoke `reader`: the smoke instruct model tuned a little further to cite and quote the Sherlock Holmes stories.

2.5's instruct stand-in learned to quote on short generated passages; on the stories' sentences its quote drifts after
a few words (its copying circuit loops back at a repeated word). This stand-in starts from it and is fine-tuned (every
weight, one thread, under a minute) on grounded answers (`grounding.grounded_messages`, reply `[k] <passage k
quoted>`) whose passages are windows of one to three sentences of the stories (`chunking.sentences`), with a few of
instruct's own conversations mixed in so that it still answers closed book and cites generated text.

It quotes such a window exactly most of the time, but, like instruct, it cites the passage the retriever ranked
first: it does not choose among passages by content. Hand it sentence windows (sentence-window retrieval), not whole
100-word chunks, which it cannot quote far enough.

Held out: no sentence that contains the answer of one of 2.6's evaluation questions (`retrieval_eval.QUESTIONS`) or
of the dev questions its knobs were chosen on (`DEV_QUESTIONS`), or one of their evidence quotes, is ever a passage,
and none of those questions is ever asked. The training questions are cloze questions made from the passage's first
sentence (a word of it replaced by "what").
"""

from __future__ import annotations

import random
import re
import zlib
from functools import lru_cache
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm_workshop.concepts import grounding
from llm_workshop.concepts.chunking import sentences, story_spans
from llm_workshop.concepts.retrieval_eval import DEV_QUESTIONS, QUESTIONS, quote_pattern
from llm_workshop.course.data import load_corpus
from llm_workshop.standins.instruct import STOP, batch_loss, batches, example_ids, mixture, tune
from llm_workshop.standins.instruct_data import RANK_PRIOR, cite_reply

MIXTURE = {"holmes": 2400, "reading": 150, "rag": 150}
RECIPE = {"steps": 240, "batch_size": 12, "lr": 2e-3, "warmup": 10, "max_length": 512, "seed": 0}
MAX_WORDS, MAX_PASSAGES = 80, 2
WORD = re.compile(r"[A-Za-z][a-z]{3,}")


def _held_out() -> list[re.Pattern]:
    """Patterns of the test and dev answers and evidence quotes (whole words, any whitespace) a passage must not hold."""
    texts = [t for _, _, answer, evidence in QUESTIONS + DEV_QUESTIONS for t in (answer, evidence)]
    return [re.compile(rf"(?<!\w){quote_pattern(t)}(?!\w)", re.IGNORECASE) for t in texts]


@lru_cache(maxsize=2)
def story_sentences(split: str = "train") -> tuple[tuple[str, ...], ...]:
    """Each story's sentences of 6 to 60 words, minus those holding an evaluation answer or evidence quote; one in
    ten (by a hash) is in the "test" split, for checking the built model, the others in "train"."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    corpus, held_out, out = load_corpus(), _held_out(), []
    for _, (start, end) in story_spans():
        kept = [
            s
            for s in sentences(corpus[start:end], 6)
            if len(s.split()) <= 60 and not any(p.search(s) for p in held_out)
        ]
        out.append(tuple(s for s in kept if (zlib.crc32(s.encode()) % 10 == 0) == (split == "test")))
    return tuple(out)


def cloze(rng: random.Random, sentence: str) -> str | None:
    """A question made from `sentence`: a content word (not its first) replaced by "what", a few words either side."""
    words = sentence.split()
    spots = [i for i, w in enumerate(words[1:], 1) if WORD.fullmatch(w.strip("‘’“”,.;:!?_")) and w.lower() not in STOP]
    if not spots:
        return None
    i = rng.choice(spots)
    lo, hi = max(0, i - rng.randint(3, 7)), i + rng.randint(2, 6)
    return " ".join(words[lo:i] + ["what"] + words[i + 1 : hi]).strip(" ,;:.!?‘’“”_") + "?"


def _window(rng: random.Random, story: tuple[str, ...], j: int) -> str:
    """Sentence `j`, often with the next one or two (at most `MAX_WORDS` words): a passage as sentence-window
    retrieval hands it over, long enough to practise quoting past repeated words."""
    window = story[j]
    for extra in story[j + 1 : j + rng.choices((1, 2, 3), (0.4, 0.35, 0.25))[0]]:
        if len(window.split()) + len(extra.split()) > MAX_WORDS:
            break
        window += " " + extra
    return window


def holmes_examples(n: int, seed: int = 0, split: str = "train") -> list[dict]:
    """Grounded answers over 1 to `MAX_PASSAGES` sentence windows of one story, the answer's placed by instruct's
    `RANK_PRIOR`: the question is a cloze of the answer window's first sentence; the reply cites and quotes it."""
    rng, stories, out = random.Random(f"holmes-{seed}-{split}"), story_sentences(split), []
    while len(out) < n:
        story = rng.choice(stories)
        k, i = rng.randint(1, MAX_PASSAGES), rng.randrange(len(story) - 1)
        question = cloze(rng, story[i])
        if question is None:
            continue
        passages = [_window(rng, story, j) for j in rng.sample(range(len(story) - 1), k)]
        gold = rng.choices(range(1, k + 1), weights=RANK_PRIOR[:k])[0]
        passages[gold - 1] = _window(rng, story, i)
        messages = grounding.grounded_messages(question, passages, guarded=rng.random() < 0.25)
        out.append({"messages": messages + [{"role": "assistant", "content": cite_reply(passages, gold)}]})
    return out


def build(out: Path, instruct_dir: Path) -> None:
    """Fine-tune the smoke instruct model in `instruct_dir` on Holmes grounded answers; save it in `out`."""
    torch.manual_seed(RECIPE["seed"])
    tokenizer = AutoTokenizer.from_pretrained(instruct_dir)
    model = AutoModelForCausalLM.from_pretrained(instruct_dir, dtype=torch.float32)
    examples = holmes_examples(MIXTURE["holmes"], RECIPE["seed"])
    examples += mixture({k: v for k, v in MIXTURE.items() if k != "holmes"}, RECIPE["seed"] + 1)
    rows = [example_ids(tokenizer, e, RECIPE["max_length"]) for e in examples]
    order = batches([len(ids) for ids, _ in rows], RECIPE["steps"], RECIPE["batch_size"], RECIPE["seed"])
    tune(model, order, lambda batch: batch_loss(model, [rows[i] for i in batch], tokenizer.pad_token_id), RECIPE)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
