"""scripts/colab_run.py runs a notebook as Colab does: the clone served from a snapshot of the working tree, a kernel in
an empty folder with google.colab stubbed, and a runtime that cannot reach GitHub stopped by one sentence."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import colab_run  # noqa: E402

# The setup cell every notebook starts with (CONTRIBUTING.md), as Colab sees it.
SETUP_CELL = f"""import sys
from pathlib import Path

if "google.colab" in sys.modules:
    !test -d llm_workshop_course || git clone --quiet --depth 1 {colab_run.clone_url()} llm_workshop_course
    if not Path("llm_workshop_course/pyproject.toml").is_file():
        raise SystemExit("Could not download the course from GitHub. Check that this runtime has internet access, then run this cell again.")
    %pip install --quiet -e llm_workshop_course
"""


def git(cwd: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    return subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def notebook(path: Path, *sources: str) -> Path:
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)
    return path


def test_snapshot_holds_tracked_and_untracked_files_but_not_ignored_or_deleted_ones(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q")
    (work / ".gitignore").write_text("build/\n")
    (work / "tracked.txt").write_text("committed, then edited")
    (work / "deleted.txt").write_text("gone from the work tree")
    git(work, "add", ".")
    git(work, "commit", "-qm", "start")
    (work / "tracked.txt").write_text("edited, not committed")
    (work / "deleted.txt").unlink()
    (work / "new.txt").write_text("untracked")
    (work / "build").mkdir()
    (work / "build" / "ignored.txt").write_text("ignored")
    served = colab_run.snapshot(work, tmp_path / "served.git")
    env = colab_run.kernel_env(Path(sys.executable), served.as_uri(), tmp_path / "ipython")
    clone = subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", colab_run.clone_url(), "course"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert clone.returncode == 0 and not clone.stderr, clone.stderr  # the GitHub URL, served quietly from the snapshot
    files = sorted(path.name for path in (tmp_path / "course").iterdir() if path.name != ".git")
    assert files == [".gitignore", "new.txt", "tracked.txt"], files
    assert (tmp_path / "course" / "tracked.txt").read_text() == "edited, not committed"


def executed_setup(tmp_path: Path, outputs: list[dict]) -> Path:
    """A notebook whose setup cell ran with these outputs."""
    cell = nbformat.v4.new_code_cell(SETUP_CELL, outputs=[nbformat.from_dict(output) for output in outputs])
    path = tmp_path / "executed.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    return path


def test_a_stack_trace_is_not_a_sentence(tmp_path):
    sentence = {"output_type": "error", "ename": "SystemExit", "evalue": colab_run.UNREACHABLE_SENTENCE + ".",
                "traceback": ["An exception has occurred, use %tb to see the full traceback.\n"]}  # fmt: skip
    assert colab_run.stopped_with_a_sentence(executed_setup(tmp_path, [sentence])).ok
    stack = {"output_type": "error", "ename": "ModuleNotFoundError", "evalue": "No module named 'llm_workshop'",
             "traceback": ["Traceback (most recent call last):", '  File "<cell>", line 10']}  # fmt: skip
    result = colab_run.stopped_with_a_sentence(executed_setup(tmp_path, [stack]))
    assert not result.ok and "ModuleNotFoundError" in result.detail, result


@pytest.mark.slow
def test_unreachable_repository_stops_the_setup_cell_with_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", "")  # prepare_kernel points it at its kernelspec; restored afterwards
    python = Path(sys.executable)
    ipython_dir = colab_run.prepare_kernel(python, tmp_path / "jupyter")
    env = colab_run.kernel_env(python, (tmp_path / "nowhere.git").as_uri(), ipython_dir)
    (tmp_path / "content").mkdir()
    out = tmp_path / "out" / "setup.ipynb"
    run = colab_run.run_notebook(notebook(tmp_path / "setup.ipynb", SETUP_CELL, "print('never runs')"),
                                 tmp_path / "content", env, out)  # fmt: skip
    assert not run.ok and "SystemExit" in run.detail, run
    result = colab_run.stopped_with_a_sentence(out)
    assert result.ok, result.detail
    assert not nbformat.read(out, as_version=4).cells[1].outputs, "the cell after the setup cell ran"


@pytest.mark.slow
def test_kernel_starts_in_an_empty_folder_as_colab_and_clones_the_working_tree(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", "")
    python = Path(sys.executable)
    served = colab_run.snapshot(ROOT, tmp_path / "served.git")
    env = colab_run.kernel_env(python, served.as_uri(), colab_run.prepare_kernel(python, tmp_path / "jupyter"))
    (tmp_path / "content").mkdir()
    source = notebook(
        tmp_path / "probe.ipynb",
        "import importlib.util, os, sys\n"
        "print(sorted(os.listdir('.')), importlib.util.find_spec('google.colab') is not None, os.environ.get('PYTHONPATH'))",
        f"!git clone --quiet --depth 1 {colab_run.clone_url()} llm_workshop_course",
        "print(os.path.isfile('llm_workshop_course/llm_workshop/__init__.py'), os.path.isdir('llm_workshop_course/build'))",
    )
    out = tmp_path / "out" / "probe.ipynb"
    run = colab_run.run_notebook(source, tmp_path / "content", env, out)
    assert run.ok, run.detail
    printed = [
        cell.outputs[0]["text"].strip() if cell.outputs else "" for cell in nbformat.read(out, as_version=4).cells
    ]
    assert printed[0] == "[] True None", printed  # empty folder, Colab's module, no path to this checkout
    assert printed[1] == "", printed  # the clone is quiet
    assert printed[2] == "True False", printed  # the package is there, the ignored build/ is not
