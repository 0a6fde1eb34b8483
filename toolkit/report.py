"""A one-page summary of a run, for users who do not need the book (``python -m toolkit report RUN``).

The report opens like the book: a table of the run's findings (:func:`findings`: each result with
its interval or p-value, beside the poster's value where there is one), then the key figures, then
every tidy table of ``results/`` in full, and the configuration last. It is written as
``RUN/report.html`` (one self-contained file: figures are embedded) or ``RUN/report.md`` (figures
beside it).
"""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import pandas as pd

from . import _io

_TABLES = [
    ("training.csv", "HireNet: out-of-fold metrics beside the baselines"),
    ("attention_vs_random.csv", "Are attention slices different from random slices?"),
    ("importances.csv", "Which features tell attention slices from random slices (SHAP)"),
    ("hirability_auc.csv", "Hirability from thin slices: AUC"),
    ("permutation_tests.csv", "Attention vs random slices: significance"),
    ("recovery.csv", "Ground truth: overlap of slices with planted moments"),
    ("controls.csv", "Null references"),
    ("fairness.csv", "Fairness audit by group of a sensitive attribute"),
]


def _figures(run: Path) -> list[tuple[str, bytes]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import plots

    plots.style()
    figures = []
    predictions = run / "predictions.parquet"
    if predictions.exists():
        pred = pd.read_parquet(predictions)
        fig, ax = plt.subplots()
        for label, name in ((1, "invited"), (0, "not invited")):
            ax.hist(pred.loc[pred["label"] == label, "score"], bins=20, range=(0, 1), alpha=0.6,
                    color=plots.COLORS[name], label=name)
        ax.set_xlabel("out-of-fold score (probability of invitation)")
        ax.set_ylabel("candidates")
        ax.legend()
        figures.append(("Out-of-fold scores by label", _png(fig)))
    slices = run / "slices.parquet"
    if slices.exists():
        sl = pd.read_parquet(slices)
        fig, ax = plt.subplots()
        for kind in ("attention", "random"):
            d = sl.loc[sl["kind"] == kind]
            ax.hist(d["end_s"] - d["start_s"], bins=20, alpha=0.6, color=plots.COLORS[kind], label=kind,
                    density=True)
        ax.set_xlabel("slice duration (s)")
        ax.set_ylabel("density")
        ax.legend()
        figures.append(("Slice durations", _png(fig)))
    return figures


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _read(run: Path, name: str) -> pd.DataFrame | None:
    path = run / "results" / name
    return pd.read_csv(path) if path.exists() else None


def interval(value: float, low: float, high: float) -> str:
    """A value with its interval, as the findings tables print it: ``0.766 [0.739, 0.793]``."""
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def findings(run: str | Path) -> pd.DataFrame:
    """The run's headline results, one row each: what was measured, our value, the poster's, and the test.

    Rows appear for the tables the run holds: HireNet's out-of-fold AUC beside its logistic-regression
    baseline; the mean F1 of the Lasso and the Random Forest telling attention from random slices;
    per hirability model, the AUC of attention and of random slices with the Holm-adjusted redraw
    p-value; on simulated corpora, the preference for label-linked over distractor moments; with
    null controls, each claim's overall verdict.

    Returns
    -------
    pandas.DataFrame
        ``result``, ``ours``, ``poster``, ``test``.
    """
    from .classify import POSTER
    from .hirability import POSTER_AUC

    run = Path(run)
    rows = []
    training = _read(run, "training.csv")
    if training is not None:
        t = training.set_index(["model", "metric"])
        if ("hirenet", "auc") in t.index:
            r = t.loc[("hirenet", "auc")]
            base = t.loc[("logistic_regression", "auc"), "value"] if ("logistic_regression", "auc") in t.index else None
            rows.append(("HireNet out-of-fold AUC (mean over folds)", interval(r["value"], r["ci_low"], r["ci_high"]),
                         "", f"logistic regression on answer means: {base:.3f}" if base is not None else ""))
    avr = _read(run, "attention_vs_random.csv")
    if avr is not None:
        f1 = avr[avr["metric"] == "f1_mean"].set_index("model")
        poster = POSTER.set_index("model")["f1_mean"]
        for model in ("Lasso", "Random Forest"):
            if model in f1.index:
                r = f1.loc[model]
                chance = f1.loc["coin flip", "value"] if "coin flip" in f1.index else float("nan")
                rows.append((f"attention vs random slices, {model}: mean F1",
                             interval(r["value"], r["ci_low"], r["ci_high"]), f"{poster[model]:.3f}",
                             f"coin flip {chance:.3f}"))
    auc = _read(run, "hirability_auc.csv")
    tests = _read(run, "permutation_tests.csv")
    if auc is not None:
        redraw = tests[tests["test"] == "redraw"].set_index("model") if tests is not None else None
        for model, part in auc.groupby("model", sort=False):
            kinds = part.set_index("kind")
            if not {"attention", "random"} <= set(kinds.index):
                continue
            a, r = kinds.loc["attention"], kinds.loc["random"]
            posted = POSTER_AUC.set_index("model")
            poster = ""
            if model in posted.index:
                poster = f"{posted.loc[model, 'attention']:.3f} vs {posted.loc[model, 'random']:.3f}"
            test = ""
            if redraw is not None and model in redraw.index:
                test = f"redraw p = {redraw.loc[model, 'p_value']:.3f}, Holm {redraw.loc[model, 'p_holm']:.3f}"
            rows.append((f"hirability AUC, {model}: attention vs random slices",
                         f"{a['auc']:.3f} vs {r['auc']:.3f}", poster, test))
    recovery = _read(run, "recovery.csv")
    if recovery is not None:
        pref = recovery[(recovery["metric"] == "preference") & (recovery["location"] == "all")]
        if len(pref):
            r = pref.iloc[0]
            rows.append(("preference for label-linked over distractor moments (1: none)",
                         interval(r["value"], r["ci_low"], r["ci_high"]), "", "planted truth"))
    verdicts = _read(run, "controls.csv")
    if verdicts is not None and "reference" in verdicts:
        for r in verdicts[verdicts["reference"] == "all"].itertuples():
            rows.append((f"null controls, {r.metric}", f"{r.observed:.3f}", "",
                         f"{r.verdict} (Holm p {r.p_holm:.3f}; {r.n_replicates} of {r.needed} replicates)"))
    return pd.DataFrame(rows, columns=["result", "ours", "poster", "test"])


def _tables(run: Path) -> list[tuple[str, str, pd.DataFrame]]:
    found = []
    results = run / "results"
    known = {name for name, _ in _TABLES}
    for name, title in _TABLES:
        if (results / name).exists():
            found.append((name, title, pd.read_csv(results / name)))
    if results.is_dir():
        for path in sorted(results.glob("*.csv")):
            if path.name not in known:
                found.append((path.name, path.stem.replace("_", " "), pd.read_csv(path)))
    return found


def candidate_figure(run: str | Path, candidate: str, method: str = "impact_occlusion", stills: bool = False):
    """The feedback view of one candidate of a run folder (:func:`toolkit.moments.plot_candidate`).

    Reads ``moments.parquet``, ``attention.parquet`` and the corpus that ``run.json`` names.
    ``stills`` adds the video's frame at each key moment (off by default: it shows the face).

    Raises
    ------
    FileNotFoundError
        When the run has no ``moments.parquet`` or its corpus folder is not where ``run.json`` says.
    """
    from . import corpus as corpus_mod
    from .moments import plot_candidate

    run = Path(run)
    moments_path = run / "moments.parquet"
    info = json.loads((run / "run.json").read_text()) if (run / "run.json").exists() else {}
    if info.get("modality") == "both":
        raise ValueError(f"{run}: a network reading face and voice has no key moments yet (they are computed for "
                         f"single-stream networks); train with --modality face or --modality voice for feedback")
    if not moments_path.exists():
        raise FileNotFoundError(f"{moments_path} is missing: a run written before key moments existed; run "
                                f"'python -m toolkit run CORPUS {run}' again (the other stages load from the cache)")
    if not info.get("corpus"):
        raise FileNotFoundError(f"{run / 'run.json'}: no corpus folder recorded; the feedback view needs the "
                                f"corpus's frames (write the run with 'python -m toolkit run')")
    corpus = corpus_mod.load((run / info["corpus"]).resolve())
    if info.get("modality") == "voice":
        corpus = corpus.modality("voice")  # the moments and the attention are over the audio frames
    return plot_candidate(corpus, pd.read_parquet(run / "attention.parquet"), pd.read_parquet(moments_path),
                          candidate, method=method, stills=stills)


def write(run: str | Path, fmt: str = "html", candidate: str | None = None, stills: bool = False) -> Path:
    """Write the report of a run folder; return its path.

    Parameters
    ----------
    run : str or Path
        A run folder written by ``python -m toolkit run`` (or ``train`` alone).
    fmt : {"html", "md"}
        A self-contained HTML page, or Markdown with PNG figures beside it.
    candidate : str, optional
        Open the report with this candidate's feedback view: answer by answer, the AU traces,
        the attention and the key moments by the sign and size of their impact
        (:func:`candidate_figure`).
    stills : bool
        With ``candidate``: a still of the video at each key moment. Off by default, because a
        still shows the candidate's face; the traces say what the moment was.

    Raises
    ------
    FileNotFoundError
        If ``run`` is not a run folder (no ``config.json``), or, with ``candidate``, when the run
        has no key moments or its corpus cannot be found.
    ValueError
        With a ``candidate`` that is not in the corpus.
    """
    run = Path(run)
    if not (run / "config.json").exists():
        raise FileNotFoundError(f"{run}: not a run folder (config.json is missing); "
                                f"create one with 'python -m toolkit run CORPUS {run}'")
    if fmt not in ("html", "md"):
        raise ValueError(f"unknown report format {fmt!r}; use 'html' or 'md'")
    config = json.loads((run / "config.json").read_text())
    tables = _tables(run)
    figures = _figures(run)
    if candidate is not None:
        import matplotlib

        matplotlib.use("Agg")
        figures.insert(0, (f"Key moments of candidate {candidate} (blue raises the score, orange lowers it)",
                           _png(candidate_figure(run, candidate, stills=stills))))
    title = f"Attention-slices run: {run.name}"
    summary = findings(run)
    if fmt == "md":
        lines = [f"# {title}", "", "## Findings", "", _markdown(summary), ""]
        for i, (caption, png) in enumerate(figures):
            fig_path = run / f"report-figure-{i + 1}.png"
            with _io.atomic_path(fig_path) as tmp:
                tmp.write_bytes(png)
            lines += [f"## {caption}", "", f"![{caption}]({fig_path.name})", ""]
        for name, heading, table in tables:
            lines += [f"## {heading}", "", f"`results/{name}`", "", _markdown(table), ""]
        lines += ["## Configuration", "", "```json", json.dumps(config, indent=2), "```", ""]
        return _io.write_text(run / "report.md", "\n".join(lines))
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.2em .5em}"
             "pre{background:#f6f6f6;padding:1em;overflow:auto}img{max-width:100%}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", "<h2>Findings</h2>", summary.to_html(index=False, border=0)]
    for caption, png in figures:
        data = base64.b64encode(png).decode()
        parts += [f"<h2>{html.escape(caption)}</h2>", f"<img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"]
    for name, heading, table in tables:
        parts += [f"<h2>{html.escape(heading)}</h2>", f"<p><code>results/{name}</code></p>",
                  table.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)]
    parts += ["<h2>Configuration</h2>", f"<pre>{html.escape(json.dumps(config, indent=2))}</pre>", "</body></html>"]
    return _io.write_text(run / "report.html", "\n".join(parts))


def _markdown(table: pd.DataFrame) -> str:
    if _has_tabulate():
        return table.to_markdown(index=False, floatfmt=".3f")
    return table.to_string(index=False)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True
