"""Execute every notebook (or those named) in course order into build/; write build/report.md and build/measured.json.

Each notebook runs in its own process so its peak memory (max RSS of the kernel) can be measured. Kernels draw with
matplotlib's inline backend, so every figure is saved in the executed notebook and no window ever opens. A notebook
fails when it raises, when its outputs carry text a learner reads as an error (a warning, a traceback, "deprecated";
on stderr also an error, a failure or "unexpected"), or when a lesson line that LESSON_LINES reads is missing. The
numbers those lines print go to build/measured.json; the run then checks the relations the README states about them
(`<!-- measured: ... -->` comments), as tests/test_readme_measured.py does for the last run.
"""

from __future__ import annotations

import json
import operator
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # what Jupyter uses; figures become image/png outputs
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # the colour codes of IPython tracebacks
EXCEPTION_LINE = re.compile(
    r"^[\w.]*(Error|Exception|Interrupt|Exit)\b"
)  # "ValueError: ...", "...CellTimeoutError: ..."
NOISE = re.compile(r"warning|traceback|deprecated", re.IGNORECASE)  # what a learner reads as an error
# On stderr (red in Jupyter and Colab) these read as errors too; on stdout a lesson may print them on purpose.
STDERR_NOISE = re.compile(r"\berror\b|failed|unexpected", re.IGNORECASE)
# The lines where a lesson notebook prints what it teaches, one regex (one group) per measured value.
LESSON_LINES: dict[str, dict[str, str]] = {
    "module_01/03_transformers.ipynb": {
        "answer": r"answer '([^']*)' at character \d+",
        "answer_start": r"answer '[^']*' at character (\d+)",
        "first_window_end": r"the first window ends at character (\d+)",
    },
    "module_02/03_prompting_and_evaluation.ipynb": {
        # after the colour-recall prompt it prints (the sentiment section before it prints the same words)
        "zero_shot_recall": r"The favourite colour of [\s\S]*?zero-shot\s+accuracy ([\d.]+)",
        "few_shot_recall": r"The favourite colour of [\s\S]*?few-shot\s+accuracy ([\d.]+)",
    },
    "module_02/04_fast_inference.ipynb": {
        "speedup": r"speculative decoding: ([\d.]+)x wall clock",
        "predicted_speedup": r"speculative decoding: [\d.]+x wall clock at k=\d+ \(acceptance [\d.]+, cost ratio [\d.]+, predicted ([\d.]+)x\)",
        "acceptance": r"speculative decoding: [\d.]+x wall clock at k=\d+ \(acceptance ([\d.]+)",
    },
    "module_02/05_judging_models.ipynb": {
        "judge_verdicts": r"judge: ([\d.]+) of pairs with a verdict",
        "judge_accuracy": r"judge: [\d.]+ of pairs with a verdict, accuracy ([\d.]+)",
        "closed_unsupported": r"unsupported answers: closed book ([\d.]+)",
        "open_unsupported": r"unsupported answers: closed book [\d.]+, open book ([\d.]+)",
        "plain_written": r"injection: plain (\d+)/\d+ attacks written",
        "guarded_written": r"injection: plain \d+/\d+ attacks written, guarded (\d+)/",
        "sandbox_through": r"sandbox let through (\d+)/",
    },
    "module_02/06_retrieval_augmented_generation.ipynb": {
        "bm25_recall": r"retrieval recall@5: bm25 ([\d.]+)",
        "dense_recall": r"retrieval recall@5: bm25 [\d.]+, dense ([\d.]+)",
        "hybrid_recall": r"retrieval recall@5: bm25 [\d.]+, dense [\d.]+, hybrid ([\d.]+)",
        "closed_accuracy": r"answer accuracy: closed book ([\d.]+)",
        "rag_accuracy": r"answer accuracy: closed book [\d.]+ -> with retrieval ([\d.]+)",
    },
    "module_02/07_tools_and_agents.ipynb": {
        "no_tools_solved": r"no tools\s+agent: (\d+)/\d+ tasks solved",
        "free_solved": r"free\s+agent: (\d+)/\d+ tasks solved",
        "free_valid": r"free\s+agent: \d+/\d+ tasks solved, ([\d.]+) valid tool calls",
        "solved": r"constrained\s+agent: (\d+)/\d+ tasks solved",
        "tasks": r"constrained\s+agent: \d+/(\d+) tasks solved",
        "valid": r"constrained\s+agent: \d+/\d+ tasks solved, ([\d.]+) valid tool calls",
    },
    "module_03/03_instruction_tuning_text_to_sql.ipynb": {
        "base_accuracy": r"execution accuracy: base ([\d.]+) -> tuned",
        "tuned_accuracy": r"execution accuracy: base [\d.]+ -> tuned ([\d.]+)",
        "held_out_questions": r"tuned [\d.]+ \((\d+) held-out questions\)",
    },
}
# The README states relations between these values in `<!-- measured: LESSON/NAME OP TERM; ... -->` comments.
MEASURED_COMMENT = re.compile(r"<!-- measured: (.*?) -->", re.DOTALL)
RELATION = re.compile(r"^\s*(\S+)\s*(<=|>=|==|!=|<|>)\s*('[^']*'|\S+)\s*$")
OPERATORS = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
}
sys.path.insert(0, str(ROOT))


