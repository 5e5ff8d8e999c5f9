"""Run every benchmark in benchmarks/ once and collect what each prints (its ratios and targets) in build/bench.md.

    python scripts/bench.py [NAME ...]        # make bench; NAME: e.g. kv_cache (default: all)

The ratios come from one run each on this machine as it is: the load average before each benchmark is recorded beside
it, since other work on the same cores slows the two sides of a ratio unevenly.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def main() -> int:
    names = sys.argv[1:] or sorted(path.stem for path in BENCHMARKS.glob("*.py"))
    unknown = [name for name in names if not (BENCHMARKS / f"{name}.py").is_file()]
    if unknown:
        sys.exit(
            f"No benchmark named {', '.join(unknown)} in benchmarks/; choose from {sorted(p.stem for p in BENCHMARKS.glob('*.py'))}."
        )
    sections, failed = [], []
    for name in names:
        load = os.getloadavg()[0]
        print(f"benchmarks/{name}.py (load average {load:.1f}) ...", flush=True)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, str(BENCHMARKS / f"{name}.py")], capture_output=True, text=True, cwd=ROOT
        )
        seconds = time.perf_counter() - start
        output = (done.stdout + done.stderr).strip()
        print(output + f"\n  ({seconds:.0f} s, exit {done.returncode})\n", flush=True)
        failed += [name] if done.returncode else []
        status = "ok" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
        sections.append(
            f"## {name}.py: {status}, {seconds:.0f} s, load average {load:.1f} before\n\n```\n{output}\n```\n"
        )
    header = (
        f"# Benchmarks, one run each\n\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Each section is what the benchmark printed.\n"
    )
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "bench.md").write_text("\n".join([header, *sections]))
    print(f"wrote build/bench.md ({len(names) - len(failed)}/{len(names)} ran)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
