"""The one caching mechanism of the toolkit: :func:`stage`.

Every step of the pipeline (simulate, train, slices, slice features, attention vs random,
importances, recovery, hirability, tests, controls, studies) is a function decorated with
:func:`stage`. A call is keyed by

- the stage's name,
- *every* argument, defaults included (bound with :func:`inspect.signature`, so a parameter
  can never be left out of the key), inputs entering by their fingerprint (a corpus by its
  content, a table by its values, a run or a slice set by the key that made it),
- the source code the stage runs: the module that defines the stages (the wiring), the modules
  the stage names and every toolkit module they import, transitively.

The output lives in ``cache_dir()/<stage>/<key>/``, written into a temporary folder that is
renamed into place when complete, so an interrupted computation never leaves a half-written
entry and a later call with the same key loads instead of recomputing. Changing one parameter
gives another key and recomputes; nothing is ever invalidated by hand. The cache folder is
``$TOOLKIT_CACHE``, else ``toolkit.datasets.data_dir()/cache``; deleting it is always safe.

Results are saved by type: a DataFrame as parquet, a dict of JSON values or DataFrames, or any
object with a ``save(folder)`` method and a ``load(folder)`` class method (corpora, runs, slice
sets, explanations, hirability results). What a call returns is always what a later call loads,
so the first computation and every cached one give identical objects.
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import importlib
import inspect
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import _io

__all__ = ["stage", "cache_dir", "fingerprint", "code_version", "corpus_fingerprint", "stored_key", "store_key",
           "Stage"]

_KEY_FILE = ".stage-key"
_KIND_FILE = ".stage-kind.json"
_PACKAGE = __name__.rsplit(".", 1)[0]


def cache_dir() -> Path:
    """The folder of the stage cache: ``$TOOLKIT_CACHE``, else ``data_dir()/cache``."""
    env = os.environ.get("TOOLKIT_CACHE")
    if env:
        return Path(env)
    from .datasets import data_dir

    return data_dir() / "cache"


# --------------------------------------------------------------------------- fingerprints

def fingerprint(obj) -> str:
    """A short, stable hash of JSON-like data, arrays, tables and toolkit objects (16 hex digits)."""
    h = hashlib.sha256()
    _feed(h, obj)
    return h.hexdigest()[:16]


def _feed(h, obj) -> None:
    token = getattr(obj, "fingerprint", None)
    if isinstance(token, str):  # runs, slice sets, ...: the key that made them
        h.update(b"fp:" + token.encode())
    elif type(obj).__name__ == "Corpus" and hasattr(obj, "frames"):
        h.update(b"corpus:" + corpus_fingerprint(obj).encode())
    elif isinstance(obj, pd.DataFrame):
        h.update(json.dumps([str(c) for c in obj.columns]).encode())
        h.update(json.dumps([str(t) for t in obj.dtypes]).encode())
        h.update(pd.util.hash_pandas_object(obj, index=False).to_numpy().tobytes())
    elif isinstance(obj, pd.Series):
        h.update(pd.util.hash_pandas_object(obj, index=False).to_numpy().tobytes())
    elif isinstance(obj, np.ndarray):
        h.update(str(obj.dtype).encode() + str(obj.shape).encode())
        h.update(np.ascontiguousarray(obj).tobytes())
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(type(obj).__name__.encode())
        _feed(h, {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    elif isinstance(obj, dict):
        for k in sorted(obj, key=str):
            h.update(str(k).encode() + b"\0")
            _feed(h, obj[k])
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _feed(h, item)
            h.update(b"\1")
    elif isinstance(obj, (str, int, float, bool, type(None), np.generic)):
        h.update(json.dumps(obj.item() if isinstance(obj, np.generic) else obj).encode())
    elif isinstance(obj, Path):
        h.update(b"path:" + str(obj).encode())
    else:
        raise TypeError(f"cannot fingerprint a {type(obj).__name__}: give the stage plain values, tables or "
                        f"toolkit objects")


def corpus_fingerprint(corpus) -> str:
    """Fingerprint of a corpus's content (manifest, frames, episodes, audio); computed once per object."""
    cached = corpus.__dict__.get("_fingerprint")
    if cached is not None and cached[0] is corpus.frames:
        return cached[1]
    parts = [corpus.manifest, corpus.frames, corpus.episodes if corpus.episodes is not None else 0]
    audio = getattr(corpus, "audio", None)
    if audio is not None:
        parts.append(audio)
    value = fingerprint(parts)
    corpus.__dict__["_fingerprint"] = (corpus.frames, value)
    return value


# --------------------------------------------------------------------------- code versions

@functools.lru_cache(maxsize=None)
def _imports(module: str) -> frozenset[str]:
    """The toolkit modules that ``module``'s source imports anywhere (module level or inside functions)."""
    source = inspect.getsource(importlib.import_module(module))
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.rsplit(".", node.level)[0] if node.level else ""
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if not target.startswith(_PACKAGE):
                continue
            if target == _PACKAGE:  # from . import a, b
                found |= {f"{_PACKAGE}.{alias.name}" for alias in node.names}
            else:
                found.add(target)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith(_PACKAGE + ".")}
    return frozenset(m for m in found if importlib.util.find_spec(m) is not None)


#: Modules that cannot change a stage's result (plumbing, file locations, figures, the command line):
#: their code is not part of any key, and their imports are not followed.
_NOT_RESULTS = frozenset(f"{_PACKAGE}.{m}" for m in ("__main__", "cli", "cache", "datasets", "_io", "plots", "report",
                                                      "pipeline"))


