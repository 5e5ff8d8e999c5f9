"""The built website and slide decks in a real browser (Debian's headless Chromium, driven by Playwright).

Every site page loads with no console error and no request leaving this machine; every image loads and every internal
link (with its #fragment) resolves; each notebook page shows as many figures as its executed notebook has image/png
outputs, says which tier produced them, links its source and Colab, and keeps solutions collapsed. Every deck opens
from its folder (file://) with reveal.js and MathJax running offline and no solution cell. Screenshots go to
build/screenshots/. Run with `make site-test` (it builds the slides and the site first).
"""

from __future__ import annotations

import functools
import re
import shutil
import sys
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from course_outputs import REPORT, is_solution, load_course  # noqa: E402
from make_slides import deck_name  # noqa: E402
from set_repo import badge_url, github_repo  # noqa: E402

SITE = ROOT / "build" / "site"
SLIDES = ROOT / "build" / "slides"
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MATH = re.compile(r"\$[^$\n]+\$")

if not (SITE / "index.html").is_file() or not REPORT.is_file():
    pytest.exit("build/site/ is missing: run `make site-test`, which builds the slides and the site first.", 2)
if not CHROMIUM.is_file():
    pytest.exit(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium).", 2)


def png_outputs(notebook, skip_solutions: bool = False) -> int:
    """How many image/png outputs a notebook's code cells hold."""
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code" and not (skip_solutions and is_solution(cell))
        for output in cell.get("outputs", [])
    )


PAGES = load_course()
SHOWCASE = next((p for p in PAGES if p.ok and png_outputs(p.notebook)), None)  # the page the screenshots show
EXTERNAL_REQUESTS: list[str] = []
SITE_PAGES = sorted(  # Sphinx's pages; _static holds the theme's template fragments, slides/ the decks
    path.relative_to(SITE).as_posix()
    for path in SITE.rglob("*.html")
    if path.relative_to(SITE).parts[0] not in ("_static", "slides")
)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's signature)
        pass


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name in ("id", "name") and value)


@functools.cache
def ids_in(path: Path) -> frozenset[str]:
    """The element ids (and anchor names) of an HTML file: the fragments a link into it may target."""
    parser = _Ids()
    parser.feed(path.read_text(errors="replace"))
    return frozenset(parser.ids)


@pytest.fixture(scope="module")
def server():
    """The site over HTTP on 127.0.0.1 (a free port), as GitHub Pages serves it."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(SITE)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory, server):
    """Debian's Chromium with a fresh profile; requests that would leave this machine are refused and recorded."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 860},
        )

        def route(route):
            if route.request.url.startswith((server, "file:")):
                return route.continue_()
            EXTERNAL_REQUESTS.append(route.request.url)
            return route.abort()

        context.route("**/*", route)
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)
        SCREENSHOTS.mkdir(parents=True)
        yield context
        context.close()


def open_page(context, url: str):
    """Open url; return the page and the errors it raised: console errors, uncaught exceptions, failed requests."""
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"exception: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    before = len(EXTERNAL_REQUESTS)
    page.goto(url, wait_until="load")
    page.evaluate(
        """() => Promise.all([...document.images].map(img => { img.loading = "eager";
             return img.complete ? null : new Promise(done => { img.onload = img.onerror = done; }); }))"""
    )
    page.evaluate("() => window.MathJax?.startup?.promise")
    errors += [f"request to {url}, which leaves this machine" for url in EXTERNAL_REQUESTS[before:]]
    return page, errors


def broken_images(page) -> list[str]:
    return page.evaluate("() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")


def course_page(page_path: str):
    return next(p for p in PAGES if p.path.removesuffix(".ipynb") + ".html" == page_path)


@pytest.mark.parametrize("page_path", SITE_PAGES)
def test_site_page_loads_with_working_images_and_links(browser, server, page_path):
    page, errors = open_page(browser, f"{server}/{page_path}")
    assert not errors, f"{page_path}: {errors}"
    assert not broken_images(page), f"{page_path}: images that did not load: {broken_images(page)}"
    links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    for link in {link for link in links if link.startswith(server + "/")}:
        parts = urlsplit(link)
        target = SITE / unquote(parts.path).lstrip("/")
        target = target / "index.html" if target.is_dir() else target
        assert target.is_file(), f"{page_path}: link to missing {parts.path}"
        if parts.fragment and target.suffix == ".html":
            assert unquote(parts.fragment) in ids_in(target), f"{page_path}: link to missing #{parts.fragment}"
    page.close()


