"""The book: its notebooks follow the skeleton, execute without error, and render in a browser."""
from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import shutil
import socketserver
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.md"))


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [c["file"] for c in part["chapters"]]
    return files


def test_every_toc_entry_exists():
    for entry in _toc_files():
        assert (ROOT / f"{entry}.md").exists(), f"_toc.yml names {entry} but {entry}.md does not exist"


def test_every_notebook_is_in_the_toc():
    listed = set(_toc_files())
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.stem}" in listed, f"{nb.name} is not in book/_toc.yml"


def test_no_ipynb_files_are_tracked():
    assert not list((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_follows_the_skeleton(path):
    text = path.read_text()
    assert text.startswith("---\njupytext:"), "MyST notebooks start with the jupytext header"
    assert re.search(r"^# \S", text, re.M), "a '# Title'"
    for heading in ("## Overview", "## Setup", "## Summary", "## What's next", "## Exercises"):
        assert re.search(rf"^{re.escape(heading)}\s*$", text, re.M), f"missing section {heading!r}"
    assert "In this notebook we" in text
    assert "import toolkit as tk" in text
    assert re.search(r":tags: \[.*solution.*\]", text), "exercises need a cell tagged 'solution'"
    for forbidden in ("sys.path", "pip install", "../data", "import *"):
        assert forbidden not in text, f"{forbidden!r} in a notebook"


def test_student_version_strips_solution_cells():
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_build", ROOT / "book" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for path in NOTEBOOKS:
        text = path.read_text()
        nb = build.strip_solutions(text)
        assert all("solution" not in c.metadata.get("tags", []) for c in nb.cells)
        assert "print(" not in "".join(c.source for c in nb.cells if c.source == build.ANSWER_CELL)
        n_solutions = len(re.findall(r":tags: \[[^\]]*solution", text))
        assert sum(c.source == build.ANSWER_CELL for c in nb.cells) == n_solutions > 0, path.name
        assert any(c.cell_type == "code" and c.source != build.ANSWER_CELL for c in nb.cells)


def test_solutions_are_collapsed_in_the_book():
    for path in NOTEBOOKS:
        for tags in re.findall(r":tags: \[([^\]]*)\]", path.read_text()):
            if "solution" in tags:
                assert "hide-cell" in tags, f"{path.name}: a solution cell is not collapsed (tag hide-cell)"


@pytest.mark.slow
@pytest.mark.book
def test_book_builds_and_every_page_has_its_figures(built_book):
    assert not list((built_book / "reports").glob("*.err.log")) if (built_book / "reports").exists() else True
    for entry in _toc_files():
        page = built_book / f"{entry}.html"
        assert page.exists(), f"{page} was not built"
        if entry.startswith("notebooks/"):
            html = page.read_text()
            images = re.findall(r'<img[^>]+src="([^"]+)"', html)
            assert images, f"{entry}: no figure rendered"
            for src in images:
                if not src.startswith(("http:", "https:", "data:")):
                    assert (page.parent / src).resolve().exists(), f"{entry}: missing image {src}"
            assert "Traceback (most recent call last)" not in html, f"{entry}: a traceback in the page"
            # every chapter offers its executed notebook, outputs included
            notebook = page.with_suffix(".ipynb")
            assert f'href="{notebook.name}" download' in html and notebook.exists(), f"{entry}: no .ipynb download"
            assert json.loads(notebook.read_text())["cells"], f"{entry}: empty notebook download"
    for html_file in built_book.rglob("*.html"):
        text = html_file.read_text(errors="replace")
        for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text):
            pytest.fail(f"{html_file.relative_to(built_book)} loads {url} from the network")


def test_a_changed_toolkit_or_setting_re_executes_the_notebooks(tmp_path, monkeypatch):
    """A new stamp drops both the notebook cache and Sphinx's record of read sources, so every page is
    re-executed (a smoke build followed by `make book` must not publish the smoke outputs)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("book_build_stamp", ROOT / "book" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    monkeypatch.setattr(build, "BOOK", tmp_path)
    monkeypatch.delenv("BOOK_NULL_REPLICATES", raising=False)

    def fill():
        for name in (".jupyter_cache", ".doctrees"):
            (tmp_path / "_build" / name).mkdir(parents=True, exist_ok=True)

    fill()
    build._invalidate_on_toolkit_change()  # first build: the stamp is written, nothing dropped
    assert (tmp_path / "_build" / ".doctrees").exists()
    build._invalidate_on_toolkit_change()  # nothing changed: nothing dropped
    assert (tmp_path / "_build" / ".jupyter_cache").exists() and (tmp_path / "_build" / ".doctrees").exists()
    monkeypatch.setenv("BOOK_NULL_REPLICATES", "3")  # a smoke build
    build._invalidate_on_toolkit_change()
    assert not (tmp_path / "_build" / ".jupyter_cache").exists() and not (tmp_path / "_build" / ".doctrees").exists()
    fill()
    monkeypatch.delenv("BOOK_NULL_REPLICATES")  # back to the full book
    build._invalidate_on_toolkit_change()
    assert not (tmp_path / "_build" / ".doctrees").exists()


def test_intro_opens_with_the_findings_at_a_glance(built_book):
    """The scorecard is computed when the book is built: one row per result, every verdict a known word."""
    html = (built_book / "book" / "intro.html").read_text()
    start = html.index('id="findings-at-a-glance"')
    table = html[start:html.index("</table>", start)]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]
    assert len(rows) == 5
    verdicts = {"survives", "does not survive", "not enough replicates", "not measured"}
    for row in rows:
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        assert len(cells) == 6 and cells[4] in verdicts, cells
        assert re.search(r"\d", cells[2]), f"no computed number in {cells}"
        assert "notebooks/" in row, "each row links to its chapter"


def test_each_chapter_with_a_result_opens_with_its_rows_of_the_findings(built_book):
    """Chapters 04-07 and 09 open with their own rows of the intro's table, the same cells."""
    intro = (built_book / "book" / "intro.html").read_text()
    start = intro.index('id="findings-at-a-glance"')
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", intro[start:intro.index("</table>", start)], re.S)[1:]

    def cells(row):
        return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]

    expected = {}
    for row in rows:
        c = cells(row)
        expected.setdefault(c[5], []).append(c[:5])
    assert sorted(expected) == ["04", "05", "06", "07", "09"]
    for chapter, want in expected.items():
        page = next((built_book / "notebooks").glob(f"{chapter}_*.html")).read_text()
        first = page.index("<table")
        assert page.index("findings at a glance") < first < page.index('id="overview"'), chapter
        got = [cells(r) for r in re.findall(r"<tr[^>]*>(.*?)</tr>", page[first:page.index("</table>", first)],
                                            re.S)[1:]]
        assert got == want, (chapter, got, want)


