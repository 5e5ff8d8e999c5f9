"""Every notebook is committed clean, opens on Colab from this repository, and starts with runtime.setup()."""

import ast
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from set_repo import badge_url, github_repo  # noqa: E402

NOTEBOOKS = sorted(ROOT.glob("module_*/*.ipynb"))
# One letter of each prefix sits in a character class, so a repository-wide grep for absolute paths does not find
# this detector itself; the pattern matches exactly the same strings.
ABSOLUTE_PATH = re.compile(r"(/worksp[a]ce/|/hom[e]/[a-z]+/|/roo[t]/|/tm[p]/[A-Za-z]|/User[s]/|C:\\\\)")
TOKEN = re.compile(r"hf_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9]{20,}")
BARE_PIP = re.compile(r"^\s*[!%]pip\b", re.MULTILINE)


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


STUB = "# YOUR CODE HERE"  # the one marker of a learner's stub
CHECK_CALL = re.compile(r"\b(check_\w+)\(")


def exercises(path: Path) -> list[tuple[dict, dict | None]]:
    """(exercise cell, the cell right after it) for every code cell that carries the stub marker."""
    all_cells = cells(path)
    return [
        (cell, all_cells[i + 1] if i + 1 < len(all_cells) else None)
        for i, cell in enumerate(all_cells)
        if cell["cell_type"] == "code" and STUB in source(cell)
    ]


