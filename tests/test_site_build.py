"""The site and slide builders show a notebook's outputs only from a successful run of its current source, keep
solutions collapsed on the site and out of the slides, and make the README the home page (no Sphinx, no browser)."""

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_site  # noqa: E402
import course_outputs  # noqa: E402
import make_slides  # noqa: E402
from set_repo import badge_url  # noqa: E402

BADGE = make_slides.COLAB_BADGE
NAME = "module_01/01_demo.ipynb"
PNG = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}


def demo_notebook(executed: bool) -> nbformat.NotebookNode:
    """Title with a Colab badge, setup, a figure, an exercise and its collapsed solution; outputs when executed."""
    setup = nbformat.v4.new_code_cell("rt = runtime.setup()")
    figure = nbformat.v4.new_code_cell("plt.plot([1, 2])")
    solution = nbformat.v4.new_code_cell(
        "answer = 2\nassert check_answer(answer)", metadata={"jupyter": {"source_hidden": True}}
    )
    if executed:
        setup.outputs = [nbformat.v4.new_output("stream", text="llm_workshop: tier=smoke (CI is set), device=cpu\n")]
        figure.outputs = [nbformat.v4.new_output("display_data", data=PNG)]
        solution.outputs = [nbformat.v4.new_output("stream", text="correct\n")]
    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(f'# 1.1 Demo\n\n<a href="{badge_url(NAME)}"><img src="{BADGE}"/></a>'),
            setup,
            nbformat.v4.new_markdown_cell("## A figure\n\nThe mean is $\\mu$."),
            figure,
            nbformat.v4.new_code_cell("answer = None  # YOUR CODE HERE\ncheck_answer(answer)"),
            solution,
        ]
    )


@pytest.fixture
def course(tmp_path):
    """A repository with one source notebook, and a build/ with its executed copy."""
    source = tmp_path / "repo" / NAME
    source.parent.mkdir(parents=True)
    nbformat.write(demo_notebook(executed=False), source)
    executed = tmp_path / "build" / NAME
    executed.parent.mkdir(parents=True)
    nbformat.write(demo_notebook(executed=True), executed)
    return source, tmp_path / "build"


def report(status: str) -> dict:
    text = f"# Course run report\n\n| notebook | status | seconds | peak memory (MB) |\n| --- | --- | ---: | ---: |\n| {NAME} | {status} | 12.5 | 600 |\n"
    return course_outputs.report_rows(text)


def outputs(notebook) -> int:
    return sum(len(c.get("outputs", [])) for c in notebook.cells)


def test_a_successful_run_gives_the_executed_notebook_and_its_tier(course):
    source, build = course
    page = course_outputs.load(source, report("ok"), build)
    assert (page.status, page.tier, page.seconds) == ("ok", "smoke", 12.5)
    assert outputs(page.notebook) == 3


@pytest.mark.parametrize(
    ("rows", "status", "said"),
    [
        (report("FAILED: AssertionError: ppl_after < ppl_before"), "failed", "AssertionError: ppl_after < ppl_before"),
        ({}, "not run", "make run"),
    ],
)
def test_a_failed_or_missing_run_shows_no_stale_outputs(course, rows, status, said):
    source, build = course
    page = course_outputs.load(source, rows, build)
    assert page.status == status and said in page.detail
    assert outputs(page.notebook) == 0 and page.tier is None


def test_an_executed_copy_of_older_source_is_stale(course):
    source, build = course
    changed = nbformat.read(source, as_version=4)
    changed.cells[3].source = "plt.plot([3, 4])"
    nbformat.write(changed, source)
    page = course_outputs.load(source, report("ok"), build)
    assert page.status == "stale" and outputs(page.notebook) == 0
    assert page.notebook.cells[3].source == "plt.plot([3, 4])"  # the current code, not the executed one


def test_the_report_of_make_run_needs_notebook_rows(tmp_path, monkeypatch):
    (tmp_path / "report.md").write_text("# Course run report\n\nnothing ran\n")
    monkeypatch.setattr(course_outputs, "REPORT", tmp_path / "report.md")
    monkeypatch.setattr(course_outputs, "ROOT", tmp_path)
    with pytest.raises(ValueError, match="no '| module_0N"):
        course_outputs.load_course()


