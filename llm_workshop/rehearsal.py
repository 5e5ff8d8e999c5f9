"""Rehearse the full tier offline: a local Hub mirror with random weights and stand-ins for the Hub data sets.

`build_hub_mirror` writes a Hugging Face cache (the `HF_HOME/hub` layout) in which every Hub id of the model
registry resolves to the real config and tokenizer files of `assets/hub` plus random weights, so
`from_pretrained("gpt2")` works unchanged with `HF_HUB_OFFLINE=1`. Shrunk, the copies keep vocabulary,
hidden size, heads, special tokens, chat template, label maps and the config's dtype, and only lose layers.
`dataset_standin` returns small generated data sets with the columns, types and splits of the real ones.
"""

from __future__ import annotations

import ast
import hashlib
import os
import random
import re
import shutil
import tempfile
from pathlib import Path

import torch

from llm_workshop import models
from llm_workshop.runtime import REHEARSAL_LAYERS

MIRROR_VERSION = "v1"
REVISION = "0" * 40  # the commit hash the mirror's refs/main points at
# Rows of each stand-in split: enough for every notebook's selection, small enough to build in a second.
STANDIN_ROWS = {
    "stanfordnlp/imdb": {"train": 2000, "test": 2000, "unsupervised": 1000},
    "b-mc2/sql-create-context": {"train": 2000},
}


def _mirror_key(shrink: bool) -> str:
    """Changes when the files in assets/hub, the depth or this module's layout change, so the mirror rebuilds."""
    sums = (models.hub_files("gpt2").parent / "SHA256SUMS").read_bytes()
    text = f"{MIRROR_VERSION}-{shrink}-{REHEARSAL_LAYERS}-".encode() + sums
    return hashlib.sha256(text).hexdigest()[:12]


def checkpoint_config(name: str, shrink: bool):
    """The real config of the registry model `name`; with `shrink`, cut to `REHEARSAL_LAYERS` layers, nothing else."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(models.hub_files(name))
    if shrink:
        config.num_hidden_layers = min(config.num_hidden_layers, REHEARSAL_LAYERS)
        if getattr(config, "layer_types", None):  # Qwen2 lists one attention type per layer; saving checks the length
            config.layer_types = config.layer_types[: config.num_hidden_layers]
    return config


def random_checkpoint(name: str, out: Path, shrink: bool, seed: int = 0) -> None:
    """Save the registry model `name` with random weights and its real config and tokenizer files into `out`.

    The model is built and saved in the dtype its config names (Qwen2.5: bfloat16), as `from_pretrained` expects.
    """
    import transformers

    config = checkpoint_config(name, shrink)
    dtype = config.dtype if isinstance(config.dtype, torch.dtype) else torch.float32
    torch.manual_seed(seed)
    model_class = getattr(transformers, config.architectures[0])  # e.g. DistilBertForSequenceClassification
    model_class(config).to(dtype).save_pretrained(out)
    for path in models.hub_files(name).iterdir():  # real tokenizer and generation_config; config.json is ours
        if path.name != "config.json":
            shutil.copy2(path, out / path.name)


def build_hub_mirror(root: Path | None = None, shrink: bool = True) -> Path:
    """Build (once, atomically) and return an `HF_HOME` folder whose hub cache holds every registry checkpoint.

    Point `HF_HOME` at it and set `HF_HUB_OFFLINE=1`: every Hub id then resolves to the local random-weight copy.
    """
    root = Path(root) if root is not None else models.cache_dir()
    home = root / f"rehearsal-hub-{'shrink' if shrink else 'real'}-{_mirror_key(shrink)}"
    if (home / "complete").is_file():
        return home
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".build-rehearsal-", dir=root))
    try:
        built = set()
        for name, entry in models.REGISTRY.items():
            if entry.hub_id in built:
                continue
            repo = scratch / "hub" / f"models--{entry.hub_id.replace('/', '--')}"
            (repo / "refs").mkdir(parents=True)
            (repo / "refs" / "main").write_text(REVISION)
            random_checkpoint(name, repo / "snapshots" / REVISION, shrink)
            built.add(entry.hub_id)
        (scratch / "complete").write_text(", ".join(sorted(built)) + "\n")
        shutil.rmtree(home, ignore_errors=True)
        os.replace(scratch, home)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return home


# --- data set stand-ins ------------------------------------------------------------------------


def _imdb_rows(n: int, split: str, seed: int) -> dict[str, list]:
    """IMDB-shaped reviews: several sentences of one sentiment, with the `<br />` breaks the real reviews have."""
    from llm_workshop.preferences import generated_pairs

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


def _sql_create_context_rows(n: int, seed: int) -> dict[str, list]:
    """sql-create-context-shaped rows: `CREATE TABLE` statements as context, a question and its SQL answer."""
    from llm_workshop import sql

    examples = sql.make_examples(n, seed=seed, split="train")
    contexts = [
        "; ".join(statement for table, statement in sql.SCHEMA.items() if sql.SCHEMA_BRIEF[table] in e["schema"])
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
        return Dataset.from_dict(_imdb_rows(n, split, seed), features=features, split=split)
    features = Features({"question": Value("string"), "context": Value("string"), "answer": Value("string")})
    return Dataset.from_dict(_sql_create_context_rows(n, seed), features=features, split=split)


# --- classifying a failing cell ----------------------------------------------------------------

OUTCOME, DEFECT = "outcome assertion", "defect"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_BINDINGS = (
    ast.Assign, ast.AugAssign, ast.AnnAssign, ast.NamedExpr, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
    ast.Import, ast.ImportFrom, ast.Delete, ast.Global, ast.Nonlocal,
)  # fmt: skip


def _binds_a_name(statement: ast.stmt) -> bool:
    """Whether a statement binds a name a later cell could use (a `for` loop's own variable does not count)."""
    return any(isinstance(node, _BINDINGS) for node in ast.walk(statement)) or any(
        isinstance(node, ast.With) and any(item.optional_vars for item in node.items) for node in ast.walk(statement)
    )


def checking_lines(source: str) -> range:
    """Line numbers (1-based) of the cell's closing statements that bind no name: asserts, prints, displays.

    An outcome assert there may fail without hurting later cells, since nothing after it was meant to be defined.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        body = ast.parse(TransformerManager().transform_cell(source)).body
    except SyntaxError:
        return range(0)
    first = len(body)
    while first > 0 and not _binds_a_name(body[first - 1]):
        first -= 1
    if first == len(body):
        return range(0)
    return range(body[first].lineno, body[-1].end_lineno + 1)


def classify_error(source: str, execution_count: int | None, ename: str, traceback: list[str]) -> str:
    """OUTCOME for an `AssertionError` raised by the cell's own closing asserts (see `checking_lines`); else DEFECT.

    A failing outcome assert is what random weights may cause; any other error, an assert inside library code or a
    function, or an assert followed by code that defines names (a cascade into later cells) is a defect.
    """
    if ename != "AssertionError" or len(traceback) < 2 or execution_count is None:
        return DEFECT
    innermost = _ANSI.sub("", traceback[-2])
    match = re.match(r"\s*Cell In\s*\[(\d+)\], line (\d+)", innermost)
    if not match or int(match.group(1)) != execution_count:
        return DEFECT
    return OUTCOME if int(match.group(2)) in checking_lines(source) else DEFECT
