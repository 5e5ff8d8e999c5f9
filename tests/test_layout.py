"""The package's plan holds: layers kept apart, no cycles, short modules, graders only in `exercises/`."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "llm_workshop"
MODULES = sorted(PACKAGE.rglob("*.py"))
NOTEBOOKS = sorted(ROOT.glob("module_*/[0-9][0-9]_*.ipynb"))


def test_layers_and_no_cycles():
    """import-linter's contracts in pyproject.toml: each layer imports only those below it, stand-ins and graders
    never import each other, and no sibling modules import each other in a cycle (function-level imports too)."""
    command = [str(Path(sys.executable).with_name("lint-imports")), "pyproject.toml", "--no-cache"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_module_over_400_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= 400, f"{path.relative_to(ROOT)} has {lines} lines; split it by concern (ARCHITECTURE.md)"


def test_graders_live_only_in_exercises():
    """A learner who opens a concept module reads the concept, not exercise graders."""
    for path in MODULES:
        if "exercises" in path.parts:
            continue
        defined = [n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)]
        graders = [name for name in defined if name.startswith("check_")]
        assert not graders, (
            f"{path.relative_to(ROOT)} defines graders {graders}; they belong in llm_workshop/exercises/"
        )


def test_one_grader_module_per_notebook_and_every_check_is_a_grader():
    expected = {f"m{path.parent.name[-1]}_{int(path.name[:2])}" for path in NOTEBOOKS}
    present = {path.stem for path in (PACKAGE / "exercises").glob("m*_*.py")}
    assert present == expected, f"grader modules {sorted(present)} vs notebooks {sorted(expected)}"
    for name in sorted(present):
        module = importlib.import_module(f"llm_workshop.exercises.{name}")
        checks = [getattr(module, a) for a in dir(module) if a.startswith("check_")]
        assert len(checks) >= 2, f"{name} grades {len(checks)} exercise(s); every notebook has two"
        assert all(hasattr(check, "__wrapped__") for check in checks), f"{name}: a check_ without @grader"


def test_architecture_graph_is_drawn_from_the_code():
    command = [sys.executable, "scripts/architecture_graph.py", "--check"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
