"""Rehearse the full tier offline (`make rehearse`): every notebook, random-weight copies of the real checkpoints.

The Hub ids of the model registry resolve to a local mirror (`scripts/rehearsal.py`, built once into the cache),
the Hub data sets to stand-ins with their schema, and `LLM_WORKSHOP_REHEARSAL` tells `runtime.setup()` so. Every
notebook runs with errors allowed; each failing cell is an outcome assertion (random weights may fail those) or a
defect. Writes build/rehearsal.md (executed copies in build/rehearsal/) and exits 1 on any defect.

    python scripts/rehearse.py                    # CPU: depth cut to 2 layers, steps capped
    python scripts/rehearse.py --real-size --fp16  # GPU: real size, nothing capped, fp16 as a T4 computes
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METRICS_TAG = "REHEARSAL-METRICS "
METRICS_CELL = f"""\
import json as _json, resource as _resource, sys as _sys
_u = [_resource.getrusage(who) for who in (_resource.RUSAGE_SELF, _resource.RUSAGE_CHILDREN)]
_m = {{"rss_kb": max(u.ru_maxrss for u in _u), "cpu_s": sum(u.ru_utime + u.ru_stime for u in _u)}}
if "torch" in _sys.modules and _sys.modules["torch"].cuda.is_available():
    _m["cuda_max_allocated"] = _sys.modules["torch"].cuda.max_memory_allocated()
print({METRICS_TAG!r} + _json.dumps(_m))
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook paths (default: every module_*/NN_*.ipynb)")
    parser.add_argument("--real-size", action="store_true", help="no depth shrink, no step caps (for a GPU)")
    parser.add_argument("--fp16", action="store_true", help="force float16 compute, as a T4 (capability 7.5) gets")
    parser.add_argument("--cell-timeout", type=int, default=1800, help="seconds one cell may take")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "rehearsal.md")
    return parser.parse_args(argv)


def rehearsal_env(args: argparse.Namespace, hf_home: Path) -> dict[str, str]:
    """The variables every kernel inherits: full tier, the rehearsal switch, the mirror, offline everything."""
    env = {
        "LLM_WORKSHOP_TIER": "full",
        "LLM_WORKSHOP_REHEARSAL": "real" if args.real_size else "shrink",
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "MPLBACKEND": "Agg",
        "TOKENIZERS_PARALLELISM": "false",
    }
    if args.fp16:
        env["LLM_WORKSHOP_DTYPE"] = "float16"
    return env


