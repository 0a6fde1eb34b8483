"""Every question of the interview: the analyses per question, and which questions HireNet weighs.

The poster sliced the first question's answers only. Here the same stages run on the answers of
each question in turn (:func:`toolkit.pipeline.results` with ``question="all"``), and the tables
are stacked with a ``question`` column; the first question's rows are the poster's analysis.

HireNet's second attention layer weighs the answers of an interview. :func:`answer_attention`
summarises that weight per question, with an interval over candidates, beside the same numbers
for a reference network (the untrained one): a network that learned nothing still weighs the
questions unequally, because its answer GRU reads them in order.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ALL", "parse", "questions_of", "stack", "answer_attention", "plot_by_question"]

#: The value of ``question`` (and of ``--question``) that means every question.
ALL = "all"


def parse(value) -> int | str | None:
    """A question as the command line and the stages take it: a 1-based integer, ``"all"`` or None.

    Raises
    ------
    ValueError
        For anything else (the message says what is accepted).
    """
    if value is None or value == ALL:
        return value
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"question: a 1-based question number or 'all', got {value!r}") from None
    if number != float(value) or number < 1:
        raise ValueError(f"question: a 1-based question number or 'all', got {value!r}")
    return number


def questions_of(corpus) -> list[int]:
    """The questions of a corpus's manifest, in order."""
    return sorted(int(q) for q in corpus.manifest["question"].unique())


def stack(per_question: dict) -> dict[str, pd.DataFrame]:
    """Tables of several questions, ``{question: {name: table}}``, as one table per name with ``question`` first."""
    names = list(dict.fromkeys(name for tables in per_question.values() for name in tables))
    out = {}
    for name in names:
        parts = [tables[name].assign(question=int(q)) for q, tables in per_question.items() if name in tables]
        table = pd.concat(parts, ignore_index=True)
        out[name] = table[["question"] + [c for c in table.columns if c != "question"]]
    return out


def answer_attention(runs: dict, corpus, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The weight HireNet gives each question's answer, per network, with a bootstrap interval over candidates.

    Parameters
    ----------
    runs : dict
        Name -> a run (``run.answer_attention``: ``answer_id, question, weight``), e.g.
        ``{"trained": run, "untrained": untrained}``.
    corpus : toolkit.corpus.Corpus
        Gives each answer's candidate.
    n_boot : int
        Bootstrap resamples of the candidates (0: no interval).
    seed : int

    Returns
    -------
    pandas.DataFrame
        ``network``, ``question``, ``weight`` (mean over the candidates' answers to it),
        ``ci_low``, ``ci_high``, ``uniform`` (the mean of ``1 / answers`` of those candidates:
        the weight of attention that prefers no question), ``n_answers``.

    Raises
    ------
    ValueError
        For a run without answer attention (trained before it was recorded: train it again).
    """
    candidate_of = corpus.manifest.set_index("answer_id")["candidate_id"].astype(str)
    rows = []
    for name, run in runs.items():
        table = getattr(run, "answer_attention", None)
        if table is None:
            raise ValueError(f"answer_attention: the run {name!r} holds no answer_attention.parquet; "
                             f"train it again with this version of the toolkit")
        t = table.assign(answer_id=table["answer_id"].astype(str)).reset_index(drop=True)
        t["candidate_id"] = candidate_of.reindex(t["answer_id"]).to_numpy()
        t["uniform"] = 1.0 / t.groupby("candidate_id")["answer_id"].transform("size")
        codes, _ = pd.factorize(t["candidate_id"])
        rng = np.random.default_rng(seed)
        draws = [np.bincount(rng.integers(0, codes.max() + 1, codes.max() + 1), minlength=codes.max() + 1)
                 for _ in range(n_boot)]
        for q, g in t.groupby("question", sort=True):
            w = g["weight"].to_numpy(float)
            c = codes[t.index.get_indexer(g.index)]
            lo = hi = np.nan
            if n_boot:
                boot = [np.average(w, weights=d[c]) if d[c].sum() else np.nan for d in draws]
                lo, hi = np.nanquantile(boot, [0.025, 0.975])
            rows.append({"network": name, "question": int(q), "weight": float(w.mean()), "ci_low": float(lo),
                         "ci_high": float(hi), "uniform": float(g["uniform"].mean()), "n_answers": int(len(g))})
    return pd.DataFrame(rows)


def plot_by_question(tables: dict, attention: pd.DataFrame | None = None):
    """Per question: attention-vs-random AUC, hirability AUC of attention and random slices, answer attention.

    Parameters
    ----------
    tables : dict
        :func:`toolkit.pipeline.results` with ``question="all"`` (``attention_vs_random`` and
        ``hirability_auc`` with a ``question`` column).
    attention : pandas.DataFrame, optional
        :func:`answer_attention`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .plots import COLORS, new_figure

    panels = 3 if attention is not None else 2
    fig, axes = new_figure(1, panels, figsize=(4.2 * panels, 3.4))
    axes = np.atleast_1d(axes)
    avr = tables["attention_vs_random"]
    avr = avr[avr["metric"] == "auc"] if "metric" in avr.columns else avr
    if "model" in avr.columns:
        avr = avr[avr["model"] == ("Lasso" if "Lasso" in set(avr["model"]) else avr["model"].iloc[0])]
    ax = axes[0]
    ax.errorbar(avr["question"], avr["value"], yerr=[avr["value"] - avr["ci_low"], avr["ci_high"] - avr["value"]],
                fmt="o", color=COLORS["attention"], capsize=3)
    ax.axhline(0.5, color="#888888", lw=0.8, ls="--")
    ax.set(xlabel="question", ylabel="AUC, attention vs random slices", title="Can features tell the slices apart?")
    hir = tables["hirability_auc"]
    hir = hir[hir["model"] == ("RF" if "RF" in set(hir["model"]) else hir["model"].iloc[0])]
    ax = axes[1]
    for offset, (kind, colour) in enumerate([("attention", COLORS["attention"]), ("random", COLORS["random"])]):
        h = hir[hir["kind"] == kind]
        ax.errorbar(h["question"] + (offset - 0.5) * 0.2, h["auc"], yerr=[h["auc"] - h["ci_low"], h["ci_high"] - h["auc"]],
                    fmt="o", color=colour, capsize=3, label=f"{kind} slices")
    ax.axhline(0.5, color="#888888", lw=0.8, ls="--")
    ax.set(xlabel="question", ylabel="hirability AUC", title=f"Hirability ({hir['model'].iloc[0]})")
    ax.legend(frameon=False, fontsize=8)
    if attention is not None:
        ax = axes[2]
        colours = [COLORS["attention"], COLORS["untrained"], COLORS["permuted"]]
        networks = list(dict.fromkeys(attention["network"]))
        for i, name in enumerate(networks):
            a = attention[attention["network"] == name]
            ax.errorbar(a["question"] + (i - (len(networks) - 1) / 2) * 0.2, a["weight"],
                        yerr=[a["weight"] - a["ci_low"], a["ci_high"] - a["weight"]], fmt="o",
                        color=colours[i % len(colours)], capsize=3, label=f"{name} network")
        uniform = attention.groupby("question")["uniform"].mean()
        ax.plot(uniform.index, uniform.to_numpy(), color="#888888", lw=0.8, ls="--", label="no preference")
        ax.set(xlabel="question", ylabel="answer attention (mean weight)", title="Which questions HireNet weighs")
        ax.legend(frameon=False, fontsize=8)
    for ax in axes:
        ax.set_xticks(sorted(avr["question"].unique()))
    fig.tight_layout()
    return fig
