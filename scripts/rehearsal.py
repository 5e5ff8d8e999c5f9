"""Rehearse the full tier offline: a local Hub mirror with random weights, and what a failing cell means.

`build_hub_mirror` writes a Hugging Face cache (the `HF_HOME/hub` layout) in which every Hub id of the model
registry resolves to the real config and tokenizer files of `assets/hub` plus random weights, so
`from_pretrained("gpt2")` works unchanged with `HF_HUB_OFFLINE=1`. Shrunk, the copies keep vocabulary,
hidden size, heads, special tokens, chat template, label maps and the config's dtype, and only lose layers.
`classify_error` tells an outcome assertion (allowed to fail on random weights) from a defect.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch

from llm_workshop import models
from llm_workshop.course.cache import cache_dir
from llm_workshop.course.runtime import REHEARSAL_LAYERS

MIRROR_VERSION = "v1"
REVISION = "0" * 40  # the commit hash the mirror's refs/main points at


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
    for path in models.hub_files(name).iterdir():  # real tokenizer, generation_config, sentence-transformers modules
        if path.is_dir():  # e.g. all-MiniLM-L6-v2's 1_Pooling/
            shutil.copytree(path, out / path.name)
        elif path.name != "config.json":  # config.json is ours
            shutil.copy2(path, out / path.name)


def build_hub_mirror(root: Path | None = None, shrink: bool = True) -> Path:
    """Build (once, atomically) and return an `HF_HOME` folder whose hub cache holds every registry checkpoint.

    Point `HF_HOME` at it and set `HF_HUB_OFFLINE=1`: every Hub id then resolves to the local random-weight copy.
    """
    root = Path(root) if root is not None else cache_dir()
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
