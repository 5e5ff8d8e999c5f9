"""`make run` (scripts/run_course.py) keeps every figure in the executed notebooks, reports errors readably, fails a
notebook whose output reads as an error (naming the cell), and reads the lesson lines into build/measured.json."""

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import run_course  # noqa: E402


def write_notebook(path: Path, *sources: str) -> Path:
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)
    return path


@pytest.mark.slow
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


@pytest.mark.slow
def test_failure_is_reported_without_colour_codes(tmp_path):
    notebook = write_notebook(tmp_path / "fails.ipynb", "x = 1", "raise ValueError('the dataset is empty')")
    run = run_course.execute(notebook, tmp_path / "out")
    assert not run.ok
    assert "ValueError" in run.error and "the dataset is empty" in run.error
    assert "\x1b" not in run.error and "[31m" not in run.error


@pytest.mark.slow
def test_timeout_is_reported_as_such(tmp_path):
    notebook = write_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(120)")
    run = run_course.execute(notebook, tmp_path / "out", timeout_s=2)
    assert not run.ok
    assert "CellTimeoutError" in run.error and "timed out" in run.error


def executed(*outputs_per_cell: list[dict]) -> nbformat.NotebookNode:
    """A notebook whose code cells ran with these outputs."""
    cells = [
        nbformat.v4.new_code_cell("...", outputs=[nbformat.from_dict(o) for o in outs]) for outs in outputs_per_cell
    ]
    return nbformat.v4.new_notebook(cells=cells)


def stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def test_noise_names_the_cell_and_line_a_learner_reads_as_an_error():
    notebook = executed(
        [stream("loss 2.31 -> 1.87\n")],
        [stream("/x/tqdm/auto.py:21: TqdmWarning: IProgress not found.\n  from .autonotebook import tqdm\n", "stderr")],
        [{"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": {"text/plain": "ok"}}],
        [stream("`gradient_checkpointing` is deprecated, use `activation_checkpointing`\n", "stderr")],
    )
    assert run_course.noise(notebook) == [
        "cell 1: /x/tqdm/auto.py:21: TqdmWarning: IProgress not found.",
        "cell 3: `gradient_checkpointing` is deprecated, use `activation_checkpointing`",
    ]
    assert run_course.noise(executed([stream("perplexity 301.29\n")])) == []
    load_report = "[transformers] LOAD REPORT from: build/x\nvocab_projector.bias    | UNEXPECTED |\n"
    kernels = "Failed to load CPU gemm_4bit_forward from kernels-community: No module named 'kernels'.\n"
    assert run_course.noise(executed([stream(load_report, "stderr")], [stream(kernels, "stderr")])) == [
        "cell 0: vocab_projector.bias    | UNEXPECTED |",
        "cell 1: Failed to load CPU gemm_4bit_forward from kernels-community: No module named 'kernels'.",
    ]
    sandbox = "OperationalError 0.01 s  DROP TABLE orders; -> attempt to write a readonly database\n"
    assert run_course.noise(executed([stream(sandbox)])) == []  # a lesson printing an error on stdout on purpose


def test_lesson_lines_are_read_into_numbers_and_missing_ones_named():
    sql = "module_03/03_instruction_tuning_text_to_sql.ipynb"
    notebook = executed([stream("base execution accuracy 0.00  (3.1 s)\n")],
                        [stream("execution accuracy: base 0.00 -> tuned 0.64 (36 held-out questions)\n")])  # fmt: skip
    measured, missing = run_course.measure(sql, notebook)
    assert measured == {"base_accuracy": 0.0, "tuned_accuracy": 0.64, "held_out_questions": 36} and missing == []
    assert run_course.measure(sql, executed([stream("accuracy went up\n")])) == (
        {}, ["base_accuracy", "tuned_accuracy", "held_out_questions"],
    )  # fmt: skip
    qa = "module_01/03_transformers.ipynb"
    line = (
        "9 windows; answer 'Violet Hunter' at character 5493 of 5530 (the first window ends at character 560); score 7"
    )
    assert run_course.measure(qa, executed([stream(line)]))[0] == {
        "answer": "Violet Hunter", "answer_start": 5493, "first_window_end": 560,
    }  # fmt: skip
    prompting = executed(
        [stream("zero-shot  accuracy 0.50   predicted: {'positive': 20}\nfew-shot   accuracy 0.50\n")],  # sentiment
        [stream("The favourite colour of Ada is\n"), stream("zero-shot  accuracy 0.25\nfew-shot   accuracy 0.71\n")],
    )
    recall = run_course.measure("module_02/03_prompting_and_evaluation.ipynb", prompting)[0]
    assert recall == {"zero_shot_recall": 0.25, "few_shot_recall": 0.71}, recall
    assert run_course.lesson_id(sql) == "3.3" and run_course.measure("module_01/01_x.ipynb", notebook) == ({}, [])


@pytest.mark.slow
def test_a_warning_in_the_output_fails_the_notebook_and_the_report_names_the_cell(tmp_path):
    notebook = write_notebook(
        tmp_path / "warns.ipynb", "print('fine')", "import warnings\nwarnings.warn('old API', FutureWarning)"
    )
    run = run_course.execute(notebook, tmp_path / "out")
    assert not run.ok and "cell 1:" in run.error and "FutureWarning: old API" in run.error, run.error
    report = run_course.report("smoke", "test", {"warns.ipynb": run})
    assert "| warns.ipynb | FAILED: 2 output lines read as errors, the first in cell 1: " in report  # message + source
    assert "- warns.ipynb cell 1: " in report and "FutureWarning: old API" in report
