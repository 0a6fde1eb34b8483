"""Second-order leakage in the hirability analysis: cross-fitted attention against the usual out-of-fold attention.

Chapter 07 scores every candidate out of fold, but the attention slices of the *training* candidates of
hirability fold k come from HireNet models that were themselves trained on fold k's labels (on the book
run the two fold assignments coincide). Cross-fitting removes that: for fold k, HireNet is trained again on
the other folds only (an inner cross-validation gives those candidates out-of-fold attention from models
that never saw fold k), and fold k's own candidates keep the attention of the run's model k, which never
saw them. This script computes the hirability AUC of attention slices both ways on the book corpus, with
the same outer folds (the run's), the same slices rule and seed, and each model of the poster with fixed
hyper-parameters, and writes the difference beside the bootstrap half-width of the AUC.

Usage: python benchmarks/cross_fitting.py
Writes benchmarks/results/cross_fitting.md and cross_fitting.csv.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import toolkit as tk
from toolkit import _io

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = tk.hirability.MODELS


def _attention_rows(corpus, attention) -> pd.DataFrame:
    sliced = tk.stages.slices(corpus, attention, question=1, n_random=1, seed=0)
    features = tk.stages.slice_features(corpus, sliced)
    per = tk.hirability.candidate_features(features, corpus.candidates)
    return per[per["kind"] == "attention"].set_index("candidate_id")


def main() -> int:
    tic = time.perf_counter()
    corpus = tk.stages.simulate("book", seed=0)
    run = tk.stages.train(corpus, progress=False)
    fold_of = run.predictions.set_index("candidate_id")["fold"]
    answers = corpus.manifest.set_index("answer_id")["candidate_id"]

    usual = _attention_rows(corpus, run.attention)
    ids = usual.index.to_numpy()
    y = usual["label"].to_numpy(int)
    groups = usual["position_id"].astype(str).to_numpy()
    folds = fold_of.reindex(ids).to_numpy(int)
    columns = tk.slices.feature_columns(usual.reset_index())

    scores = {(m, v): np.full(len(ids), np.nan) for m in MODELS for v in ("out of fold", "cross-fitted")}
    for m in MODELS:
        scores[(m, "out of fold")] = tk.hirability.cross_validated_scores(usual[columns].to_numpy(float), y, groups,
                                                                          folds, m, seed=0, tune=False)
    for k in np.unique(folds):
        training = fold_of.index[fold_of != k]
        inner = tk.stages.train(corpus.subset(candidate_ids=training), folds=4, seed=0, progress=False)
        own = run.attention[run.attention["answer_id"].map(answers).map(fold_of) == k]
        rows = _attention_rows(corpus, pd.concat([inner.attention, own], ignore_index=True)).reindex(ids)
        X = rows[columns].to_numpy(float)
        test = folds == k
        for m in MODELS:
            from sklearn.base import clone

            pipe, _ = tk.models.make_model(m, seed=0, tune=False)
            fitted = clone(pipe).fit(X[~test], y[~test])
            scores[(m, "cross-fitted")][test] = tk.hirability._decision(fitted, X[test])

    table = []
    for m in MODELS:
        a = tk.stats.bootstrap_auc_ci(y, scores[(m, "out of fold")], n_boot=1000, seed=0, groups=groups)
        b = tk.stats.bootstrap_auc_ci(y, scores[(m, "cross-fitted")], n_boot=1000, seed=0, groups=groups)
        table.append({"model": m, "auc_out_of_fold": a.auc, "auc_cross_fitted": b.auc,
                      "difference": b.auc - a.auc, "ci_half_width": (a.ci_high - a.ci_low) / 2})
    table = pd.DataFrame(table)
    _io.write_csv(HERE / "results" / "cross_fitting.csv", table)
    seconds = time.perf_counter() - tic
    largest = float(table["difference"].abs().max())
    half = float(table["ci_half_width"].min())
    lines = ["# Cross-fitted attention for hirability", "", "`python benchmarks/cross_fitting.py`", "",
             _machine.markdown(_machine.describe()), "",
             f"{corpus!r}; the book run's folds; attention slices of question 1; each model with fixed "
             f"hyper-parameters; {len(ids)} candidates; {seconds / 60:.1f} min (five inner trainings of four folds).", "",
             "| model | AUC, usual out-of-fold attention | AUC, cross-fitted attention | difference | "
             "95 % interval half-width |", "| --- | --- | --- | --- | --- |",
             *[f"| {r.model} | {r.auc_out_of_fold:.3f} | {r.auc_cross_fitted:.3f} | {r.difference:+.3f} | "
               f"{r.ci_half_width:.3f} |" for r in table.itertuples()], "",
             f"Largest difference {largest:.3f} AUC, against a smallest interval half-width of {half:.3f}: "
             + ("the leak is small beside the uncertainty of the AUC itself." if largest < half / 2 else
                "the leak is not negligible beside the uncertainty of the AUC: cross-fit."), ""]
    _io.write_text(HERE / "results" / "cross_fitting.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
