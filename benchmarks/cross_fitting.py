"""Second-order leakage in the hirability analysis: cross-fitted attention against the run's out-of-fold attention.

A run's attention is out of fold for HireNet's own folds only: the attention slices of the *training*
candidates of hirability fold k come from HireNet models that were trained on fold k's labels (on the book
run the two fold assignments coincide). :func:`toolkit.stages.hirability` cross-fits by default: for each
fold k it trains HireNet again (the run's settings, one fold fewer) on the candidates outside fold k, whose
out-of-fold attention slices then train the models of fold k. This script computes the hirability AUC of
attention slices both ways on the book corpus (``cross_fit=False`` and the default), each model with fixed
hyper-parameters, writes the difference beside the bootstrap half-width of the AUC, and times the
cross-fitting from an empty stage cache.

Usage: python benchmarks/cross_fitting.py
Writes benchmarks/results/cross_fitting.md and cross_fitting.csv.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import toolkit as tk
from toolkit import _io

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = tk.hirability.MODELS


def main() -> int:
    with tempfile.TemporaryDirectory() as cache:
        os.environ["TOOLKIT_CACHE"] = cache  # every stage computed here, so the times are cold
        tic = time.perf_counter()
        corpus = tk.stages.simulate("book", seed=0)
        run = tk.stages.train(corpus, progress=False)
        setup_s = time.perf_counter() - tic
        fixed = dict(question=1, redraws=1, seed=0, tune=False, n_boot=1000, n_jobs=2)
        tic = time.perf_counter()
        leaky = tk.stages.hirability(corpus, run, cross_fit=False, **fixed)
        leaky_s = time.perf_counter() - tic
        tic = time.perf_counter()
        crossed = tk.stages.hirability(corpus, run, progress=True, **fixed)
        crossed_s = time.perf_counter() - tic

    def attention(result):
        return result.table[result.table["kind"] == "attention"].set_index("model").loc[list(MODELS)]

    a, b = attention(leaky), attention(crossed)
    table = pd.DataFrame({"model": list(MODELS), "auc_out_of_fold": a["auc"].to_numpy(),
                          "auc_cross_fitted": b["auc"].to_numpy(),
                          "difference": (b["auc"] - a["auc"]).to_numpy(),
                          "ci_half_width": ((a["ci_high"] - a["ci_low"]) / 2).to_numpy()})
    _io.write_csv(HERE / "results" / "cross_fitting.csv", table)
    largest = float(table["difference"].abs().max())
    half = float(table["ci_half_width"].min())
    lines = ["# Cross-fitted attention for hirability", "", "`python benchmarks/cross_fitting.py`", "",
             _machine.markdown(_machine.describe()), "",
             f"{corpus!r}; the book run (seed 0); attention slices of question 1; each model with fixed "
             f"hyper-parameters; {int(a['n_candidates'].iloc[0])} candidates.", "",
             "| model | AUC, the run's out-of-fold attention | AUC, cross-fitted attention | difference | "
             "95 % interval half-width |", "| --- | --- | --- | --- | --- |",
             *[f"| {r.model} | {r.auc_out_of_fold:.3f} | {r.auc_cross_fitted:.3f} | {r.difference:+.3f} | "
               f"{r.ci_half_width:.3f} |" for r in table.itertuples()], "",
             f"Largest difference {largest:.3f} AUC, against a smallest interval half-width of {half:.3f}: "
             + ("the leak is small beside the uncertainty of the AUC itself." if largest < half / 2 else
                "the leak is not negligible beside the uncertainty of the AUC, so the toolkit cross-fits."), "",
             "Times from an empty stage cache, 2 worker processes:", "",
             "| step | seconds |", "| --- | --- |",
             f"| simulate the corpus and train the run | {setup_s:.0f} |",
             f"| hirability without cross-fitting (slices, features, four models) | {leaky_s:.0f} |",
             f"| hirability with cross-fitting (five more trainings of HireNet on four folds each) | {crossed_s:.0f} |",
             ""]
    _io.write_text(HERE / "results" / "cross_fitting.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