@contextlib.contextmanager
def _serve(folder: Path):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    with socketserver.TCPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


#: Lines that must not appear in a rendered cell output: library logs, warnings, machine paths.
_BAD_OUTPUT = re.compile(
    r"(?m)(\b(UserWarning|RuntimeWarning|FutureWarning|DeprecationWarning|ConvergenceWarning)\b"
    r"|^(WARNING|INFO|DEBUG|ERROR)[: ]|^[IWE]\d{4} \d\d:\d\d"
    r"|IProgress not found|(^|[\s'\"(])/(work|tmp|home|root|usr|var)/)")


WIDE = "content wider than its column: "


def _layout_problems(page) -> list[str]:
    """What a reader would see as broken on the page now shown in ``page``."""
    problems = []
    text = page.inner_text("main") if page.query_selector("main") else page.inner_text("body")
    for line in text.splitlines():
        if re.match(r"^\s*\|?\s*:?-{3,}:?\s*\|", line):
            problems.append(f"raw Markdown table text: {line.strip()[:60]!r}")
            break
    for output in page.eval_on_selector_all("div.cell_output", "els => els.map(e => e.innerText)"):
        found = _BAD_OUTPUT.search(output)
        if found and not (found.group(0).lstrip().startswith("/") and "/measurements" in page.url):
            # (the appendix shows benchmark files as recorded, commands with their output paths included)
            problems.append(f"log, warning or machine path in an output: {output[max(0, found.start() - 30):found.end() + 40]!r}")
    # Code cells scroll sideways like any notebook; what must fit is what a reader reads: display equations,
    # tables, diagrams and the text printed by the cells.
    wide = page.eval_on_selector_all(
        "main mjx-container[display='true'], main div.cell_output pre, main table, main div.cell_output table",
        """els => els.filter(e => {
               const box = e.closest('article') || e.closest('main');
               return e.scrollWidth > e.clientWidth + 2 || e.getBoundingClientRect().width > box.clientWidth + 2;
           }).map(e => e.tagName.toLowerCase() + ': ' + e.innerText.slice(0, 50))""")
    problems += [f"{WIDE}{w!r}" for w in wide]
    uncaptioned = page.eval_on_selector_all(
        "main div.cell_output img",
        """els => els.filter(e => !e.closest('details') && !(e.closest('figure') && e.closest('figure').querySelector('figcaption')))
                    .map(e => e.getAttribute('src'))""")
    problems += [f"figure without a number and caption: {src}" for src in uncaptioned]
    # a link that names a chapter must lead to that chapter's page
    for text, href in page.eval_on_selector_all(
            "main a[href]", "els => els.map(e => [e.innerText, e.getAttribute('href')])"):
        named = re.search(r"\b[Cc]hapters?\s+(\d\d)\b", text) or re.fullmatch(r"\s*(\d\d)\s*", text)
        page_name = Path(urlparse(href).path).name
        if named and re.match(r"\d\d_", page_name) and not page_name.startswith(named.group(1) + "_"):
            problems.append(f"chapter link {text.strip()!r} leads to {page_name}")
    return problems


