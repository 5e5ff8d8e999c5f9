"""Tasks an agent is trained and evaluated on (notebook 2.7): each needs one tool call, then an answer.

Three kinds, one per tool: a number about the shop (`run_sql` on 3.3's read-only database), arithmetic
(`calculator`) and a fact about a person (`search` over a small collection of one-sentence passages with BM25, 2.6's
retriever). The "test" split holds out the cities, categories, people, numbers and question phrasings of "train", so
a model tuned on "train" tasks is evaluated on tasks it never saw. A task is solved when the final answer contains the
gold value.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from llm_workshop.concepts import bm25, text, tools
from llm_workshop.concepts.sql import shop, templates

SYSTEM = "You answer questions about a shop, arithmetic and people. Call a tool, then answer with its result."
KINDS = ("sql", "calculator", "search")
SQL_TEMPLATES = (
    1,
    5,
    8,
)  # 3.3's templates whose answer is one number: customers in a city, a mean price, items ordered
ARITHMETIC = {  # (question, expression) phrasings
    "train": [("What is {x} times {y}?", "{x} * {y}"), ("What is {x} plus {y}?", "{x} + {y}"),
              ("How much is {x} minus {y}?", "{x} - {y}"), ("What is {x} divided by {y}?", "{x} / {y}"),
              ("Add {x} and {y}.", "{x} + {y}"), ("Multiply {x} by {y}.", "{x} * {y}"),
              ("Subtract {y} from {x}.", "{x} - {y}"), ("What do you get when you add {x} to {y}?", "{x} + {y}")],
    "test": [("Compute {x} times {y}.", "{x} * {y}"), ("How much is {x} plus {y}?", "{x} + {y}"),
             ("What is {x} minus {y}?", "{x} - {y}")],
}  # fmt: skip
FIRST = {"train": "Ada Ben Cleo Dan Eva Finn Gus Hana Ivo Jan Kim Lea Max Nora Otto Pia Rex Sue Tom Uma".split(),
         "test": "Vera Walt Xena Yuri Zoe".split()}  # fmt: skip
LAST = {"train": "Moss Reed Hart Lane Cole Ford Wade Shaw".split(), "test": "Bell Ross Knox".split()}
RELATIONS = {  # relation -> (passage, {split: question phrasings}, values)
    "born": ("{p} was born in the city of {v}.", {"train": ["Where was {p} born?", "In which city was {p} born?"],
             "test": ["What city was {p} born in?"]}, "Oslo Dublin Lisbon Paris Rome Vienna Prague Athens".split()),
    "job": ("The job of {p} is {v}.", {"train": ["What does {p} work as?", "What is the job of {p}?"],
            "test": ["What job does {p} have?"]}, "baker pilot nurse farmer tailor painter doctor teacher".split()),
    "plays": ("The instrument {p} plays is the {v}.", {"train": ["Which instrument does {p} play?", "What does {p} play?"],
              "test": ["What instrument is played by {p}?"]}, "harp flute drums violin piano cello trumpet".split()),
    "pet": ("The pet of {p} is a {v}.", {"train": ["What pet does {p} have?", "Which animal is the pet of {p}?"],
            "test": ["What animal does {p} keep as a pet?"]}, "cat dog parrot rabbit turtle goat hamster".split()),
}  # fmt: skip


@dataclass(frozen=True)
class Task:
    """A question, the call that answers it (tool name and arguments), and the gold value its answer must contain."""

    kind: str
    question: str
    tool: str
    arguments: dict
    gold: str
    result: str  # what the tool returns for the right call


def people(split: str) -> list[str]:
    """The split's people, first and last name: train and test share no first name."""
    return [f"{first} {last}" for first in FIRST[split] for last in LAST[split]]


def facts(seed: int = 0) -> dict[tuple[str, str], str]:
    """(person, relation) -> value for every person of both splits, drawn with `seed`."""
    rng = random.Random(f"facts-{seed}")
    everyone = people("train") + people("test")
    return {(p, r): rng.choice(values) for p in everyone for r, (_, _, values) in RELATIONS.items()}


def passages(seed: int = 0) -> list[str]:
    """The search tool's collection: one sentence per fact."""
    return [RELATIONS[r][0].format(p=p, v=v) for (p, r), v in facts(seed).items()]


