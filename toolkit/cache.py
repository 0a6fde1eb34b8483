"""Stage cache: a stage's output folder is reused when its key (inputs, parameters, code) is unchanged.

A stage writes its outputs into a folder, then :func:`mark` writes the key last. A later call
with the same key finds :func:`is_fresh` true and loads instead of recomputing. Editing a toolkit
module that the stage depends on changes :func:`code_version` and so the key.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd

from . import _io

_KEY_FILE = ".stage-key"


def fingerprint(obj) -> str:
    """A short, stable hash of JSON-like data, arrays or tables (16 hex digits)."""
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()[:16]


def _feed(h, obj) -> None:
    if isinstance(obj, pd.DataFrame):
        h.update(json.dumps([str(c) for c in obj.columns]).encode())
        h.update(pd.util.hash_pandas_object(obj, index=False).to_numpy().tobytes())
    elif isinstance(obj, pd.Series):
        h.update(pd.util.hash_pandas_object(obj, index=False).to_numpy().tobytes())
    elif isinstance(obj, np.ndarray):
        h.update(str(obj.dtype).encode() + str(obj.shape).encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            h.update(str(k).encode() + b"\0")
            _feed(h, obj[k])
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _feed(h, item)
            h.update(b"\1")
    else:
        h.update(json.dumps(obj, sort_keys=True, default=str).encode())


def code_version(*modules: str) -> str:
    """Hash of the source of the given toolkit modules (e.g. ``"hirenet", "slices"``)."""
    h = hashlib.sha256()
    for name in sorted(modules):
        module = importlib.import_module(name if name.startswith("toolkit") else f"toolkit.{name}")
        h.update(inspect.getsource(module).encode())
    return h.hexdigest()[:16]


def corpus_fingerprint(corpus) -> str:
    """Fingerprint of a corpus's content (manifest, frames, episodes)."""
    cached = corpus.__dict__.get("_fingerprint")
    if cached is not None and cached[0] is corpus.frames:
        return cached[1]
    value = fingerprint([corpus.manifest, corpus.frames, corpus.episodes if corpus.episodes is not None else 0])
    corpus.__dict__["_fingerprint"] = (corpus.frames, value)
    return value


def is_fresh(folder: str | Path, key: str) -> bool:
    """True when ``folder`` holds a complete stage output made with ``key``."""
    marker = Path(folder) / _KEY_FILE
    return marker.exists() and marker.read_text().strip() == key


def mark(folder: str | Path, key: str) -> None:
    """Record that ``folder`` now holds the complete output for ``key`` (call last)."""
    _io.write_text(Path(folder) / _KEY_FILE, key + "\n")


def invalidate(folder: str | Path) -> None:
    """Forget a stage output (its files stay until overwritten)."""
    marker = Path(folder) / _KEY_FILE
    if marker.exists():
        marker.unlink()
