"""Shared fixtures: a built book (once per session), a corpus of planted bursts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the book once (notebooks executed through the cache) and return its HTML folder."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    status = subprocess.call([sys.executable, str(ROOT / "book" / "build.py"), "html"], cwd=ROOT, env=env)
    html = ROOT / "book" / "_build" / "html"
    if status != 0:
        pytest.fail(f"the book build failed (exit {status}); see the cell error reports above")
    last = json.loads((ROOT / "book" / "_build" / "last-build.json").read_text())
    assert last["status"] == 0
    return html


@pytest.fixture(scope="module")
def burst():
    """A corpus of 40 answers with one AU45 burst each, and the bursts' times (:mod:`slice_cases`)."""
    from slice_cases import burst_corpus

    return burst_corpus()