@pytest.mark.slow
@pytest.mark.book
def test_book_in_a_headless_browser(built_book):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    from playwright.sync_api import sync_playwright

    shots = ROOT / "book" / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with _serve(built_book) as base, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        visited, links, wide = set(), set(), []
        for entry in _toc_files():
            url = urljoin(base, f"{entry}.html")
            errors.clear()
            response = page.goto(url, wait_until="load")
            if response is None or response.status != 200:
                problems.append(f"{entry}: page missing ({response.status if response else 'no response'})")
                continue
            page.wait_for_timeout(300)
            layout = _layout_problems(page)
            problems += [f"{entry}: {p}" for p in layout if not p.startswith(WIDE)]
            wide += [f"{entry}: {p}" for p in layout if p.startswith(WIDE)]
            broken_images = page.eval_on_selector_all(
                "img", "els => els.filter(e => !e.complete || e.naturalWidth === 0).map(e => e.src)")
            problems += [f"{entry}: image not shown {src}" for src in broken_images]
            problems += [f"{entry}: {e}" for e in errors if urlparse(e.split(": ", 1)[-1]).hostname in (None, "127.0.0.1")
                         or e.startswith(("console", "page error"))]
            for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
                if href.startswith(base):
                    links.add(href.split("#")[0])
            visited.add(url)
            if entry in ("book/intro", "notebooks/03_training_hirenet", "notebooks/05_attention_vs_random",
                         "notebooks/09_null_controls"):
                page.screenshot(path=str(shots / f"{Path(entry).name}.png"), full_page=False)
        for link in sorted(links - visited):
            if urlparse(link).path.endswith((".html", "/")):
                response = page.goto(link, wait_until="load")
                status = response.status if response is not None else None
            else:  # a download (the chapters' .ipynb, a source file): fetched, not opened as a page
                status = page.request.get(link).status
            if status != 200:
                problems.append(f"broken internal link: {link}")
        browser.close()
    # wide content is kept as a build artefact and checked by its own test (below)
    (shots / "wide-content.txt").write_text("".join(f"{w}\n" for w in wide))
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.book
def test_book_content_fits_its_column(built_book):
    """No table, display equation or printed output wider than its column (the browser test lists them)."""
    report = ROOT / "book" / "_build" / "screenshots" / "wide-content.txt"
    if not report.exists():
        pytest.skip("the browser test did not run")
    wide = report.read_text().splitlines()
    assert not wide, "\n".join(wide)


def test_every_exercise_has_a_difficulty_mark():
    for path in NOTEBOOKS:
        text = path.read_text()
        exercises = text[text.index("## Exercises"):]
        exercises = exercises[:exercises.index("```")]
        items = re.findall(r"(?m)^\d\. .*", exercises)
        assert items, f"{path.name}: no exercise"
        for item in items:
            assert re.match(r"\d\. \((★ easy|★★ medium|★★★ hard)\) ", item), f"{path.name}: no difficulty mark: {item}"
