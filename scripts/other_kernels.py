"""Run the lesson notebooks with another CPU's kernels and a fresh smoke cache, as a stand-in for a learner's laptop.

    python scripts/other_kernels.py        # make test-kernels; after `make run` (its build/measured.json)
    python scripts/other_kernels.py module_02/05_judging_models.ipynb     # only the lesson notebooks named

On a machine whose PyTorch kernels are AVX-512, PyTorch, MKL and oneDNN are switched to AVX2 ones; on an AVX2 machine
PyTorch is switched to its scalar ("default") kernels. Float rounding changes, so the smoke models build to other
weights (in build/cache-kernels, emptied first). Every lesson notebook (those scripts/run_course.py reads lesson
lines from) runs once; its own asserts say whether its lesson holds, and the values its lesson lines print are shown
beside the same values from the machine's own kernels. Executed copies go to build/kernels/, the table to
build/kernels.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from run_course import LESSON_LINES, execute, lesson_id

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "DNNL_MAX_CPU_ISA": "AVX2"}
SCALAR = {"ATEN_CPU_CAPABILITY": "default"}
CAPABILITY = "import torch; print(torch.backends.cpu.get_cpu_capability())"


def capability(env: dict[str, str]) -> str:
    """The kernels PyTorch picks under `env` ('AVX512', 'AVX2', 'DEFAULT', ...)."""
    return subprocess.run(
        [sys.executable, "-c", CAPABILITY], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def other_kernels(own: str) -> dict[str, str]:
    """The switch to kernels other than the machine's own."""
    if own.startswith("AVX512"):
        return AVX2
    if own == "AVX2":
        return SCALAR
    raise SystemExit(f"PyTorch already runs its {own} kernels here; there is no other x86 kernel set to switch to.")


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in LESSON_LINES]
    if unknown:
        sys.exit(f"Not a lesson notebook: {', '.join(unknown)}; the lesson notebooks are {', '.join(LESSON_LINES)}.")
    measured_file = BUILD / "measured.json"
    if not measured_file.is_file():
        sys.exit("No build/measured.json to compare with: run `make run` first (the machine's own kernels).")
    own = capability(dict(os.environ))
    switch = other_kernels(own)
    cache = BUILD / "cache-kernels"
    shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, **switch, "LLM_WORKSHOP_CACHE": str(cache)}
    other = capability(env)
    if other == own:
        sys.exit(f"Setting {switch} left PyTorch on its {own} kernels; this PyTorch build cannot switch them.")
    print(
        f"PyTorch kernels: the machine's own {own}; this run {other} ({' '.join(f'{k}={v}' for k, v in switch.items())})"
    )
    runs = {}
    for path in names or LESSON_LINES:
        print(f"  {path} ...", end=" ", flush=True)
        run = runs[path] = execute(ROOT / path, BUILD / "kernels" / Path(path).parent, env=env)
        print(f"{'ok' if run.ok else 'FAILED (' + run.error + ')'} in {run.seconds:.1f} s", flush=True)
    own_values = json.loads(measured_file.read_text())  # read last: a `make run` may have rewritten it meanwhile
    rows = [
        f"| {lesson_id(path)} | {name} | {own_values.get(lesson_id(path), {}).get(name, 'not measured')} "
        f"| {run.measured.get(name, 'not printed')} |"
        for path, run in runs.items()
        for name in LESSON_LINES[path]
    ]
    failed = [path for path, run in runs.items() if not (run.ok or run.noise)]  # a cell raised: a lesson did not hold
    noisy = [path for path, run in runs.items() if run.noise]
    table = [
        f"# Lessons under other kernels: {own} (the machine's own) and {other}",
        "",
        f"| lesson | value | {own} (build/measured.json) | {other} (fresh cache) |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
        f"Lesson notebooks with a cell that failed under {other} (a lesson assert or an error): {', '.join(failed) or 'none'}.",
        f"Lesson notebooks whose output reads as an error (scripts/run_course.py): {', '.join(noisy) or 'none'}.",
    ]
    (BUILD / "kernels.md").write_text("\n".join(table) + "\n")
    print("\n" + "\n".join(table))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
