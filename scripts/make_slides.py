"""Export every executed notebook as reveal.js slides into build/slides/, ready to present offline.

Each markdown heading opens a new slide; figures and printed results are those of `make run`; exercise solutions
(collapsed cells) are left out. reveal.js and MathJax are copied from their npm packages into build/slides/_vendor/,
so a deck opens from the folder with no network. A notebook whose last run failed shows its code without outputs.
"""

from __future__ import annotations

import copy
import re
import shutil
import sys
from pathlib import Path

import nbformat
from course_outputs import ROOT, CourseNotebook, is_solution, load_course, markdown_text
from nbconvert import SlidesExporter

OUT = ROOT / "build" / "slides"
VENDOR = OUT / "_vendor"
TEMPLATES = ROOT / "website" / "templates"
NODE_MODULES = ROOT / "website" / "node_modules"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
REVEAL_FILES = ["dist/reveal.css", "dist/reveal.js", "dist/theme/white.css", "dist/theme/fonts", "plugin/notes"]


def mathjax_files(dest: Path) -> None:
    """Copy the parts of MathJax 3 that render TeX as HTML (with its fonts and on-demand extensions) to dest."""
    es5 = NODE_MODULES / "mathjax" / "es5"
    if not es5.is_dir():
        raise FileNotFoundError(f"{es5.relative_to(ROOT)} is missing; run `npm ci --prefix website` (make does).")
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(es5 / "tex-chtml.js", dest)
    for part in ["input", "output/chtml", "ui", "a11y", "sre", "adaptors"]:
        shutil.copytree(es5 / part, dest / part, dirs_exist_ok=True)


def vendor() -> None:
    """Copy reveal.js (the files the deck loads), MathJax and the Colab badge into build/slides/_vendor/."""
    reveal = NODE_MODULES / "reveal.js"
    if not reveal.is_dir():
        raise FileNotFoundError(f"{reveal.relative_to(ROOT)} is missing; run `npm ci --prefix website` (make does).")
    for name in REVEAL_FILES:
        source, target = reveal / name, VENDOR / "reveal.js" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    mathjax_files(VENDOR / "mathjax")
    shutil.copy2(ROOT / "website" / "_static" / "colab-badge.svg", VENDOR)


def deck_notebook(page: CourseNotebook) -> nbformat.NotebookNode:
    """The notebook as slides: no solution cells, a slide per markdown heading, the local Colab badge."""
    notebook = copy.deepcopy(page.notebook)
    notebook.cells = [cell for cell in notebook.cells if not is_solution(cell)]
    if not page.ok:
        warning = f"**Not executed: {markdown_text(page.detail)}.** These slides show the current code without outputs."
        notebook.cells.insert(1, nbformat.v4.new_markdown_cell(warning))
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(COLAB_BADGE, "_vendor/colab-badge.svg")
        starts_section = cell.cell_type == "markdown" and cell.source.lstrip().startswith("#")
        cell.metadata["slideshow"] = {"slide_type": "slide" if starts_section else "-"}
    return notebook


def deck_name(notebook: str) -> str:
    """The deck of a repository-relative notebook path: <module>_<notebook>.slides.html, one flat folder for all."""
    path = Path(notebook)
    return f"{path.parent.name}_{path.stem}.slides.html"


def title(notebook: nbformat.NotebookNode) -> str:
    """The notebook's first heading, e.g. '1.1 Text representation'."""
    heading = re.search(r"^#+\s+(.+)$", notebook.cells[0].source, re.MULTILINE)
    return heading[1].strip() if heading else "llm_workshop"


def main() -> int:
    pages = load_course()
    shutil.rmtree(OUT, ignore_errors=True)
    vendor()
    exporter = SlidesExporter(
        extra_template_basedirs=[str(TEMPLATES)],
        template_name="reveal_offline",
        reveal_url_prefix="_vendor/reveal.js",
        reveal_theme="white",
        mathjax_url="_vendor/mathjax/tex-chtml.js",
    )
    for page in pages:
        deck = OUT / deck_name(page.path)
        html, _ = exporter.from_notebook_node(
            deck_notebook(page), resources={"metadata": {"name": title(page.notebook)}}
        )
        deck.write_text(html)
        print(f"slides: {deck.relative_to(ROOT)} ({page.status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
