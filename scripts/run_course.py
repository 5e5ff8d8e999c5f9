"""Execute every notebook in course order into build/ (sources untouched) and write build/report.md.

Each notebook runs in its own process so its peak memory (max RSS of the kernel) can be measured. Kernels draw with
matplotlib's inline backend, so every figure is saved in the executed notebook and no window ever opens.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # what Jupyter uses; figures become image/png outputs
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # the colour codes of IPython tracebacks
EXCEPTION_LINE = re.compile(
    r"^[\w.]*(Error|Exception|Interrupt|Exit)\b"
)  # "ValueError: ...", "...CellTimeoutError: ..."
sys.path.insert(0, str(ROOT))


class Run(NamedTuple):
    ok: bool
    seconds: float
    peak_mb: float
    figures: int
    error: str


def course_notebooks() -> list[Path]:
    """All notebooks of all modules, in the order a learner takes them."""
    return sorted(ROOT.glob("module_*/[0-9][0-9]_*.ipynb"))


def count_figures(notebook: Path) -> int:
    """How many image/png outputs an executed notebook holds."""
    cells = json.loads(notebook.read_text())["cells"] if notebook.exists() else []
    return sum("image/png" in output.get("data", {}) for cell in cells for output in cell.get("outputs", []))


def last_error(output: str) -> str:
    """The last exception line of nbconvert's output (else its last line), without colour codes."""
    lines = [line.strip() for line in ANSI_ESCAPE.sub("", output).splitlines() if line.strip()]
    return next((line for line in reversed(lines) if EXCEPTION_LINE.match(line)), lines[-1] if lines else "failed")


def execute(notebook: Path, out_dir: Path, timeout_s: int = 1800) -> Run:
    """Run one notebook with nbconvert into out_dir, with the inline matplotlib backend whatever MPLBACKEND says."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
        f"--ExecutePreprocessor.timeout={timeout_s}", "--output-dir", str(out_dir), str(notebook),
    ]  # fmt: skip
    env = {**os.environ, "MPLBACKEND": INLINE_BACKEND}
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=notebook.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )  # fmt: skip
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    ok = os.waitstatus_to_exitcode(status) == 0
    error = "" if ok else last_error(output)
    return Run(ok, seconds, usage.ru_maxrss / 1024, count_figures(out_dir / notebook.name), error)


def main() -> int:
    from llm_workshop.course.runtime import choose_tier

    tier, _, reason = choose_tier()
    print(f"Running every notebook in the {tier} tier ({reason}); outputs go to {BUILD.relative_to(ROOT)}/")
    rows, runs = [], []
    for notebook in course_notebooks():
        name = notebook.relative_to(ROOT).as_posix()
        print(f"  {name} ...", end=" ", flush=True)
        run = execute(notebook, BUILD / notebook.parent.name)
        runs.append(run)
        print(
            f"{'ok' if run.ok else 'FAILED'} in {run.seconds:.1f} s, peak {run.peak_mb:.0f} MB, {run.figures} figures"
        )
        status = "ok" if run.ok else "FAILED: " + run.error[:120].replace("|", "\\|")
        rows.append(f"| {name} | {status} | {run.seconds:.1f} | {run.peak_mb:.0f} | {run.figures} |")
    failures = sum(not run.ok for run in runs)
    report = "\n".join(
        [
            "# Course run report",
            "",
            f"Tier: **{tier}** ({reason}). Python {sys.version.split()[0]}.",
            "",
            "| notebook | status | seconds | peak memory (MB) | figures |",
            "| --- | --- | ---: | ---: | ---: |",
            *rows,
            f"| **total** | {len(runs) - failures}/{len(runs)} ok | {sum(r.seconds for r in runs):.1f} | "
            f"| {sum(r.figures for r in runs)} |",
            "",
        ]
    )
    BUILD.mkdir(exist_ok=True)
    (BUILD / "report.md").write_text(report)
    print("\n" + report)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