def test_every_notebook_has_a_page_and_the_sidebar_follows_the_course(browser, server):
    assert {p.path.removesuffix(".ipynb") + ".html" for p in PAGES} <= set(SITE_PAGES)
    page, errors = open_page(browser, f"{server}/index.html")
    sidebar = page.evaluate(
        "() => [...document.querySelectorAll('nav.bd-docs-nav a.reference.internal')].map(a => a.getAttribute('href'))"
    )
    notebooks = [href for href in sidebar if href.startswith("module_")]
    assert notebooks == [p.path.removesuffix(".ipynb") + ".html" for p in PAGES]
    table = page.evaluate("() => [...document.querySelectorAll('table a.reference.internal')].map(a => a.href)")
    assert len(table) == len(PAGES), "the home page's course table should link every notebook page"
    page.screenshot(path=SCREENSHOTS / "site-home.png")
    page.locator("table").first.evaluate("table => table.scrollIntoView({block: 'start'})")
    page.screenshot(path=SCREENSHOTS / "site-home-table.png")
    page.close()


@pytest.mark.parametrize("course", PAGES, ids=lambda p: p.path)
def test_notebook_page_shows_its_run(browser, server, course):
    page, errors = open_page(browser, f"{server}/{course.path.removesuffix('.ipynb')}.html")
    figures = page.locator(".cell_output img").count()
    assert figures == (png_outputs(course.notebook) if course.ok else 0), f"{course.path}: figures on the page"
    status = page.locator(".course-run-status")
    assert status.count() == 1
    expected = f"{course.tier} tier" if course.ok else course.detail
    assert expected in status.inner_text(), f"{course.path}: the run status should say {expected!r}"
    repo = github_repo()
    assert page.locator(f'a[href="https://github.com/{repo}/blob/main/{course.path}"]').count() >= 1
    assert page.locator(f'a[href="{badge_url(course.path, repo)}"]').count() >= 1
    solutions = [c for c in course.notebook.cells if is_solution(c)]
    collapsed = page.locator("details.hide.above-input")
    assert collapsed.count() == len(solutions) > 0, f"{course.path}: every solution cell collapsed"
    for i in range(collapsed.count()):
        assert not collapsed.nth(i).evaluate("d => d.open")
        assert not collapsed.nth(i).locator("pre").first.is_visible(), f"{course.path}: a solution is visible"
    if any(MATH.search(c.source) for c in course.notebook.cells if c.cell_type == "markdown"):
        assert page.locator("mjx-container").count() > 0, f"{course.path}: formulas were not typeset"
    if course is SHOWCASE:
        status.evaluate("note => note.scrollIntoView({block: 'center'})")
        page.screenshot(path=SCREENSHOTS / "site-page.png")
        page.locator(".cell_output img").first.scroll_into_view_if_needed()
        page.screenshot(path=SCREENSHOTS / "site-page-figure.png")
    page.close()


@pytest.mark.parametrize("course", PAGES, ids=lambda p: p.path)
def test_slide_deck_presents_offline_without_solutions(browser, course):
    deck = SLIDES / deck_name(course.path)
    page, errors = open_page(browser, deck.as_uri())
    page.wait_for_function("() => window.Reveal && Reveal.isReady()")
    assert not errors, f"{deck.name}: {errors}"
    assert page.evaluate("() => Reveal.getTotalSlides()") > 1
    assert not broken_images(page), f"{deck.name}: images that did not load"
    figures = page.locator(".jp-OutputArea-output img").count()
    assert figures == (png_outputs(course.notebook, skip_solutions=True) if course.ok else 0)
    code_cells = [c for c in course.notebook.cells if c.cell_type == "code" and not is_solution(c)]
    assert page.locator(".jp-CodeCell").count() == len(code_cells), f"{deck.name}: solution cells left in"
    if any(MATH.search(c.source) for c in course.notebook.cells if c.cell_type == "markdown"):
        assert page.locator("mjx-container").count() > 0, f"{deck.name}: formulas were not typeset"
    for _ in range(3):
        page.evaluate("() => Reveal.next()")
    assert not errors, f"{deck.name}: {errors}"
    if course is SHOWCASE:
        shown = page.locator(".jp-OutputArea-output img").first
        index = shown.evaluate("img => Reveal.getIndices(img.closest('section'))")
        page.evaluate(f"() => Reveal.slide({index['h']}, {index.get('v') or 0})")
        page.wait_for_timeout(1000)  # the slide transition
        shown.evaluate("img => img.scrollIntoView({block: 'center'})")  # a tall slide scrolls to its figure
        page.screenshot(path=SCREENSHOTS / "slides.png")
    page.close()


def test_the_executed_notebooks_have_figures():
    """Figures reach the pages only when `make run` ran kernels with the inline matplotlib backend."""
    assert sum(png_outputs(p.notebook) for p in PAGES if p.ok) > 0, "no image/png output in any executed notebook"
