"""Execute every notebook the way Colab runs it, from its first cell, and print a pass/fail table.

    python scripts/colab_run.py --python .venv-colab/bin/python [NOTEBOOK ...]    # make colab-run builds that venv
    python scripts/colab_run.py --python .venv-colab/bin/python --unreachable module_01/01_text_representation.ipynb

Each notebook gets what a fresh Colab runtime gives it: a new kernel of --python, whose environment does not have
llm_workshop installed (an earlier notebook's install is uninstalled first), started in an empty folder, with
`google.colab` in sys.modules (an IPython startup file). The first cell's `git clone` of the course's GitHub URL is
served from a snapshot of this working tree (tracked and untracked-not-ignored files, committed into a temporary
repository; git's `url.<snapshot>.insteadOf`, set through GIT_CONFIG_* variables), and its `%pip install -e` really
runs. Then every cell, in the smoke tier, offline. `--unreachable` points the clone URL nowhere instead: the first
cell must stop with one sentence, not a stack trace. Executed copies go to build/colab/, the table to
build/colab-report.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import NamedTuple

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from run_course import INLINE_BACKEND, course_notebooks, noise, output_texts

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
KERNEL_NAME = "colab-style"
# Colab's module, with a spec so that importlib.util.find_spec("google.colab") answers (accelerate asks) as on Colab.
COLAB_STUB = """import importlib.machinery, sys, types

