"""Execute every notebook in course order into build/ (sources untouched) and write build/report.md.

Each notebook runs in its own process so its peak memory (max RSS of the kernel) can be measured.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
sys.path.insert(0, str(ROOT))


def course_notebooks() -> list[Path]:
    """All notebooks of all modules, in the order a learner takes them."""
    return sorted(ROOT.glob("module_*/[0-9][0-9]_*.ipynb"))


def execute(notebook: Path) -> tuple[bool, float, float, str]:
    """Run one notebook with nbconvert; returns (ok, seconds, peak memory in MB, last error line)."""
    out_dir = BUILD / notebook.parent.name
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
        "--ExecutePreprocessor.timeout=1800", "--output-dir", str(out_dir), str(notebook),
    ]  # fmt: skip
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=notebook.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    ok = os.waitstatus_to_exitcode(status) == 0
    error = "" if ok else next((line for line in reversed(output.splitlines()) if line.strip()), "failed")
    return ok, seconds, usage.ru_maxrss / 1024, error


def main() -> int:
    from llm_workshop.runtime import choose_tier

    tier, _, reason = choose_tier()
    print(f"Running every notebook in the {tier} tier ({reason}); outputs go to {BUILD.relative_to(ROOT)}/")
    rows, total, failures = [], 0.0, 0
    for notebook in course_notebooks():
        name = notebook.relative_to(ROOT).as_posix()
        print(f"  {name} ...", end=" ", flush=True)
        ok, seconds, peak_mb, error = execute(notebook)
        total += seconds
        failures += not ok
        print(f"{'ok' if ok else 'FAILED'} in {seconds:.1f} s, peak {peak_mb:.0f} MB")
        rows.append(f"| {name} | {'ok' if ok else 'FAILED: ' + error[:120]} | {seconds:.1f} | {peak_mb:.0f} |")
    report = "\n".join(
        [
            "# Course run report",
            "",
            f"Tier: **{tier}** ({reason}). Python {sys.version.split()[0]}.",
            "",
            "| notebook | status | seconds | peak memory (MB) |",
            "| --- | --- | ---: | ---: |",
            *rows,
            f"| **total** | {len(rows) - failures}/{len(rows)} ok | {total:.1f} | |",
            "",
        ]
    )
    BUILD.mkdir(exist_ok=True)
    (BUILD / "report.md").write_text(report)
    print("\n" + report)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
