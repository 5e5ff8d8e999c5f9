"""Rewrite every Colab badge and clone URL to the GitHub owner/name set in pyproject.toml.

A fork changes `[tool.llm_workshop] github` in pyproject.toml and runs this script once.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BADGE_RE = re.compile(r"https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/main/([\w./-]+\.ipynb)")
CLONE_RE = re.compile(r"https://github\.com/[\w.-]+/[\w.-]+?\.git")


def github_repo() -> str:
    """The `owner/name` of the course repository, from pyproject.toml."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["llm_workshop"]["github"]


def badge_url(notebook: str, repo: str | None = None) -> str:
    """The Colab URL that opens `notebook` (a repository-relative path) from `repo` on main."""
    return f"https://colab.research.google.com/github/{repo or github_repo()}/blob/main/{notebook}"


def rewrite(text: str, repo: str) -> str:
    text = BADGE_RE.sub(lambda m: badge_url(m.group(1), repo), text)
    return CLONE_RE.sub(f"https://github.com/{repo}.git", text)


def main() -> int:
    repo = github_repo()
    changed = 0
    for path in [ROOT / "README.md", *sorted(ROOT.glob("module_*/*.ipynb"))]:
        if path.suffix == ".ipynb":
            notebook = json.loads(path.read_text())
            for cell in notebook["cells"]:
                source = "".join(cell["source"])
                new = rewrite(source, repo)
                if new != source:
                    cell["source"] = new.splitlines(keepends=True)
            new_text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        else:
            new_text = rewrite(path.read_text(), repo)
        if new_text != path.read_text():
            path.write_text(new_text)
            changed += 1
    print(f"badges and clone URLs point at github.com/{repo}; {changed} file(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
