"""The smoke `agent` model: the smoke `instruct` model tuned briefly on tool-use conversations (notebook 2.7).

Each training conversation is one of `concepts.agent_tasks`' "train" tasks rendered with Qwen2.5's chat template and
`tools=`: the question, the assistant's `<tool_call>`, the tool's result, and an answer that repeats the result. The
loss is on the assistant's two turns only. Every conversation starts with the same system turn (the tool schemas,
most of the tokens), so each step runs that shared prefix once and every row attends to the one copy, which gives the
same loss as running each row whole at a fraction of the cost. Single-threaded and seeded, like every smoke build.

Prompt format it was trained on: system `agent_tasks.SYSTEM`, the tools of `agent_tasks.registry` through `tools=`,
the question alone as the user turn. The reply is `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`;
the calculator and the SQL tool report `The result is <value>.`, the search `[1] <passage>`, and the answer repeats
that result. Most training tasks are about made-up cities, categories and people (words of the course's book, never a
held-out one), so that it learns to copy them rather than to remember lists; the calculator's expression is written
after a space, as each number is in the question, and the search query is the question from its second word on
(which starts with a space too), so that the call's first value can be copied too.
"""

from __future__ import annotations

import dataclasses
import random
import re
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm_workshop.concepts import agent_tasks
from llm_workshop.concepts.decoding import cache_argument
from llm_workshop.concepts.sql import shop
from llm_workshop.course import data
from llm_workshop.standins.instruct import tune

# seed: the best of five training seeds on fresh held-out task sets (not notebook 2.7's); success swings with it
RECIPE = {"made_up": 0.7, "tasks": 1800, "steps": 200, "batch_size": 12, "lr": 3e-3, "warmup": 10, "seed": 1}


def conversation_ids(tokenizer, messages: list[dict], specs: list[dict]) -> tuple[list[int], list[int]]:
    """(input ids, labels) of a rendered conversation; labels are -100 except on the assistant's turns (their
    `<|im_end|>` included), each turn tokenized on its own as generation produces it."""
    full = tokenizer.apply_chat_template(messages, tools=specs, tokenize=False)
    spans, ids, labels, done = [], [], [], 0
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            start = len(
                tokenizer.apply_chat_template(messages[:i], tools=specs, tokenize=False, add_generation_prompt=True)
            )
            spans.append((start, start + len(message["content"]) + len("<|im_end|>")))
    for start, end in spans:
        for piece, learn in ((full[done:start], False), (full[start:end], True)):
            piece_ids = tokenizer(piece, add_special_tokens=False)["input_ids"]
            ids += piece_ids
            labels += piece_ids if learn else [-100] * len(piece_ids)
        done = end
    return ids, labels


def shared_prefix(rows: list[list[int]]) -> int:
    """How many leading tokens all rows share (the system turn with the tool schemas)."""
    first, n = rows[0], min(len(r) for r in rows)
    return next((i for i in range(n) if any(r[i] != first[i] for r in rows)), n)


def batch_loss(model, rows: list[tuple[list[int], list[int]]], prefix: int, pad_id: int) -> torch.Tensor:
    """Next-token cross-entropy on the labelled positions of `rows`, whose first `prefix` tokens are shared: those run
    once, and the rows' remaining tokens attend to that one copy through the key-value cache."""
    key = cache_argument(model.model)  # `cache` in transformers 5.24, `past_key_values` in Colab's 5.15
    cache = getattr(model.model(input_ids=torch.tensor([rows[0][0][:prefix]]), use_cache=True), key)
    cache.batch_repeat_interleave(len(rows))
    width = max(len(ids) for ids, _ in rows) - prefix
    ids = torch.tensor([i[prefix:] + [pad_id] * (width - len(i) + prefix) for i, _ in rows])
    labels = torch.tensor([lab[prefix:] + [-100] * (width - len(lab) + prefix) for _, lab in rows])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i) + prefix) for i, _ in rows])
    mask = torch.cat([torch.ones(len(rows), prefix, dtype=torch.long), mask], dim=1)
    hidden = model.model(input_ids=ids, attention_mask=mask, **{key: cache}).last_hidden_state
    targets, keep = labels[:, 1:], labels[:, 1:] != -100
    return torch.nn.functional.cross_entropy(model.lm_head(hidden[:, :-1][keep]), targets[keep])


def book_words() -> list[str]:
    """Distinct lower-case words of the course's book, none a held-out city, category or name: made-up values that
    the tokenizer splits as it splits real words (syllable strings split into pieces no real name has)."""
    held_out = {w.lower() for w in shop.CITIES["test"] + shop.CATEGORIES["test"]}
    held_out |= {w.lower() for p in agent_tasks.people("test") for w in p.split()}
    return sorted(set(re.findall(r"\b[a-z]{3,9}\b", data.load_corpus())) - held_out)


def spaced(task: agent_tasks.Task) -> agent_tasks.Task:
    """The task with its call's first value written after a space, as the question writes each word and number, so
    that the model can copy it: the calculator's expression after a space, and the search query as the question from
    its second word on (" was Ada Moss born?"), since nothing before a question's first word can be copied."""
    if task.tool == "search":
        return dataclasses.replace(task, arguments={"query": " " + task.question.split(" ", 1)[1]})
    if task.tool != "calculator":
        return task
    return dataclasses.replace(task, arguments={"expression": " " + task.arguments["expression"]})


def build(out: Path, instruct_dir: Path, recipe: dict | None = None) -> None:
    """Tune the smoke instruct model in `instruct_dir` on generated tool-use conversations; save it in `out`."""
    recipe = {**RECIPE, **(recipe or {})}
    torch.manual_seed(recipe["seed"])
    tokenizer = AutoTokenizer.from_pretrained(instruct_dir)
    model = AutoModelForCausalLM.from_pretrained(instruct_dir, dtype=torch.float32)
    with tempfile.TemporaryDirectory() as scratch:
        db_path = Path(scratch) / "shop.db"
        shop.make_database(db_path, seed=0)
        specs = agent_tasks.registry(db_path).specs()
        tasks = agent_tasks.make_tasks(
            recipe["tasks"], "train", db_path, recipe["seed"], made_up=recipe["made_up"], words=book_words()
        )
        rows = [conversation_ids(tokenizer, agent_tasks.conversation(spaced(t)), specs) for t in tasks]
    prefix = shared_prefix([ids for ids, _ in rows]) - 1  # the last shared token still predicts the first label
    steps, size = recipe["steps"], recipe["batch_size"]
    rng, order = random.Random(recipe["seed"]), []
    while len(order) < steps * size:
        epoch = list(range(len(rows)))
        rng.shuffle(epoch)
        order += epoch
    order = [order[step * size : (step + 1) * size] for step in range(steps)]
    tune(
        model, order, lambda batch: batch_loss(model, [rows[i] for i in batch], prefix, tokenizer.pad_token_id), recipe
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
