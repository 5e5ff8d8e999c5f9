"""`make run` (scripts/run_course.py) keeps every figure in the executed notebooks and reports errors readably."""

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import run_course  # noqa: E402


def write_notebook(path: Path, *sources: str) -> Path:
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)
    return path


def test_executed_notebook_keeps_its_figures_with_the_inline_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # what the Makefile and conftest export: it would drop every figure
    notebook = write_notebook(
        tmp_path / "figures.ipynb",
        "import matplotlib\nimport matplotlib.pyplot as plt\nprint(matplotlib.get_backend())",
        "plt.plot([1, 2, 3])\nplt.show()",
        "fig, ax = plt.subplots()\nax.bar([0, 1], [1, 2])",  # never shown explicitly: inline still draws it
        "print('no figure here')",
    )
    run = run_course.execute(notebook, tmp_path / "out")
    assert run.ok, run.error
    assert run.figures == 2 == run_course.count_figures(tmp_path / "out" / "figures.ipynb")
    executed = nbformat.read(tmp_path / "out" / "figures.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == run_course.INLINE_BACKEND  # headless: no window opens


def test_failure_is_reported_without_colour_codes(tmp_path):
    notebook = write_notebook(tmp_path / "fails.ipynb", "x = 1", "raise ValueError('the dataset is empty')")
    run = run_course.execute(notebook, tmp_path / "out")
    assert not run.ok
    assert "ValueError" in run.error and "the dataset is empty" in run.error
    assert "\x1b" not in run.error and "[31m" not in run.error


def test_timeout_is_reported_as_such(tmp_path):
    notebook = write_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(120)")
    run = run_course.execute(notebook, tmp_path / "out", timeout_s=2)
    assert not run.ok
    assert "CellTimeoutError" in run.error and "timed out" in run.error