def searcher(collection: list[str]):
    """BM25 over `collection` as the search tool's `search(query, k)`: the k best passages' texts."""
    index = bm25.BM25([text.tokenize(p) for p in collection])

    def search(query: str, k: int) -> list[str]:
        ids, _ = index.top_k(text.tokenize(query), k)
        return [collection[i] for i in ids]

    return search


def registry(db_path: str | Path, seed: int = 0) -> tools.Registry:
    """The three tools on an allow-list: read-only SQL on the shop database, the calculator, and the search."""
    columns = "Tables: " + ", ".join(shop.SCHEMA_BRIEF.values()) + "."
    people_search = tools.search_tool(
        searcher(passages(seed)), "Find passages about people: birthplace, job, instrument, pet."
    )
    return tools.Registry([tools.sql_tool(db_path, description=columns), tools.calculator_tool(), people_search])  # fmt: skip


def invented(rng: random.Random, words: list[str] | None = None) -> str:
    """A made-up capitalised word (a name no list holds), so that training teaches copying rather than lists: one of
    `words` if given, else a string of syllables."""
    if words:
        return rng.choice(words).capitalize()
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))).capitalize()


def make_tasks(
    n: int,
    split: str,
    db_path: str | Path,
    seed: int = 0,
    phrasings: str | None = None,
    made_up: float = 0.0,
    words: list[str] | None = None,
) -> list[Task]:
    """n tasks of `split` (its cities, categories, people and numbers), the three kinds taking turns, with the
    question phrasings of `phrasings` (`split`'s by default); `made_up` is the share of tasks about made-up cities,
    categories and people instead (training only), drawn from `words` if given. Gold values and results come from the
    tools themselves."""
    phrasings = phrasings or split
    if split not in ("train", "test") or phrasings not in ("train", "test"):
        raise ValueError(f"split and phrasings must be 'train' or 'test', got {split!r} and {phrasings!r}")
    rng, known, out = random.Random(f"agent-tasks-{seed}-{split}"), facts(seed), []
    run = registry(db_path, seed).run
    for i in range(n):
        kind, fake = KINDS[i % len(KINDS)], rng.random() < made_up
        if kind == "sql":
            template = templates.TEMPLATES[rng.choice(SQL_TEMPLATES)]
            values = {"city": rng.choice(shop.CITIES[split]), "category": rng.choice(shop.CATEGORIES[split])}
            values = (
                {k: invented(rng, words).lower() if k == "category" else invented(rng, words) for k in values}
                if fake
                else values
            )
            query = template["sql"].format(**values)
            question, arguments = rng.choice(template[phrasings]).format(**values), {"query": query}
        elif kind == "calculator":
            question, expression = rng.choice(ARITHMETIC[phrasings])
            x, y = rng.randint(2, 99), rng.randint(2, 99)
            question, arguments = question.format(x=x, y=y), {"expression": expression.format(x=x, y=y)}
        else:
            relation = rng.choice(list(RELATIONS))
            person = f"{invented(rng, words)} {invented(rng, words)}" if fake else rng.choice(people(split))
            gold = rng.choice(RELATIONS[relation][2]) if fake else known[person, relation]
            question = rng.choice(RELATIONS[relation][1][phrasings]).format(p=person)
            passage = RELATIONS[relation][0].format(p=person, v=gold)
            out.append(Task(kind, question, "search", {"query": question}, gold, f"[1] {passage}"))
            continue
        tool = {"sql": "run_sql", "calculator": "calculator"}[kind]
        result = run(tools.ToolCall(tool, arguments))
        gold = re.search(r"The result is \[*(.*?)\]*\.$", result).group(1).strip('"')
        out.append(Task(kind, question, tool, arguments, gold, result))
    return out


def call_text(name: str, arguments: dict) -> str:
    """A tool call as Qwen2.5 writes it (and as its chat template renders an assistant's `tool_calls`)."""
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


def conversation(task: Task) -> list[dict]:
    """A worked example: system, question, the call, the tool's result, and the answer that repeats the result."""
    result = task.result
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": task.question},
            {"role": "assistant", "content": call_text(task.tool, task.arguments)},
            {"role": "tool", "content": result}, {"role": "assistant", "content": result}]  # fmt: skip


def solved(answer: str | None, task: Task) -> bool:
    """Whether the final answer contains the gold value as a whole word (case ignored)."""
    return answer is not None and re.search(rf"(?<![\w.]){re.escape(task.gold)}(?![\w]|\.\d)", answer, re.I) is not None
