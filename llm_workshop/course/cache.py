"""Where smoke stand-ins are cached, and the key that names a build: a hash of everything that builds it.

A stand-in's directory is `smoke-<name>-<key>`. The key hashes the source of the stand-in's module and of every
llm_workshop module it imports (directly or not, function-level imports included), the course corpus, and the
versions of the libraries that shape the weights, so changing any of them builds the model anew.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import os
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from llm_workshop.course.data import CORPUS_PATH

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("torch", "transformers", "tokenizers", "gensim")


def cache_dir() -> Path:
    """Where smoke models live: `$LLM_WORKSHOP_CACHE`, else `$XDG_CACHE_HOME/llm_workshop` (~/.cache)."""
    if os.environ.get("LLM_WORKSHOP_CACHE"):
        return Path(os.environ["LLM_WORKSHOP_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "llm_workshop"


def _module_file(name: str) -> Path | None:
    """The source file of the llm_workshop module `name` (a package's __init__.py), or None if there is none."""
    parts = name.split(".")[1:]
    path = PACKAGE_ROOT.joinpath(*parts)
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(path: Path) -> set[str]:
    """The llm_workshop modules a source file imports anywhere in it (`from pkg import module` counts the module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("llm_workshop")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("llm_workshop"):
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if _module_file(name)}


def source_files(modules: Iterable[ModuleType]) -> list[Path]:
    """The source files of `modules` and of every llm_workshop module they import, transitively, sorted (a module
    outside the package counts alone)."""
    todo = [module.__name__ for module in modules]
    files = {Path(module.__file__) for module in modules if not module.__name__.startswith("llm_workshop")}
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name.startswith("llm_workshop") and name not in seen and (path := _module_file(name)):
            seen.add(name)
            files.add(path)
            todo.extend(_imported(path))
    return sorted(files)


def build_key(modules: Iterable[ModuleType], *extra: str) -> str:
    """12 hex digits of a hash of the sources that build a stand-in, the corpus, the library versions and `extra`."""
    digest = hashlib.sha256()
    for path in [*source_files(modules), CORPUS_PATH]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for library in LIBRARIES:
        digest.update(f"{library}=={importlib.metadata.version(library)}".encode())
    for item in extra:
        digest.update(item.encode())
    return digest.hexdigest()[:12]
