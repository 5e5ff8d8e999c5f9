"""The executed notebooks that `make run` leaves in build/, with the status of each, for the site and the slides.

A page or deck shows a notebook's outputs only when build/report.md says its run succeeded and the executed copy
has exactly the cells of the current source; otherwise it shows the code without outputs and says why.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from run_course import course_notebooks

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
REPORT = BUILD / "report.md"
REPORT_ROW = re.compile(r"^\|\s*(module_\d\d/\d\d_\w+\.ipynb)\s*\|\s*([^|]*?)\s*\|\s*([\d.]*)\s*\|", re.MULTILINE)
TIER_LINE = re.compile(r"llm_workshop: tier=(\w+)")
MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|$~])")
REPORT_TIER = re.compile(r"^Tier: \*\*(\w+)\*\*", re.MULTILINE)
RUN_COMMAND = "make run"


@dataclass
class CourseNotebook:
    """One notebook of the course and what its last `make run` produced."""

    path: str  # repository-relative, e.g. module_01/01_text_representation.ipynb
    status: str  # "ok", "failed", "not run" or "stale"
    detail: str  # why it is not "ok", in plain text (empty when it is)
    tier: str | None  # the tier that produced the outputs, as printed by runtime.setup()
    seconds: float | None
    notebook: nbformat.NotebookNode  # the executed copy when ok, else the source with outputs cleared

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def ensure_executed() -> None:
    """Run every notebook first (as `make run` does) when build/ holds no report of a run."""
    if REPORT.is_file():
        return
    print(f"No executed notebooks in build/ yet, so running them first ({RUN_COMMAND}, about 8 minutes on 2 cores).")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "run_course.py")], check=False)
    if not REPORT.is_file():
        raise FileNotFoundError(
            f"{RUN_COMMAND} wrote no {REPORT.relative_to(ROOT)}; run `{RUN_COMMAND}` and read its output."
        )


def report_rows(report: str) -> dict[str, tuple[str, float | None]]:
    """Map notebook path -> (status cell, seconds) from the table in build/report.md."""
    return {m[1]: (m[2], float(m[3]) if m[3] else None) for m in REPORT_ROW.finditer(report)}


def run_tier(notebook: nbformat.NotebookNode) -> str | None:
    """The tier named in the output of the notebook's runtime.setup() cell, if it ran."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            match = TIER_LINE.search(output.get("text", ""))
            if match:
                return match[1]
    return None


def cleared(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with every output and execution count removed."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def without_widgets(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without its live widgets (tqdm's progress bars, whose saved text is their first frame): a static
    page or deck would otherwise load the widget manager's JavaScript from a CDN, which an offline deck must not do."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
    return notebook


def load(
    source: Path, rows: dict[str, tuple[str, float | None]], build: Path = BUILD, report_tier: str | None = None
) -> CourseNotebook:
    """The executed copy of `source` when its last run succeeded on the current cells, else the cleared source."""
    path = source.relative_to(source.parents[1]).as_posix()
    executed = build / path
    row_status, seconds = rows.get(path, ("", None))
    if path in rows and row_status != "ok":
        error = row_status.removeprefix("FAILED:").strip() or "no error line"
        status, detail = "failed", f"it failed when {RUN_COMMAND} executed it: {error}"
    elif path not in rows or not executed.is_file():
        status, detail = "not run", f"the last {RUN_COMMAND} did not execute it; run {RUN_COMMAND}"
    else:
        status, detail = "ok", ""
    current = nbformat.read(source, as_version=4)
    if status == "ok":
        result = nbformat.read(executed, as_version=4)
        if [c.source for c in result.cells] != [c.source for c in current.cells]:
            status, detail = "stale", f"its source changed after the last run; run {RUN_COMMAND} again"
        else:
            return CourseNotebook(
                path, status, detail, run_tier(result) or report_tier, seconds, without_widgets(result)
            )
    return CourseNotebook(path, status, detail, None, seconds, cleared(current))


def load_course() -> list[CourseNotebook]:
    """Every course notebook with its run status, executing them first when nothing has run yet."""
    ensure_executed()
    report = REPORT.read_text()
    rows = report_rows(report)
    if not rows:
        raise ValueError(
            f"{REPORT.relative_to(ROOT)} has no '| module_0N/NN_name.ipynb | status |' rows; run `{RUN_COMMAND}`."
        )
    tier = REPORT_TIER.search(report)
    return [load(source, rows, report_tier=tier and tier[1]) for source in course_notebooks()]


def markdown_text(text: str) -> str:
    """Plain text (an error message, say) escaped so that Markdown shows it as it is."""
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def is_solution(cell: nbformat.NotebookNode) -> bool:
    """A collapsed solution cell (Jupyter's source_hidden), which follows its exercise."""
    return bool(cell.metadata.get("jupyter", {}).get("source_hidden"))
