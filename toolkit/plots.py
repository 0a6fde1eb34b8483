"""One plotting style for the book: colour-blind-safe palette, labelled axes, shaded moments."""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt

#: Okabe-Ito palette (colour-blind safe).
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}

#: One colour per thing, everywhere in the book.
COLORS = {
    "attention": OKABE_ITO["vermillion"],
    "random": OKABE_ITO["sky"],
    "salience": OKABE_ITO["green"],
    "untrained": OKABE_ITO["purple"],
    "permuted": OKABE_ITO["orange"],
    "null": "#999999",
    "anxiety": OKABE_ITO["orange"],
    "positive": OKABE_ITO["green"],
    "distractor": "#999999",
    "hesitation": OKABE_ITO["orange"],
    "lively": OKABE_ITO["green"],
    "face": OKABE_ITO["vermillion"],
    "voice": OKABE_ITO["blue"],
    "both": OKABE_ITO["green"],
    "invited": OKABE_ITO["blue"],
    "not invited": OKABE_ITO["orange"],
}


def style() -> None:
    """Apply the book's matplotlib style (call once per notebook; ``tk.plots.style()``)."""
    mpl.rcParams.update({
        "figure.figsize": (7.0, 3.6),
        "figure.dpi": 100,
        "savefig.dpi": 120,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.titlesize": 11,
        "axes.labelsize": 10,
        "legend.frameon": False,
        "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO.values())[1:]),
    })


def shade_episodes(ax, episodes, alpha: float = 0.25, label: bool = True) -> None:
    """Shade ground-truth moments (rows with ``kind``, ``start_s``, ``end_s``) on a time axis."""
    seen = set()
    for row in episodes.itertuples(index=False):
        color = COLORS.get(row.kind, OKABE_ITO["yellow"])
        show = label and row.kind not in seen
        ax.axvspan(row.start_s, row.end_s, color=color, alpha=alpha, lw=0,
                   label=f"planted: {row.kind}" if show else None)
        seen.add(row.kind)


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """``plt.subplots`` with the book's style applied."""
    style()
    return plt.subplots(nrows, ncols, **kwargs)


#: Short panel titles of the null-control metrics (:mod:`toolkit.controls`); the full descriptions are
#: ``toolkit.controls.METRICS``.
METRIC_TITLES = {
    "f1_mean": "attention vs random: F1",
    "kind_auc": "attention vs random: AUC",
    "overlap_linked": "overlap with linked moments",
    "overlap_distractor": "overlap with distractors",
    "preference": "preference for linked moments",
    "slices_start": "slices at the start",
    "slices_middle": "slices in the middle",
    "slices_end": "slices at the end",
    "slices_ends": "slices at start or end",
    "edge_start_2pct": "peaks in the first 2 %",
    "edge_end_2pct": "peaks in the last 2 %",
    "edge_start_1s": "peaks in the first second",
    "edge_end_1s": "peaks in the last second",
    "anxiety_signs": "signs of anxiety",
    "auc_attention": "hirability AUC, attention",
    "auc_random": "hirability AUC, random",
    "auc_difference": "hirability AUC difference",
}


def metric_title(metric: str) -> str:
    """A readable panel title for a metric name (the name itself when there is none)."""
    return METRIC_TITLES.get(metric, metric.replace("_", " "))
