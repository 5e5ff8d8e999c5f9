"""Build the course website into build/site/ with Sphinx + MyST-NB from the notebooks as `make run` executed them.

Pages are staged in build/site-src/: the home page is the README (its course table links the pages), each notebook
page is its executed copy with a note saying which tier produced the outputs, with links to its source, Colab and
slides. A notebook whose last run failed (or that changed since) is shown without outputs, marked as such.
"""

from __future__ import annotations

import copy
import re
import shutil
import sys

import nbformat
from course_outputs import ROOT, CourseNotebook, is_solution, load_course, markdown_text
from make_slides import COLAB_BADGE, deck_name, mathjax_files
from set_repo import badge_url, github_repo
from sphinx.cmd.build import build_main

BUILD = ROOT / "build"
STAGE = BUILD / "site-src"
SITE = BUILD / "site"
SLIDES = BUILD / "slides"
LOCAL_BADGE = "_static/colab-badge.svg"  # the same badge served by the site, so pages need no network
TIER_MEANING = {
    "smoke": "tiny local models on a CPU, offline, as CI runs them; the full tier's real checkpoints give other numbers",
    "full": "the real Hugging Face checkpoints on a GPU",
}
MARKDOWN_BADGE = re.compile(r"\[!\[([^\]]*)\]\(" + re.escape(COLAB_BADGE) + r"\)\]\(([^)\s]+)\)")
RELATIVE_LINK = re.compile(r"\]\((?![a-z]+:|#)([^)\s]+)\)")


def status_note(page: CourseNotebook, repo: str) -> str:
    """The MyST note under a page's title: which tier produced the outputs, or why there are none; and its links."""
    deck = f"../slides/{deck_name(page.path)}"
    links = (
        f'<a href="https://github.com/{repo}/blob/main/{page.path}">Source on GitHub</a> · '
        f'<a href="{badge_url(page.path, repo)}">Open in Colab</a> · <a href="{deck}">Slides</a>'
    )
    if page.ok:
        tier = page.tier or "unknown"
        took = f" in {page.seconds:.0f} s" if page.seconds is not None else ""
        meaning = TIER_MEANING.get(tier, "")
        body = (
            f"The outputs on this page were produced by `make run` in the **{tier}** tier{took}"
            f"{' (' + meaning + ')' if meaning else ''}.\n\n{links}"
        )
        return f":::{{admonition}} Outputs from the {tier} tier\n:class: note course-run-status\n{body}\n:::"
    body = (
        f"This notebook's outputs are not shown: {markdown_text(page.detail)}. The code below is the current source, "
        f"not run.\n\n{links}"
    )
    title = "This notebook failed to execute" if page.status == "failed" else "Not executed"
    return f":::{{admonition}} {title}\n:class: error course-run-status\n{body}\n:::"


def page_notebook(page: CourseNotebook, repo: str) -> nbformat.NotebookNode:
    """The notebook as the site shows it: local badge, run-status note, solution cells collapsed."""
    notebook = copy.deepcopy(page.notebook)
    # Only an executed notebook records its language; the course's are all IPython (`!git`, `%pip` in the setup cell).
    notebook.metadata.setdefault("language_info", {"name": "python", "pygments_lexer": "ipython3"})
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(COLAB_BADGE, f"../{LOCAL_BADGE}")
        if is_solution(cell):  # MyST-NB shows its code folded under "Show code cell source", as Jupyter does
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), "hide-input"]
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(status_note(page, repo)))
    return notebook


def home_page(readme: str, pages: list[CourseNotebook], repo: str) -> str:
    """The README as the home page: local badges, other files linked on GitHub, and the sidebar in course order."""
    text = MARKDOWN_BADGE.sub(lambda m: f'<a href="{m[2]}"><img src="{LOCAL_BADGE}" alt="{m[1]}"/></a>', readme)
    notebooks = {page.path for page in pages}
    text = RELATIVE_LINK.sub(
        lambda m: m[0] if m[1] in notebooks else f"](https://github.com/{repo}/blob/main/{m[1]})", text
    )
    tiers = sorted({page.tier for page in pages if page.ok and page.tier})
    failed = [page.path for page in pages if not page.ok]
    note = f"The notebook pages of this site show the outputs of `make run` in the {' and '.join(tiers) or 'no'} tier."
    if failed:
        note += f" Shown without outputs, because they did not run: {', '.join(failed)}."
    modules: dict[str, list[str]] = {}
    for page in pages:
        modules.setdefault(page.path.split("/")[0], []).append(page.path.removesuffix(".ipynb"))
    toctrees = [
        f"```{{toctree}}\n:hidden:\n:caption: Module {int(module.removeprefix('module_'))}\n\n"
        + "\n".join(docs)
        + "\n```"
        for module, docs in modules.items()
    ]
    return "\n\n".join([text.rstrip(), f":::{{note}}\n{note}\n:::", *toctrees]) + "\n"


def stage(pages: list[CourseNotebook], repo: str) -> None:
    """Write the Sphinx sources into build/site-src/ (from scratch)."""
    shutil.rmtree(STAGE, ignore_errors=True)
    for page in pages:
        target = STAGE / page.path
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(page_notebook(page, repo), target)
    (STAGE / "index.md").write_text(home_page((ROOT / "README.md").read_text(), pages, repo))


def main() -> int:
    if not (SLIDES / "_vendor").is_dir():
        raise FileNotFoundError("build/slides/ is missing; run `make slides` first (`make site` does).")
    pages = load_course()
    repo = github_repo()
    stage(pages, repo)
    shutil.rmtree(SITE, ignore_errors=True)
    doctrees = BUILD / "site-doctrees"
    shutil.rmtree(doctrees, ignore_errors=True)
    # -W: a Sphinx warning (a broken reference, an unreadable cell) fails the build instead of shipping a broken page.
    options = ["-b", "html", "-q", "-W", "--keep-going", "-c", str(ROOT / "website"), "-d", str(doctrees)]
    code = build_main([*options, str(STAGE), str(SITE)])
    if code:
        return code
    mathjax_files(SITE / "_static" / "mathjax")
    shutil.copytree(SLIDES, SITE / "slides")
    for page in pages:
        print(f"site: {page.path}: {page.status}{' (' + page.detail + ')' if page.detail else ''}")
    print(f"site: open {(SITE / 'index.html').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