colab = types.ModuleType("google.colab")
colab.__spec__ = importlib.machinery.ModuleSpec("google.colab", None)
sys.modules["google.colab"] = colab
"""
UNREACHABLE_SENTENCE = "Could not download the course"  # the start of the first cell's SystemExit message


class Result(NamedTuple):
    ok: bool
    seconds: float
    detail: str  # why it failed, or what an expected stop said


def clone_url() -> str:
    """The URL every notebook's first cell clones: pyproject's [tool.llm_workshop] github."""
    github = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["llm_workshop"]["github"]
    return f"https://github.com/{github}.git"


def snapshot(source: Path, dest: Path) -> Path:
    """Commit the tracked and untracked-not-ignored files of `source`'s work tree into a new bare repository."""
    listed = subprocess.run(
        ["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    files = [name for name in listed.split("\0") if name and (source / name).is_file()]  # deleted files drop out
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(dest)], check=True)
    env = {**os.environ, "GIT_DIR": str(dest), "GIT_WORK_TREE": str(source), "GIT_INDEX_FILE": str(dest / "index")}
    identity = ["-c", "user.name=colab_run", "-c", "user.email=colab_run@localhost"]
    subprocess.run(
        ["git", "update-index", "--add", "-z", "--stdin"], input="\0".join(files).encode(), env=env, check=True
    )
    tree = subprocess.run(["git", "write-tree"], env=env, check=True, capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(
        ["git", *identity, "commit-tree", tree, "-m", "snapshot of the working tree"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    subprocess.run(["git", "update-ref", "refs/heads/main", commit], env=env, check=True)
    return dest


def kernel_env(python: Path, served_from: str, ipython_dir: Path) -> dict[str, str]:
    """The kernel's environment: Colab's stub and clone redirect, the smoke tier offline, no path to this checkout."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return env | {
        "PATH": f"{python.parent}{os.pathsep}{env.get('PATH', '')}",  # `python` and `pip` are the kernel's, as on Colab
        "IPYTHONDIR": str(ipython_dir),
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{served_from}.insteadOf",
        "GIT_CONFIG_VALUE_0": clone_url(),
        "LLM_WORKSHOP_TIER": "smoke",
        "CI": "true",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "MPLBACKEND": INLINE_BACKEND,
        "PIP_CONFIG_FILE": os.devnull,  # pip as on Colab: none of this machine's pip.conf (its local indexes)
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",  # ipykernel's debugger would print a frozen-modules note to the console
    }


def prepare_kernel(python: Path, home: Path) -> Path:
    """A kernelspec for `python` under home/kernels and an IPython startup file that stubs google.colab."""
    spec = home / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    argv = [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Colab-style", "language": "python"}))
    startup = home / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-google-colab.py").write_text(COLAB_STUB)
    os.environ["JUPYTER_PATH"] = str(home)  # where the kernel manager looks for kernelspecs
    return home / "ipython"


def failed_cell(notebook: nbformat.NotebookNode) -> str:
    """'cell N: Name: message' for the first code cell whose outputs hold an error."""
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"cell {index}: {output['ename']}: {output['evalue']}"
    return "no cell holds an error"


def run_notebook(notebook: Path, workdir: Path, env: dict[str, str], out: Path, timeout_s: int = 1800) -> Result:
    """Execute `notebook` in a fresh kernel started in `workdir`; save the executed copy to `out`."""
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=timeout_s, kernel_name=KERNEL_NAME, resources={"metadata": {"path": workdir}})
    start = time.perf_counter()
    try:
        client.execute(env=env)
        detail, ok = "", True
    except CellTimeoutError as error:
        detail, ok = f"timed out after {timeout_s} s: {str(error).splitlines()[0]}", False
    except CellExecutionError:
        detail, ok = failed_cell(nb), False
    seconds = time.perf_counter() - start
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    if ok and (found := noise(nb)):
        ok, detail = False, "output reads as an error: " + "; ".join(found)
    return Result(ok, seconds, detail)


def stopped_with_a_sentence(executed: Path) -> Result:
    """Whether the first code cell stopped with SystemExit saying the course could not be downloaded, no stack trace.

    IPython adds a "To exit: use 'exit', 'quit', or Ctrl-D." UserWarning to every SystemExit; the detail names such
    lines, which a learner also sees, without failing on them.
    """
    nb = nbformat.read(executed, as_version=4)
    first = next(index for index, cell in enumerate(nb.cells) if cell.cell_type == "code")
    errors = [output for output in nb.cells[first].outputs if output.output_type == "error"]
    shown = "\n".join(output_texts(nb.cells[first]))
    ok = (
        len(errors) == 1
        and errors[0]["ename"] == "SystemExit"
        and errors[0]["evalue"].startswith(UNREACHABLE_SENTENCE)
        and not re.search(r'File "|Traceback \(most recent call last\)|^\s+at ', shown, re.MULTILINE)
    )
    said = f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else "no error at all"
    also = [line.split(":", 1)[1].strip() for line in noise(nb) if line.startswith(f"cell {first}:")]
    also = [line for line in also if "SystemExit" not in line and "%tb" not in line]
    return Result(
        ok,
        0.0,
        f"{'stopped' if ok else 'did not stop with one sentence'}: {said}"
        + (f"; also shown: {' / '.join(also)}" if also else ""),
    )


def installed(python: Path) -> bool:
    """Whether llm_workshop is installed in `python`'s environment."""
    return (
        subprocess.run([str(python), "-m", "pip", "show", "--quiet", "llm_workshop"], capture_output=True).returncode
        == 0
    )


def importable(python: Path, workdir: Path, env: dict[str, str]) -> bool:
    """Whether `import llm_workshop` works in a kernel's environment before its first cell ran."""
    probe = subprocess.run([str(python), "-c", "import llm_workshop"], cwd=workdir, env=env, capture_output=True)
    return probe.returncode == 0


def table_cell(text: str) -> str:
    """Text shortened to one Markdown table cell."""
    return " ".join(text.split())[:300].replace("|", "\\|")


def report(rows: list[tuple[str, Result]], python: str, total: float) -> str:
    """The Markdown table of the run."""
    passed = sum(result.ok for _, result in rows)
    lines = [
        "# Colab-style run",
        "",
        f"Kernel: {python}. Smoke tier, offline; each notebook from its first cell in a fresh kernel and empty folder.",
        "",
        "| notebook | status | seconds | detail |",
        "| --- | --- | ---: | --- |",
        *(f"| {name} | {'ok' if r.ok else 'FAILED'} | {r.seconds:.1f} | {table_cell(r.detail)} |" for name, r in rows),
        f"| **total** | {passed}/{len(rows)} ok | {total:.1f} | |",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", type=Path, required=True, help="the kernel's Python (a venv of Colab's versions)")
    parser.add_argument("--unreachable", action="store_true", help="point the clone URL nowhere; expect one sentence")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every course notebook")
    args = parser.parse_args()
    python = args.python.absolute()
    prefix = subprocess.check_output([python, "-c", "import sys; print(sys.prefix)"], text=True).strip()
    if Path(prefix).resolve() == Path(sys.prefix).resolve():  # it would uninstall this environment's llm_workshop
        sys.exit(f"{python} is this script's own environment; give a separate one (make colab-run builds .venv-colab).")
    notebooks = [path.absolute() for path in args.notebooks] or course_notebooks()
    rows, start = [], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="colab-run-") as tmp:
        tmp = Path(tmp)
        served = (tmp / "nowhere.git") if args.unreachable else snapshot(ROOT, tmp / "llm_workshop.git")
        env = kernel_env(python, served.as_uri(), prepare_kernel(python, tmp / "jupyter"))
        for notebook in notebooks:
            name = notebook.relative_to(notebook.parents[1]).as_posix()
            print(f"  {name} ...", end=" ", flush=True)
            if installed(python):  # a fresh Colab runtime has no llm_workshop: an earlier notebook installed it
                subprocess.run([python, "-m", "pip", "uninstall", "--quiet", "--yes", "llm_workshop"], check=True)
            workdir = Path(tempfile.mkdtemp(prefix="content-", dir=tmp))  # Colab's empty /content
            if importable(python, workdir, env):
                sys.exit(f"llm_workshop imports in {python} before any setup cell ran; Colab would not have it.")
            out = BUILD / "colab" / name
            result = run_notebook(notebook, workdir, env, out)
            if args.unreachable:
                result = stopped_with_a_sentence(out)._replace(seconds=result.seconds)
            rows.append((name, result))
            print(f"{'ok' if result.ok else 'FAILED'} in {result.seconds:.1f} s {result.detail}", flush=True)
    version = subprocess.check_output([python, "-V"], text=True).split()[1]
    text = report(rows, f"{python} (Python {version})", time.perf_counter() - start)
    BUILD.mkdir(exist_ok=True)
    (BUILD / ("colab-unreachable.md" if args.unreachable else "colab-report.md")).write_text(text)
    print("\n" + text)
    return 0 if all(result.ok for _, result in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
