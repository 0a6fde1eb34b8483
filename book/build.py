"""Build the book (``make book``) and its student version (``make book-student``).

``python book/build.py html``
    Execute every notebook (cached by jupyter-cache: an unchanged notebook is not re-run) and
    build the HTML book into ``book/_build/html``. Any cell error, or any Sphinx warning, fails
    the build with a non-zero exit.
``python book/build.py student``
    Write the exercise version of every notebook (each cell tagged ``solution`` replaced by an
    empty answer cell) to ``book/_student/`` as MyST ``.md`` notebooks; no book build needed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


#: Environment variables the chapters read (a smoke build of the null study, see ``.ci/run``): a change
#: re-executes the notebooks, as an edited toolkit module does.
BOOK_SETTINGS = ("BOOK_NULL_REPLICATES",)


def _toolkit_stamp() -> str:
    """A hash of the toolkit's sources and of the book's settings: a change re-executes the notebooks."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted((ROOT / "toolkit").rglob("*.py")):
        h.update(path.relative_to(ROOT).as_posix().encode())
        h.update(path.read_bytes())
    for name in BOOK_SETTINGS:
        h.update(f"{name}={os.environ.get(name, '')}".encode())
    return h.hexdigest()[:16]


def _invalidate_on_toolkit_change() -> None:
    # jupyter-cache keys a notebook on its code cells only. The stage cache of the toolkit
    # already recomputes what an edited module changes; here the notebook cache is dropped
    # too, so that the pages show the new results.
    stamp_file = BOOK / "_build" / ".toolkit-stamp"
    stamp = _toolkit_stamp()
    if stamp_file.exists() and stamp_file.read_text() != stamp:
        import shutil

        # the notebook cache, and Sphinx's record of what it has read: without the second, Sphinx sees no
        # changed source, reads (and executes) nothing, and the pages keep the old outputs
        for name in (".jupyter_cache", ".doctrees"):
            shutil.rmtree(BOOK / "_build" / name, ignore_errors=True)
        print("toolkit or book settings changed since the last build: notebooks re-executed", flush=True)
    stamp_file.parent.mkdir(parents=True, exist_ok=True)
    stamp_file.write_text(stamp)


def build_html(strict: bool = True) -> int:
    """Execute the notebooks and build the HTML book; return the exit status."""
    _invalidate_on_toolkit_change()
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT),
        "--config", str(BOOK / "_config.yml"), "--toc", str(BOOK / "_toc.yml"),
        "--path-output", str(BOOK),
    ]
    if strict:
        cmd += ["-W", "--keep-going"]
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel needs its inline backend
    env["PYTHONHASHSEED"] = "0"
    start = time.perf_counter()
    status = subprocess.call(cmd, cwd=ROOT, env=env)
    elapsed = time.perf_counter() - start
    reports = BOOK / "_build" / "html" / "reports"
    if reports.is_dir():
        for log in sorted(reports.rglob("*.err.log")):
            print(f"--- cell error report: {log.relative_to(ROOT)}", file=sys.stderr)
            print(log.read_text()[-4000:], file=sys.stderr)
    print(f"book build {'succeeded' if status == 0 else 'FAILED'} in {elapsed:.0f} s "
          f"-> {BOOK / '_build' / 'html' / 'index.html'}", flush=True)
    (BOOK / "_build").mkdir(exist_ok=True)
    (BOOK / "_build" / "last-build.json").write_text(json.dumps({"status": status, "seconds": round(elapsed, 1)}))
    return status


#: What a student finds where a solution was.
ANSWER_CELL = "# Your answer here"


def strip_solutions(text: str):
    """Return the notebook (jupytext MyST text) with every cell tagged ``solution`` replaced by an empty
    answer cell (a code cell holding only :data:`ANSWER_CELL`)."""
    import jupytext
    from nbformat.v4 import new_code_cell

    nb = jupytext.reads(text, fmt="md:myst")
    cells = []
    for cell in nb.cells:
        if "solution" in cell.get("metadata", {}).get("tags", []):
            cells.append(new_code_cell(ANSWER_CELL))
        else:
            cells.append(cell)
    nb.cells = cells
    return nb


def build_student() -> int:
    """Write the student version of every notebook (solutions replaced by answer cells) to book/_student.

    Needs no book build: it only rewrites the chapters' text, as MyST ``.md`` notebooks (one format, the
    chapters' own; they open as notebooks in ``make lab``).
    """
    import jupytext

    out = BOOK / "_student"
    out.mkdir(parents=True, exist_ok=True)
    n_replaced = 0
    for path in sorted((ROOT / "notebooks").glob("*.md")):
        text = path.read_text()
        nb = strip_solutions(text)
        n_replaced += sum(c.source == ANSWER_CELL for c in nb.cells)
        jupytext.write(nb, out / path.name, fmt="md:myst")
    print(f"student notebooks in {out} ({n_replaced} solution cells replaced by answer cells)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python book/build.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=["html", "student"])
    parser.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    args = parser.parse_args(argv)
    if args.target == "html":
        return build_html(strict=not args.no_strict)
    return build_student()


if __name__ == "__main__":
    sys.exit(main())