def _closure(modules) -> list[str]:
    todo = [m if m.startswith(_PACKAGE) else f"{_PACKAGE}.{m}" for m in modules]
    seen: set[str] = set()
    while todo:
        m = todo.pop()
        if m in seen or m in _NOT_RESULTS:
            continue
        seen.add(m)
        todo.extend(_imports(m) - seen)
    return sorted(seen)


def code_version(*modules: str) -> str:
    """Hash of the source of the given toolkit modules and of every toolkit module they import."""
    h = hashlib.sha256()
    for name in _closure(modules):
        h.update(name.encode() + b"\0" + inspect.getsource(importlib.import_module(name)).encode())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- saving and loading

def _save(result, folder: Path) -> dict:
    if isinstance(result, pd.DataFrame):
        _io.write_parquet(folder / "table.parquet", result)
        return {"kind": "table"}
    if isinstance(result, dict) and all(isinstance(v, pd.DataFrame) for v in result.values()):
        for i, (name, table) in enumerate(result.items()):
            _io.write_parquet(folder / f"table{i}.parquet", table)
        return {"kind": "tables", "names": list(result)}
    if isinstance(result, dict):
        _io.write_json(folder / "values.json", result)
        return {"kind": "values"}
    if hasattr(result, "save") and hasattr(type(result), "load"):
        result.save(folder)
        cls = type(result)
        return {"kind": "object", "class": f"{cls.__module__}:{cls.__qualname__}"}
    raise TypeError(f"a stage cannot save a {type(result).__name__}")


def _load(folder: Path, kind: dict):
    if kind["kind"] == "table":
        return pd.read_parquet(folder / "table.parquet")
    if kind["kind"] == "tables":
        return {name: pd.read_parquet(folder / f"table{i}.parquet") for i, name in enumerate(kind["names"])}
    if kind["kind"] == "values":
        return json.loads((folder / "values.json").read_text())
    module, qualname = kind["class"].split(":")
    cls = importlib.import_module(module)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    return cls.load(folder)


# --------------------------------------------------------------------------- the decorator

def stored_key(folder) -> str | None:
    """The key recorded in ``folder`` (a stage entry, or a run folder saved from one), or None."""
    marker = Path(folder) / _KEY_FILE
    return marker.read_text().strip() if marker.exists() else None


def store_key(folder, key: str) -> None:
    """Record ``key`` in ``folder`` (written last: a folder with its key is complete)."""
    _io.write_text(Path(folder) / _KEY_FILE, key + "\n")


def _complete(folder: Path, key: str) -> bool:
    """True when ``folder`` holds a finished entry for ``key``."""
    return stored_key(folder) == key


class Stage:
    """A cached stage function (made by :func:`stage`); call it like the function it wraps.

    Attributes
    ----------
    name : str
    compute : callable
        The function itself, uncached (for studies that run thousands of tiny replicates in memory).
    """

    def __init__(self, fn, name: str, uses: tuple[str, ...], ignore: tuple[str, ...], folder_arg: str | None):
        functools.update_wrapper(self, fn)
        self.compute = fn
        self.name = name
        self.uses = uses
        self.ignore = ignore
        self.folder_arg = folder_arg
        self._signature = inspect.signature(fn)
        # the whole module that wires the stages: a stage that calls another one is keyed by its wiring too
        self._source = inspect.getsource(inspect.getmodule(fn))

    def key(self, *args, **kwargs) -> str:
        """The cache key of a call with these arguments."""
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        params = {k: v for k, v in bound.arguments.items() if k not in self.ignore and k != self.folder_arg}
        if "kwargs" in params and isinstance(params["kwargs"], dict):
            params.update(params.pop("kwargs"))
        return fingerprint({"stage": self.name, "params": params, "code": code_version(*self.uses),
                            "wiring": self._source})

    def folder(self, *args, **kwargs) -> Path:
        """Where a call with these arguments is (or would be) cached."""
        return cache_dir() / self.name / self.key(*args, **kwargs)

    def cached(self, *args, **kwargs) -> bool:
        """Whether a call with these arguments would load its result (nothing is computed)."""
        key = self.key(*args, **kwargs)
        return _complete(cache_dir() / self.name / key, key)

    def __call__(self, *args, **kwargs):
        key = self.key(*args, **kwargs)
        folder = cache_dir() / self.name / key
        if _complete(folder, key):
            return _load(folder, json.loads((folder / _KIND_FILE).read_text()))
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=folder.parent))
        try:
            if self.folder_arg:
                kwargs[self.folder_arg] = tmp
            result = self.compute(*args, **kwargs)
            kind = _save(result, tmp)
            _io.write_json(tmp / _KIND_FILE, kind)
            store_key(tmp, key)
            if folder.exists() and not _complete(folder, key):  # an interrupted entry: ours replaces it
                shutil.rmtree(folder, ignore_errors=True)
            try:
                os.replace(tmp, folder)
            except OSError:
                if not _complete(folder, key):  # not another process's finished entry: a real failure
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another process finished the same entry first
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return _load(folder, json.loads((folder / _KIND_FILE).read_text()))

    def __repr__(self) -> str:
        return f"<stage {self.name}>"


def stage(name: str, uses: tuple[str, ...] = (), ignore: tuple[str, ...] = ("progress",),
          folder_arg: str | None = None):
    """Make a function a cached stage (see the module docstring).

    Parameters
    ----------
    name : str
        The stage's name (its folder under :func:`cache_dir`).
    uses : tuple of str
        The toolkit modules whose code the stage runs (their imports are followed).
    ignore : tuple of str
        Parameters that cannot change the result (progress bars, thread counts).
    folder_arg : str, optional
        A parameter through which the stage receives the folder to write its output into (for
        outputs that are folders, such as a corpus or a run); it is not part of the key.
    """
    def decorate(fn):
        return Stage(fn, name, tuple(uses), tuple(ignore), folder_arg)
    return decorate
