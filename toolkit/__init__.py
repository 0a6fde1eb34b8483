"""Attention-slices toolkit: key moments in asynchronous video job interviews.

Use it as ``import toolkit as tk``; :mod:`toolkit.stages` holds the stages of the pipeline, each
one cached::

    corpus = tk.stages.simulate("book", seed=0)   # the simulated corpus of the book
    run = tk.stages.train(corpus)                 # HireNet, out-of-fold attention
    tk.pipeline.run(corpus, "runs/demo")          # every stage, written as a run folder
"""
from __future__ import annotations

__version__ = "0.1.0"

import importlib

_SUBMODULES = (
    "audio", "cache", "calibration", "classify", "cli", "controls", "corpus", "datasets", "extract", "fairness",
    "folds", "hirability",
    "importances", "importers", "modalities", "model", "models", "moments", "pipeline", "plots", "questions",
    "recovery", "report", "runs", "salience", "scorecard", "simulate", "slices", "stages", "stats", "training",
    "vocabulary",
)


def __getattr__(name):
    # Submodules load on first use so ``import toolkit`` stays fast (torch, mediapipe are heavy).
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'toolkit' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
