"""A one-page summary of a run, for users who do not need the book (``python -m toolkit report RUN``).

The report gathers what a run folder holds (DESIGN section 3): the configuration, the training
metrics, every tidy table of ``results/`` and a few figures, into ``RUN/report.html`` (one
self-contained file: figures are embedded) or ``RUN/report.md`` (figures beside it).
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


def write(run: str | Path, fmt: str = "html") -> Path:
    """Write the report of a run folder; return its path.

    Parameters
    ----------
    run : str or Path
        A run folder written by ``python -m toolkit run`` (or ``train`` alone).
    fmt : {"html", "md"}
        A self-contained HTML page, or Markdown with PNG figures beside it.

    Raises
    ------
    FileNotFoundError
        If ``run`` is not a run folder (no ``config.json``).
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
    title = f"Attention-slices run: {run.name}"
    if fmt == "md":
        lines = [f"# {title}", "", "## Configuration", "", "```json", json.dumps(config, indent=2), "```", ""]
        for name, heading, table in tables:
            lines += [f"## {heading}", "", f"`results/{name}`", "", table.to_markdown(index=False, floatfmt=".3f")
                      if _has_tabulate() else table.to_string(index=False), ""]
        for i, (caption, png) in enumerate(figures):
            fig_path = run / f"report-figure-{i + 1}.png"
            with _io.atomic_path(fig_path) as tmp:
                tmp.write_bytes(png)
            lines += [f"## {caption}", "", f"![{caption}]({fig_path.name})", ""]
        return _io.write_text(run / "report.md", "\n".join(lines))
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.2em .5em}"
             "pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>", "<h2>Configuration</h2>",
             f"<pre>{html.escape(json.dumps(config, indent=2))}</pre>"]
    for name, heading, table in tables:
        parts += [f"<h2>{html.escape(heading)}</h2>", f"<p><code>results/{name}</code></p>",
                  table.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)]
    for caption, png in figures:
        data = base64.b64encode(png).decode()
        parts += [f"<h2>{html.escape(caption)}</h2>", f"<img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"]
    parts.append("</body></html>")
    return _io.write_text(run / "report.html", "\n".join(parts))


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True