@pytest.mark.slow
def test_without_a_run_the_notebooks_are_executed_first(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(course_outputs, "REPORT", tmp_path / "report.md")
    monkeypatch.setattr(course_outputs, "ROOT", tmp_path)
    monkeypatch.setattr(course_outputs.subprocess, "run", lambda command, check: calls.append(command))
    with pytest.raises(FileNotFoundError, match="run `make run`"):  # the stand-in run wrote no report
        course_outputs.ensure_executed()
    assert calls and calls[0][-1].endswith("run_course.py")
    assert "running them first (make run" in capsys.readouterr().out


def test_site_page_collapses_solutions_and_states_the_tier(course):
    source, build = course
    page = course_outputs.load(source, report("ok"), build)
    shown = build_site.page_notebook(page, "owner/course")
    note = shown.cells[1].source
    assert "**smoke** tier" in note and "course-run-status" in note
    assert f"https://github.com/owner/course/blob/main/{NAME}" in note and badge_url(NAME, "owner/course") in note
    assert "../slides/module_01_01_demo.slides.html" in note
    hidden = [c for c in shown.cells if "hide-input" in c.metadata.get("tags", [])]
    assert [c.source for c in hidden] == ["answer = 2\nassert check_answer(answer)"]
    assert BADGE not in shown.cells[0].source and "../_static/colab-badge.svg" in shown.cells[0].source
    assert len(page.notebook.cells) == 6 and "tags" not in page.notebook.cells[5].metadata  # input untouched


def test_site_page_of_a_failed_run_says_so(course):
    source, build = course
    page = course_outputs.load(source, report("FAILED: RuntimeError: <boom> `x`"), build)
    note = build_site.page_notebook(page, "owner/course").cells[1].source
    assert "failed to execute" in note and ":class: error" in note
    assert r"RuntimeError: \<boom\> \`x\`" in note  # the error as written, not as Markdown or HTML


def test_slides_leave_out_solutions_and_start_a_slide_per_heading(course):
    source, build = course
    deck = make_slides.deck_notebook(course_outputs.load(source, report("ok"), build))
    assert not any("assert check_answer" in c.source for c in deck.cells)
    assert [c.metadata.slideshow["slide_type"] for c in deck.cells] == ["slide", "-", "slide", "-", "-"]
    assert "_vendor/colab-badge.svg" in deck.cells[0].source and outputs(deck) == 2
    assert make_slides.deck_name(NAME) == "module_01_01_demo.slides.html"
    assert make_slides.title(deck) == "1.1 Demo"


def test_slides_of_a_failed_run_warn_on_the_first_slide(course):
    source, build = course
    deck = make_slides.deck_notebook(course_outputs.load(source, report("FAILED: boom"), build))
    assert deck.cells[1].source.startswith("**Not executed: it failed") and outputs(deck) == 0


def test_home_page_is_the_readme_with_the_sidebar_in_course_order(course):
    source, build = course
    pages = [course_outputs.load(source, report("ok"), build)]
    readme = (
        "# Course\n\n| 1 | [Demo](module_01/01_demo.ipynb) | "
        f"[![Open In Colab]({BADGE})]({badge_url(NAME)}) |\n\nSee [CONTRIBUTING.md](CONTRIBUTING.md).\n"
    )
    home = build_site.home_page(readme, pages, "owner/course")
    assert "[Demo](module_01/01_demo.ipynb)" in home
    assert "[CONTRIBUTING.md](https://github.com/owner/course/blob/main/CONTRIBUTING.md)" in home
    assert f'<a href="{badge_url(NAME)}"><img src="_static/colab-badge.svg" alt="Open In Colab"/></a>' in home
    assert re.search(r"```\{toctree\}\n:hidden:\n:caption: Module 1\n\nmodule_01/01_demo\n```", home)
    assert "outputs of `make run` in the smoke tier" in home
