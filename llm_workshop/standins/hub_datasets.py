"""Stand-ins for the Hub data sets: small generated data sets with the columns, feature types and splits of the real
ones, for rehearsing the full tier offline (`load_dataset` cannot read the Hub there)."""

from __future__ import annotations

import random

from llm_workshop.concepts.preferences import generated_pairs
from llm_workshop.concepts.sql.shop import SCHEMA, SCHEMA_BRIEF
from llm_workshop.concepts.sql.templates import make_examples

# Rows of each stand-in split: enough for every notebook's selection, small enough to build in a second.
STANDIN_ROWS = {
    "stanfordnlp/imdb": {"train": 2000, "test": 2000, "unsupervised": 1000},
    "b-mc2/sql-create-context": {"train": 2000},
}


def imdb_rows(n: int, split: str, seed: int) -> dict[str, list]:
    """IMDB-shaped reviews: several sentences of one sentiment, with the `<br />` breaks the real reviews have."""
    rng = random.Random(f"{seed}-{split}")
    sentences = generated_pairs(6 * n, seed=rng.randrange(2**31))
    texts, labels = [], []
    for i in range(n):
        label = rng.randrange(2)
        chunk = sentences[6 * i : 6 * i + 6]
        parts = [p["prompt"] + (p["chosen"] if label else p["rejected"]) for p in chunk]
        texts.append(" ".join(parts[:3]) + "<br /><br />" + " ".join(parts[3:]))
        labels.append(-1 if split == "unsupervised" else label)
    return {"text": texts, "label": labels}


def sql_create_context_rows(n: int, seed: int) -> dict[str, list]:
    """sql-create-context-shaped rows: `CREATE TABLE` statements as context, a question and its SQL answer."""
    examples = make_examples(n, seed=seed, split="train")
    contexts = [
        "; ".join(statement for table, statement in SCHEMA.items() if SCHEMA_BRIEF[table] in e["schema"])
        for e in examples
    ]
    return {
        "question": [e["question"] for e in examples],
        "context": contexts,
        "answer": [e["sql"] for e in examples],
    }


def dataset_standin(hub_id: str, split: str, seed: int = 0):
    """A small `datasets.Dataset` with the columns, feature types and splits of the Hub data set `hub_id`."""
    from datasets import ClassLabel, Dataset, Features, Value

    if hub_id not in STANDIN_ROWS:
        raise KeyError(f"no rehearsal stand-in for the data set {hub_id!r}; known: {', '.join(sorted(STANDIN_ROWS))}")
    if split not in STANDIN_ROWS[hub_id]:
        raise ValueError(f"{hub_id} has the splits {', '.join(STANDIN_ROWS[hub_id])}, not {split!r}")
    n = STANDIN_ROWS[hub_id][split]
    if hub_id == "stanfordnlp/imdb":
        features = Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
        return Dataset.from_dict(imdb_rows(n, split, seed), features=features, split=split)
    features = Features({"question": Value("string"), "context": Value("string"), "answer": Value("string")})
    return Dataset.from_dict(sql_create_context_rows(n, seed), features=features, split=split)