class Run(NamedTuple):
    ok: bool
    seconds: float
    peak_mb: float
    figures: int
    error: str
    noise: list[str]  # "cell N: line" for each output line that reads as an error
    measured: dict[str, float | int | str]  # what the lesson lines printed


def course_notebooks() -> list[Path]:
    """All notebooks of all modules, in the order a learner takes them."""
    return sorted(ROOT.glob("module_*/[0-9][0-9]_*.ipynb"))


def count_figures(notebook: Path) -> int:
    """How many image/png outputs an executed notebook holds."""
    cells = json.loads(notebook.read_text())["cells"] if notebook.exists() else []
    return sum("image/png" in output.get("data", {}) for cell in cells for output in cell.get("outputs", []))


def output_texts(cell: nbformat.NotebookNode) -> list[str]:
    """The text a learner sees under a code cell: streams, plain-text results and errors."""
    texts = []
    for output in cell.get("outputs", []):
        texts.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
        texts.append("\n".join([output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])]))
    return [ANSI_ESCAPE.sub("", text) for text in texts if text.strip()]


def noise(notebook: nbformat.NotebookNode) -> list[str]:
    """'cell N: line' for every output line that reads as an error: a warning, a traceback, "deprecated", or on stderr
    an error, a failure or something unexpected (transformers' load reports)."""
    found = []
    for index, cell in enumerate(notebook.cells):
        stderr = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stderr")
        lines = [line for text in output_texts(cell) for line in text.splitlines() if NOISE.search(line)]
        lines += [line for line in ANSI_ESCAPE.sub("", stderr).splitlines() if STDERR_NOISE.search(line)]
        found += [f"cell {index}: {line.strip()[:200]}" for line in dict.fromkeys(lines)]
    return found


def lesson_id(path: str) -> str:
    """'3.3' for module_03/03_instruction_tuning_text_to_sql.ipynb."""
    module, number = re.match(r"module_(\d+)/(\d+)_", path).groups()
    return f"{int(module)}.{int(number)}"


def number(text: str) -> float | int | str:
    """A printed value as a number where it is one."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def measure(path: str, notebook: nbformat.NotebookNode) -> tuple[dict[str, float | int | str], list[str]]:
    """The values LESSON_LINES reads from a notebook's outputs, and the names of those it did not find."""
    text = "\n".join(text for cell in notebook.cells for text in output_texts(cell))
    matches = {name: re.search(pattern, text) for name, pattern in LESSON_LINES.get(path, {}).items()}
    return {name: number(m[1]) for name, m in matches.items() if m}, [name for name, m in matches.items() if not m]


def relations(text: str) -> list[str]:
    """Every relation that `<!-- measured: ... -->` comments in a text state."""
    return [part.strip() for comment in MEASURED_COMMENT.findall(text) for part in comment.split(";") if part.strip()]


def term_value(term: str, measured: dict) -> float | int | str:
    """A term of a relation: a 'quoted string', a number, or LESSON/NAME looked up in the measured values."""
    if term.startswith("'"):
        return term.strip("'")
    if re.fullmatch(r"-?[\d.]+", term):
        return number(term)
    lesson, _, name = term.partition("/")
    if name not in measured.get(lesson, {}):
        raise KeyError(f"{term} was not measured (lessons: {sorted(measured)}); LESSON_LINES says what is read")
    return measured[lesson][name]


def holds(relation: str, measured: dict) -> bool:
    """Whether one relation, e.g. `3.3/tuned_accuracy > 3.3/base_accuracy`, holds for the measured values."""
    match = RELATION.match(relation)
    if not match:
        raise ValueError(f"cannot read the relation {relation!r}; write LESSON/NAME OP TERM, e.g. 3.3/held_out > 0")
    left, op, right = match.groups()
    return OPERATORS[op](term_value(left, measured), term_value(right, measured))


def contradicted(readme: str, measured: dict, partial: bool = False) -> list[str]:
    """The README's relations that the measured values contradict, or name values that were not measured (skipped
    when `partial`: a run of some notebooks checks only the relations of the lessons it measured)."""
    failing = []
    for relation in relations(readme):
        try:
            failing += [] if holds(relation, measured) else [relation]
        except KeyError as error:
            failing += [] if partial else [f"{relation} ({error.args[0]})"]
    return failing