def hidden(cell: dict | None) -> bool:
    return bool(cell and cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"))


def test_the_notebooks_are_the_readme_course():
    readme = (ROOT / "README.md").read_text()
    listed = sorted(set(re.findall(r"\]\((module_\d\d/\d\d_[a-z0-9_]+\.ipynb)\)", readme)))
    assert listed == [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS], "README table and notebooks differ"
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name) for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
class TestNotebook:
    def test_no_outputs_or_execution_counts(self, path):
        for cell in cells(path):
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name}: outputs committed; strip them"
                assert cell.get("execution_count") is None, f"{path.name}: execution count committed"

    def test_colab_badge_points_at_this_notebook(self, path):
        first = source(cells(path)[0])
        expected = badge_url(path.relative_to(ROOT).as_posix(), github_repo())
        assert expected in first, f"{path.name}: first cell lacks the badge {expected}"

    def test_setup_in_first_code_cell_and_live_on_colab(self, path):
        """The Colab branch clones and installs the course for real: its lines are code, not comments."""
        setup = source([c for c in cells(path) if c["cell_type"] == "code"][0])
        live = [line.strip() for line in setup.splitlines() if line.strip() and not line.strip().startswith("#")]
        guard = live.index('if "google.colab" in sys.modules:')
        colab = live[guard + 1 :]
        clone = f"git clone --quiet --depth 1 https://github.com/{github_repo()}.git llm_workshop_course"
        assert any(line.startswith("!") and clone in line for line in colab), f"{path.name}: no live git clone"
        assert "%pip install --quiet -e llm_workshop_course" in colab, f"{path.name}: no live %pip install"
        assert any("raise SystemExit(" in line for line in colab), f"{path.name}: no sentence when the clone fails"
        assert "from llm_workshop.course import runtime" in live and any(
            line.startswith("rt = runtime.setup(") for line in live
        ), f"{path.name}: the setup cell must import runtime and call runtime.setup()"

    def test_no_absolute_paths_tokens_eval_or_bare_pip(self, path):
        for cell in cells(path):
            text = source(cell)
            assert not ABSOLUTE_PATH.search(text), f"{path.name}: absolute path in {text[:80]!r}"
            assert not TOKEN.search(text), f"{path.name}: something like an API token"
            if cell["cell_type"] == "code":
                assert not re.search(r"(?<![.\w])eval\(", text), f"{path.name}: eval() of a string"
                assert "import torchtext" not in text and "from torchtext" not in text

    def test_pip_only_inside_the_colab_guard(self, path):
        code = [source(c) for c in cells(path) if c["cell_type"] == "code"]
        assert not any(BARE_PIP.search(text) for text in code[1:]), f"{path.name}: %pip outside the setup cell"
        setup = code[0]
        for match in BARE_PIP.finditer(setup):
            before = setup[: match.start()]
            assert 'if "google.colab" in sys.modules:' in before, f"{path.name}: %pip outside the Colab guard"

    def test_two_exercises_each_checked_then_solved_in_a_hidden_cell(self, path):
        found = exercises(path)
        assert len(found) >= 2, f"{path.name}: {len(found)} exercise(s) with the {STUB!r} marker; the course has two"
        for exercise, solution in found:
            text = source(exercise)
            calls = CHECK_CALL.findall(text)
            assert calls, f"{path.name}: an exercise cell calls no check_... function: {text[:80]!r}"
            assert not re.search(r"check_\w+\(.*\)\s*;\s*$", text, re.MULTILINE), f"{path.name}: ';' after a check"
            learner = re.search(rf"{calls[-1]}\((\w+)", text).group(1)
            assert learner.startswith("my_"), f"{path.name}: the learner's answer {learner!r} is not named my_..."
            assert hidden(solution), f"{path.name}: the cell after the exercise {calls[-1]} is not a hidden solution"
            assert re.search(rf"assert\s+(\w+\.)*{calls[-1]}\(.*solution=True\s*\)", source(solution), re.DOTALL), (
                f"{path.name}: the hidden solution does not assert {calls[-1]}(..., solution=True)"
            )

    def test_solutions_are_hidden_on_colab_and_in_jupyterlab(self, path):
        """Colab hides a code cell only as a form (`cellView: form` with a `# @title` line); JupyterLab reads
        `jupyter.source_hidden`."""
        for _, solution in exercises(path):
            assert solution["metadata"].get("cellView") == "form", f"{path.name}: a solution lacks cellView: form"
            assert source(solution).startswith("# @title Solution"), f"{path.name}: a solution lacks its @title line"

    def test_jupytext_round_trips_keep_solutions_hidden(self, path):
        """CONTRIBUTING edits notebooks through jupytext, which keeps only the cell metadata its filter names."""
        kept = json.loads(path.read_text())["metadata"].get("jupytext", {}).get("cell_metadata_filter", "")
        assert {"cellView", "jupyter"} <= set(kept.split(",")), f"{path.name}: jupytext would drop {kept!r}"

    def test_last_cell_tallies_the_notebooks_exercises(self, path):
        module = f"m{path.parent.name[-1]}_{int(path.name[:2])}"
        assert source(cells(path)[-1]).rstrip().endswith(f"verdict.tally({module})"), (
            f"{path.name}: the last cell should print the exercise tally, verdict.tally({module})"
        )

    def test_code_cells_are_short(self, path):
        """A learner reads a cell at a glance: at most 30 lines (the setup cell excepted)."""
        for cell in [c for c in cells(path) if c["cell_type"] == "code"][1:]:
            lines = source(cell).rstrip().splitlines()
            assert len(lines) <= 30, f"{path.name}: a code cell of {len(lines)} lines: {source(cell)[:80]!r}"

    def test_every_check_outside_a_solution_is_an_exercise(self, path):
        for cell in cells(path):
            text = source(cell)
            if cell["cell_type"] == "code" and CHECK_CALL.search(text) and not hidden(cell):
                assert STUB in text, f"{path.name}: a check_ call in a cell without the {STUB!r} marker: {text[:80]!r}"

    def test_asserts_what_it_teaches(self, path):
        code = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "code")
        assert len(re.findall(r"^\s*assert ", code, re.MULTILINE)) >= 3, f"{path.name}: fewer than 3 assertions"

    def test_every_assert_says_what_it_expected(self, path):
        """A bare `assert x > y` fails with an empty AssertionError; the learner needs the expected and the actual value.
        A grader call is the exception: `assert mM_N.check_x(...)` prints what was wrong itself."""
        bare = []
        for cell in cells(path):
            if cell["cell_type"] == "code":
                code = "\n".join("" if re.match(r"\s*[%!]", line) else line for line in source(cell).splitlines())
                nodes = [
                    node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Assert) and node.msg is None
                ]
                bare += [ast.unparse(node) for node in nodes if not CHECK_CALL.search(ast.unparse(node.test))]
        assert not bare, f"{path.name}: asserts without a message saying what was expected and got: {bare}"
