"""Book build times: cold (no notebook cache, no stage cache) and a rebuild with nothing changed.

Command: ``.venv/bin/python benchmarks/bench_book.py`` (from the repository root). Writes
``benchmarks/results/book.json`` and ``book.md``. The cold build removes ``book/_build`` and the
generated corpora, runs and caches of ``data/`` (the model file stays), so the cold build runs every notebook
from nothing: the sample videos' extraction, every training and chapter 09's full null study (19 replicates
of every reference, 5 trained seeds; ``BOOK_NULL_REPLICATES`` unset). Target: 20 minutes on 2 cores; a
rebuild with nothing changed, under a minute. Setting up the environment (``make setup``) is not counted.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _build() -> float:
    start = time.perf_counter()
    status = subprocess.call([sys.executable, "book/build.py", "html"], cwd=ROOT)
    if status != 0:
        raise SystemExit(f"book build failed (exit {status})")
    return time.perf_counter() - start


def main() -> None:
    import os

    if os.environ.get("BOOK_NULL_REPLICATES"):
        raise SystemExit("unset BOOK_NULL_REPLICATES: this benchmark times the full book")
    for path in (ROOT / "book" / "_build", ROOT / "data" / "corpora", ROOT / "data" / "runs", ROOT / "data" / "cache"):
        shutil.rmtree(path, ignore_errors=True)
    cold = _build()
    cached = _build()
    pages = len(list((ROOT / "book" / "_build" / "html").rglob("*.html")))
    info = _machine.describe()
    result = {"cold_s": round(cold, 1), "cached_s": round(cached, 1), "html_pages": pages, "machine": info,
              "command": "python benchmarks/bench_book.py"}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "book.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "book.md").write_text(
        "| build | time (s) | target |\n| --- | --- | --- |\n"
        f"| cold (no caches: every notebook, the full null study) | {cold:.0f} | < 1200 |\n"
        f"| rebuild, nothing changed | {cached:.0f} | < 60 |\n\n"
        f"{pages} HTML pages. Command: `python benchmarks/bench_book.py` (setting up the environment not counted). "
        f"{_machine.markdown(info)}\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