def last_error(output: str) -> str:
    """The last exception line of nbconvert's output (else its last line), without colour codes."""
    lines = [line.strip() for line in ANSI_ESCAPE.sub("", output).splitlines() if line.strip()]
    return next((line for line in reversed(lines) if EXCEPTION_LINE.match(line)), lines[-1] if lines else "failed")


def execute(notebook: Path, out_dir: Path, timeout_s: int = 1800, env: dict[str, str] | None = None) -> Run:
    """Run one notebook with nbconvert into out_dir (inline matplotlib backend); check its outputs and read its lessons."""
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
        f"--ExecutePreprocessor.timeout={timeout_s}", "--output-dir", str(out_dir), str(notebook),
    ]  # fmt: skip
    env = {**(env or os.environ), "MPLBACKEND": INLINE_BACKEND}
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=notebook.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )  # fmt: skip
    output = process.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    ok = os.waitstatus_to_exitcode(status) == 0
    error = "" if ok else last_error(output)
    executed = out_dir / notebook.name
    found, measured = [], {}
    if ok:
        result = nbformat.read(executed, as_version=4)
        found, (measured, missing) = noise(result), measure(f"{notebook.parent.name}/{notebook.name}", result)
        if found:
            ok, error = False, f"{len(found)} output lines read as errors, the first in {found[0]}"
        elif missing:
            ok, error = False, f"no lesson line printed {', '.join(missing)} (LESSON_LINES in scripts/run_course.py)"
    return Run(ok, seconds, usage.ru_maxrss / 1024, count_figures(executed), error, found, measured)


def report(tier: str, reason: str, runs: dict[str, Run]) -> str:
    """build/report.md: status, time, memory and figures per notebook, then the noise and the measured values."""
    failures = sum(not run.ok for run in runs.values())
    rows = [
        f"| {name} | {'ok' if run.ok else 'FAILED: ' + run.error[:200].replace('|', '/')} | {run.seconds:.1f} "
        f"| {run.peak_mb:.0f} | {run.figures} |"
        for name, run in runs.items()
    ]
    lines = [
        "# Course run report",
        "",
        f"Tier: **{tier}** ({reason}). Python {sys.version.split()[0]}.",
        "",
        "| notebook | status | seconds | peak memory (MB) | figures |",
        "| --- | --- | ---: | ---: | ---: |",
        *rows,
        f"| **total** | {len(runs) - failures}/{len(runs)} ok | {sum(r.seconds for r in runs.values()):.1f} | "
        f"| {sum(r.figures for r in runs.values())} |",
        "",
    ]
    noisy = {name: run.noise for name, run in runs.items() if run.noise}
    if noisy:
        lines += ["## Output that reads as an error", ""]
        lines += [f"- {name} {line}" for name, found in noisy.items() for line in found] + [""]
    lines += ["## Measured (the lesson lines, read by LESSON_LINES)", ""]
    lines += [
        f"- {lesson_id(name)} {key} = {value}" for name, run in runs.items() for key, value in run.measured.items()
    ]
    return "\n".join(lines) + "\n"


def main(names: list[str]) -> int:
    """Run the named notebooks (all when none is named); their lesson numbers update build/measured.json."""
    from llm_workshop.course.runtime import choose_tier

    known = course_notebooks()
    notebooks = [(ROOT / name).resolve() for name in names] or known
    unknown = [name for name, path in zip(names, notebooks) if path not in known]
    if unknown:
        sys.exit(f"Not a course notebook: {', '.join(unknown)}; name them like module_03/01_scaling_and_memory.ipynb.")
    tier, _, reason = choose_tier()
    print(f"Running {len(notebooks)} notebooks in the {tier} tier ({reason}); outputs go to {BUILD.relative_to(ROOT)}/")
    runs = {}
    for notebook in notebooks:
        name = notebook.relative_to(ROOT).as_posix()
        print(f"  {name} ...", end=" ", flush=True)
        run = runs[name] = execute(notebook, BUILD / notebook.parent.name)
        status = "ok" if run.ok else f"FAILED ({run.error})"
        print(f"{status} in {run.seconds:.1f} s, peak {run.peak_mb:.0f} MB, {run.figures} figures", flush=True)
    earlier = BUILD / "measured.json"
    measured = json.loads(earlier.read_text()) if names and earlier.exists() else {}
    measured |= {lesson_id(name): {"notebook": name, **run.measured} for name, run in runs.items() if run.measured}
    BUILD.mkdir(exist_ok=True)
    (BUILD / "measured.json").write_text(json.dumps(measured, indent=2) + "\n")
    readme = (ROOT / "README.md").read_text()
    failing = contradicted(readme, measured, partial=bool(names)) if all(r.ok for r in runs.values()) else []
    text = report(tier, reason, runs)
    if failing:
        text += "\n## README relations this run contradicts\n\n" + "".join(f"- {r}\n" for r in failing)
    (BUILD / "report.md").write_text(text)
    print("\n" + text)
    return 1 if failing or any(not run.ok for run in runs.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