def run_notebook(path: Path, timeout: int, executed: Path | None = None) -> dict:
    """Execute one notebook with errors allowed; return seconds, metrics and every failing cell, classified.

    With `executed`, the notebook with its outputs is written there (e.g. to read 3.3's memory prediction).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from rehearsal import DEFECT, classify_error

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(METRICS_CELL))
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    crash = ""
    try:
        client.execute()
    except (CellTimeoutError, DeadKernelError, RuntimeError, AssertionError) as error:
        # AssertionError: when the kernel is killed from outside (a time limit's SIGTERM), nbclient's own cleanup
        # fails an assert; the cells run so far are still reported and written
        crash = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    seconds = time.perf_counter() - start
    metrics, failures = {}, []
    for number, cell in enumerate(nb.cells[:-1], start=1):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") != "error":
                continue
            kind = classify_error(cell.source, cell.get("execution_count"), output["ename"], output["traceback"])
            first = (output.get("evalue") or "").strip().splitlines()
            failures.append(
                {
                    "cell": number,
                    "id": cell.get("id", ""),
                    "class": kind,
                    "error": f"{output['ename']}: {first[0] if first else ''}".strip(),
                }
            )
    for output in nb.cells[-1].get("outputs", []):
        if output.get("output_type") == "stream" and METRICS_TAG in output.get("text", ""):
            metrics = json.loads(output["text"].split(METRICS_TAG, 1)[1].splitlines()[0])
    if crash:
        failures.append({"cell": "-", "id": "", "class": DEFECT, "error": crash})
    if executed is not None:
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed)
    return {"seconds": seconds, "metrics": metrics, "failures": failures}


def report(results: dict[str, dict], header: str) -> str:
    """build/rehearsal.md: one row per notebook, then every failing cell with its class and first error line."""
    gpu = any("cuda_max_allocated" in r["metrics"] for r in results.values())
    head = "| notebook | seconds | CPU seconds | peak RSS (MB) |" + (" peak CUDA (GB) |" if gpu else "")
    rows = [head + " failing cells |", "| --- | ---: | ---: | ---: |" + (" ---: |" if gpu else "") + " --- |"]
    for name, r in results.items():
        m = r["metrics"]
        rss, cpu = (f"{m['rss_kb'] / 1024:.0f}", f"{m['cpu_s']:.0f}") if m else ("—", "—")
        cuda = f" {m.get('cuda_max_allocated', 0) / 1e9:.2f} |" if gpu else ""
        cells = ", ".join(f"{f['cell']} ({'outcome' if f['class'] != 'defect' else 'DEFECT'})" for f in r["failures"])
        rows.append(f"| {name} | {r['seconds']:.0f} | {cpu} | {rss} |{cuda} {cells or 'none'} |")
    total = sum(r["seconds"] for r in results.values())
    cpu_total = sum(r["metrics"].get("cpu_s", 0) for r in results.values())
    rows.append(f"| **total** | {total:.0f} | {cpu_total:.0f} | |{' |' if gpu else ''} |")
    details = ["| notebook | cell (id) | class | first error line |", "| --- | --- | --- | --- |"]
    for name, r in results.items():
        for f in r["failures"]:
            error = f["error"].replace("|", "\\|")[:160]
            details.append(f"| {name} | {f['cell']} (`{f['id']}`) | {f['class']} | {error} |")
    defects = sum(f["class"] == "defect" for r in results.values() for f in r["failures"])
    outcomes = sum(f["class"] != "defect" for r in results.values() for f in r["failures"])
    return "\n".join(
        [
            "# Full-tier rehearsal",
            "",
            header,
            "",
            *rows,
            "",
            f"**{defects} defect(s), {outcomes} outcome assertion(s)** failing "
            "(outcome assertions may fail under random weights; defects may not).",
            "",
            *(details if len(details) > 2 else []),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from rehearsal import build_hub_mirror

    from llm_workshop.course.runtime import REHEARSAL_LAYERS

    notebooks = [Path(p).resolve() for p in args.notebooks] or sorted(ROOT.glob("module_*/[0-9][0-9]_*.ipynb"))
    print("building (or reusing) the random-weight Hub mirror ...", flush=True)
    hf_home = build_hub_mirror(shrink=not args.real_size)
    os.environ.update(rehearsal_env(args, hf_home))  # the kernels inherit this environment
    mode = "real size, nothing capped" if args.real_size else f"depth cut to {REHEARSAL_LAYERS} layers, steps capped"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    header = (
        f"Mode: **{os.environ['LLM_WORKSHOP_REHEARSAL']}** ({mode}), random weights, real configs and tokenizers; "
        f"dtype {'float16 (forced)' if args.fp16 else 'chosen by runtime.setup()'}. "
        f"Commit {commit.stdout.strip() or '?'}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.1f}."
    )  # the machine may be shared: CPU seconds (kernel and its children) do not grow with other people's load
    results = {}
    for path in notebooks:
        name = path.relative_to(ROOT).as_posix()
        print(f"  {name} ...", flush=True)
        executed = args.out.parent / "rehearsal" / name  # the executed copy, outputs and all
        results[name] = run_notebook(path, args.cell_timeout, executed)
        r = results[name]
        kinds = [f["class"] for f in r["failures"]]
        print(
            f"  {name}: {r['seconds']:.0f} s, {kinds.count('defect')} defect(s), {len(kinds) - kinds.count('defect')} outcome"
        )
    text = report(results, header + f" Load average at the end {os.getloadavg()[0]:.1f}.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print("\n" + text)
    return 1 if "defect" in {f["class"] for r in results.values() for f in r["failures"]} else 0


if __name__ == "__main__":
    sys.exit(main())
