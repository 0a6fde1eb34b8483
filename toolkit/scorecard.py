"""Findings at a glance: each result of the poster beside ours, reproduced or not, and its null-control verdict.

The book's intro page opens with :func:`book_scorecard`. Every number comes from the same cached
stages the chapters call, with the same arguments, so the table costs nothing once the chapters have
run (and the chapters nothing once the table has):

* attention vs random slices: chapter 05's repeated cross-validation (Lasso mean F1, its corrected
  interval, the coin flip's F1);
* the signs of anxiety: chapter 09's standardised differences between attention and random slices
  of the four features of :data:`toolkit.controls.ANXIETY_SIGNS`, mean over the trained seeds;
* slices at the start and end of answers: chapter 09's share of attention slices there (mean over
  seeds) beside the share of chapter 04's random slices;
* hirability: chapter 07's Lasso AUCs (attention, random draw 0) and its redraw test in both
  directions (199 draws, Holm across the four models);
* the preference for label-linked moments (ours): chapter 09.

The last column is each claim's overall verdict against the null references of chapter 09
(:func:`toolkit.controls.compare`, reference ``all``).
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

__all__ = ["COLUMNS", "book_scorecard", "null_replicates"]

#: The columns of the scorecard.
COLUMNS = ("result", "poster", "ours", "reproduced", "null controls", "chapter")


def null_replicates() -> int:
    """Replicates of every null reference in the book: 19, or ``BOOK_NULL_REPLICATES`` (a smoke build)."""
    return int(os.environ.get("BOOK_NULL_REPLICATES", 19))


def book_scorecard(corpus=None, run=None, seeds: int = 5) -> pd.DataFrame:
    """The scorecard of the book run (the chapters' stages, loaded from the stage cache when they ran).

    Parameters
    ----------
    corpus, run : optional
        The book corpus and its HireNet run (default: ``tk.stages.simulate("book", seed=0)`` and
        ``tk.stages.train(corpus)``).
    seeds : int
        Trained seeds of the null study (chapter 09 uses 5).

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, one row per result.
    """
    from . import classify, controls, hirability, recovery, stages
    from .report import interval

    if corpus is None:
        corpus = stages.simulate("book", seed=0)
    if run is None:
        run = stages.train(corpus, progress=False)
    n_null = null_replicates()
    table = stages.controls(corpus, run, replicates={r: n_null for r in controls.REFERENCES}, seeds=seeds, seed=0,
                            progress=False)
    verdict = controls.compare(table)
    overall = verdict[verdict["reference"] == "all"].set_index("metric")["verdict"]
    trained = table[table["reference"] == controls.OBSERVED].groupby("metric")["value"].mean()
    rows = []

    # chapter 05: attention vs random slices
    sliceset = stages.slices(corpus, run, question=1, n_random=4, seed=0)
    features = stages.slice_features(corpus, sliceset)
    avr = classify.summarize(stages.attention_vs_random(features, folds=5, repeats=5, seed=0), n_splits=5)
    f1 = avr[avr["metric"] == "f1_mean"].set_index("model")
    lasso, coin = f1.loc["Lasso"], f1.loc["coin flip", "value"]
    poster = classify.POSTER.set_index("model")["f1_mean"]
    rows.append(("attention slices differ from random slices (Lasso mean F1)",
                 f"{poster['Lasso']:.3f} (coin flip {poster['coin flip']:.3f})",
                 f"{interval(lasso['value'], lasso['ci_low'], lasso['ci_high'])} (coin flip {coin:.3f})",
                 "yes" if lasso["ci_low"] > coin else "no", overall.get("f1_mean", "not measured"), "05"))

    # chapter 06 / 09: the signs of anxiety
    signs = {c: float(trained.get(c, np.nan)) for c in controls.ANXIETY_SIGNS}
    agree = sum(1 for c, s in controls.ANXIETY_SIGNS.items() if np.isfinite(signs[c]) and np.sign(signs[c]) == s)
    n = len(controls.ANXIETY_SIGNS)
    rows.append(("attention slices show the signs of anxiety (eyes closed, AU20, AU23 active; AU26 not)",
                 f"{n} of {n} signs", f"{agree} of {n} signs with the poster's direction",
                 "yes" if agree == n else ("partly" if agree else "no"), overall.get("anxiety_signs", "not measured"),
                 "06"))

    # chapter 04 / 09: slices at the start and end
    positions = recovery.slice_positions(sliceset, corpus)
    random_share = float(positions.loc[positions["kind"] == "random", "location"].isin(["start", "end"]).mean())
    ends = float(trained.get("slices_ends", np.nan))
    rows.append(("attention slices sit at the start and end of answers (share of slices)", "start and end",
                 f"{ends:.2f} (random slices {random_share:.2f})", "yes" if ends > random_share else "no",
                 overall.get("slices_ends", "not measured"), "04"))

    # chapter 07: hirability
    result = stages.hirability(corpus, run, question=1, redraws=1, seed=0, n_jobs=2)
    null = stages.hirability(corpus, run, question=1, redraws=199, seed=0, tune=False, n_boot=0, n_jobs=2)
    up = stages.tests(result, seed=0, redraw_null=null)
    down = stages.tests(result, seed=0, alternative="less", redraw_null=null)
    auc = result.table.set_index(["model", "kind"])
    a, r = auc.loc[("Lasso", "attention")], auc.loc[("Lasso", "random")]
    up_holm = up[up["test"] == "redraw"].set_index("model")["p_holm"]
    down_holm = down[down["test"] == "redraw"].set_index("model")["p_holm"]
    n_up, n_down = int((up_holm <= 0.05).sum()), int((down_holm <= 0.05).sum())
    n_models = len(up_holm)
    if n_up:
        reproduced = f"yes, {n_up} of {n_models} models"
    elif n_down:
        reproduced = f"reversed: attention below random for {n_down} of {n_models} models"
    else:
        reproduced = "no"
    posted = hirability.POSTER_AUC.set_index("model").loc["Lasso"]
    rows.append(("attention slices carry more hirability information (Lasso AUC, attention vs random)",
                 f"{posted['attention']:.3f} vs {posted['random']:.3f}, significant",
                 f"{interval(a['auc'], a['ci_low'], a['ci_high'])} vs {interval(r['auc'], r['ci_low'], r['ci_high'])}",
                 reproduced, overall.get("auc_difference", "not measured"), "07"))

    # ours: what attention learned
    pref = table[(table["reference"] == controls.OBSERVED) & (table["metric"] == "preference")]["value"]
    rows.append(("attention prefers the moments the label depends on (ours; preference, 1 = none)", "not studied",
                 f"{pref.mean():.2f} (seeds {pref.min():.2f} to {pref.max():.2f})", "",
                 overall.get("preference", "not measured"), "09"))
    return pd.DataFrame(rows, columns=list(COLUMNS))
