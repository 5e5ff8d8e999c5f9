"""Every Colab badge and relative link in the README and the notebooks leads to a file in this repository."""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from set_repo import github_repo  # noqa: E402

BADGE = re.compile(r"https://colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/main/([\w./-]+)")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)|(?:href|src)=\"([^\"#]+)\"")
DOCUMENTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted(ROOT.glob("module_*/*.ipynb"))]


def text_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        return "\n".join(
            "".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"
        )
    return path.read_text()


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_badges_and_relative_links_resolve(path):
    text = text_of(path)
    for repo, target in BADGE.findall(text):
        assert repo == github_repo(), f"{path.name}: badge points at {repo}, not {github_repo()}"
        assert (ROOT / target).is_file(), f"{path.name}: badge to missing {target}"
    for groups in MARKDOWN_LINK.findall(text):
        link = groups[0] or groups[1]
        if re.match(r"^[a-z]+:", link) or link.startswith("//"):
            continue  # an external URL: not followed offline
        assert (path.parent / link).exists(), f"{path.name}: relative link to missing {link}"


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for notebook in sorted(ROOT.glob("module_*/*.ipynb")):
        assert notebook.relative_to(ROOT).as_posix() in readme, f"README does not list {notebook.name}"


def test_readme_times_match_the_notebook_headers():
    readme = (ROOT / "README.md").read_text()
    for notebook in sorted(ROOT.glob("module_*/*.ipynb")):
        path = notebook.relative_to(ROOT).as_posix()
        row = next(line for line in readme.splitlines() if f"]({path})" in line)
        header = "".join(json.loads(notebook.read_text())["cells"][0]["source"])
        stated = re.search(r"about (\d+) min", header)
        listed = re.search(r"\|\s*(\d+) min\s*\|", row)
        assert stated and listed, f"{path}: the header says 'about N minutes' and the README row 'N min'"
        assert stated.group(1) == listed.group(1), f"{path}: header {stated.group(1)} min, README {listed.group(1)} min"
