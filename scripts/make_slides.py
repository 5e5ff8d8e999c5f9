"""Export every notebook as reveal.js slides into build/slides/: each markdown heading opens a new slide.

The sources are not changed: slide metadata is added to copies. Present with a browser
(`build/slides/<notebook>.slides.html`); reveal.js itself loads from its CDN.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "slides"


def with_slide_metadata(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Mark markdown cells that start with a heading as new slides, every other cell as part of the current one."""
    for cell in notebook.cells:
        starts_section = cell.cell_type == "markdown" and cell.source.lstrip().startswith("#")
        cell.metadata["slideshow"] = {"slide_type": "slide" if starts_section else "-"}
    return notebook


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for source in sorted(ROOT.glob("module_*/[0-9][0-9]_*.ipynb")):
        copy = OUT / f"{source.parent.name}_{source.name}"
        nbformat.write(with_slide_metadata(nbformat.read(source, as_version=4)), copy)
        subprocess.run(
            [sys.executable, "-m", "jupyter", "nbconvert", "--to", "slides", "--log-level", "WARN",
             "--SlidesExporter.reveal_scroll=True", "--output-dir", str(OUT), str(copy)],
            check=True,
        )  # fmt: skip
        copy.unlink()
        print(f"slides: {OUT.relative_to(ROOT) / copy.with_suffix('.slides.html').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
