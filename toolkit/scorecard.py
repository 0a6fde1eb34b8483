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

__all__ = ["COLUMNS", "book_scorecard", "chapter_summary", "markdown", "null_replicates"]

#: The columns of the scorecard.
COLUMNS = ("result", "poster", "ours", "reproduced", "null controls", "chapter")


def null_replicates() -> int:
    """Replicates of every null reference in the book: 19, or ``BOOK_NULL_REPLICATES`` (a smoke build)."""
    return int(os.environ.get("BOOK_NULL_REPLICATES", 19))


def _null_study(corpus, run, seeds: int):
    """The book corpus, its run and the arguments of chapter 09's null study (:func:`toolkit.stages.controls`)."""
    from . import controls, stages

    if corpus is None:
        corpus = stages.simulate("book", seed=0)
    if run is None:
        run = stages.train(corpus, progress=False)
    n_null = null_replicates()
    return corpus, run, dict(replicates={r: n_null for r in controls.REFERENCES}, seeds=seeds, seed=0,
                             progress=False)


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

    corpus, run, options = _null_study(corpus, run, seeds)
    table = stages.controls(corpus, run, **options)
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
    reproduced = hirability.redraw_verdict(up, down).text
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


def markdown(card: pd.DataFrame, chapter_links: dict | None = None) -> str:
    """The scorecard as a Markdown table (a ``chapter`` column of links when ``chapter_links`` is given).

    ``chapter_links`` maps a chapter number ("05") to its link text (a MyST role); rows of a
    chapter without a link keep the number.
    """
    names = ["result", "poster", "ours", "reproduced", "null controls"]
    if chapter_links is not None:
        names.append("chapter")
    lines = ["| " + " | ".join(names) + " |", "| " + " | ".join("---" for _ in names) + " |"]
    for row in card.itertuples(index=False):
        cells = [row[0], row[1], row[2], row[3] or "-", row[4]]
        if chapter_links is not None:
            cells.append(chapter_links.get(row[5], row[5]))
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def chapter_summary(chapter: str, corpus=None, run=None, seeds: int = 5) -> str:
    """A chapter's own rows of the scorecard, as Markdown, to open the chapter with.

    The rows need chapter 09's null study; it takes minutes, so this never starts it: until that
    study is in the stage cache (``make book`` runs the intro page, which computes it, before the
    chapters), the text says where the rows will come from. Everything else the rows need is a
    stage the chapters compute anyway.

    Parameters
    ----------
    chapter : str
        "04", "05", "06", "07" or "09".

    Returns
    -------
    str
        Markdown: a lead-in and the table of this chapter's rows.
    """
    from . import stages

    known = ("04", "05", "06", "07", "09")
    if chapter not in known:
        raise ValueError(f"chapter: one of {', '.join(known)} (the chapters with a row), got {chapter!r}")
    corpus, run, options = _null_study(corpus, run, seeds)
    lead = "**This chapter in the book's findings at a glance** ({ref}`findings-at-a-glance`)"
    if not stages.controls.cached(corpus, run, **options):
        return (f"{lead}: this chapter's row needs the null study of chapter 09, which has not run yet in this "
                "stage cache; `make book` computes it (the intro page shows the whole table).")
    card = book_scorecard(corpus, run, seeds=seeds)
    return f"{lead}:\n\n" + markdown(card[card["chapter"] == chapter])
