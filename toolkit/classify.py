"""Can facial features alone tell attention slices from random slices? (DESIGN section 1, point 2)

- :func:`baseline_f1`: the coin-flip and majority-class baselines, exactly.
- :func:`cross_validate`, :func:`summarize`, :func:`attention_vs_random`: the classifiers of
  :func:`toolkit.models.make_models`, cross-validated by candidate
  (:func:`toolkit.folds.fold_ids`) and repeated, then per-fold scores with corrected intervals.
- :func:`poster_table`, :func:`plot_scores`, :data:`POSTER`: our scores beside the poster's.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as _stats

from . import stats
from .folds import fold_ids, train_test
from .models import make_models
from .slices import feature_columns

__all__ = [
    "baseline_f1", "cross_validate", "summarize", "attention_vs_random", "poster_table", "POSTER", "plot_scores",
]

#: The poster's F1 scores (attention class, random class, their mean).
POSTER = pd.DataFrame(
    [("Lasso", 0.812, 0.955, 0.884), ("Random Forest", 0.760, 0.945, 0.852),
     ("coin flip", 0.286, 0.614, 0.450), ("majority", 0.0, 0.888, 0.444)],
    columns=["model", "f1_attention", "f1_random", "f1_mean"],
)


def baseline_f1(n_attention: int = 1, n_random: int = 4) -> pd.DataFrame:
    """F1 scores of the coin-flip and majority-class baselines, exactly.

    With a share :math:`p` of attention slices, a fair coin has precision :math:`p` and recall
    1/2 on the attention class, so :math:`F_1 = p / (p + 1/2)`; likewise :math:`(1-p)/(1-p+1/2)`
    on the random class. The majority class (the larger kind) gets
    :math:`F_1 = 2q / (q + 1)` with :math:`q` its share, and 0 on the other class.

    Returns
    -------
    pandas.DataFrame
        ``model`` (coin flip, majority), ``f1_attention``, ``f1_random``, ``f1_mean``.
    """
    if n_attention <= 0 or n_random <= 0:
        raise ValueError("n_attention and n_random must be positive")
    p = n_attention / (n_attention + n_random)
    coin = (p / (p + 0.5), (1 - p) / (1 - p + 0.5))
    if n_random >= n_attention:
        majority = (0.0, 2 * (1 - p) / (2 - p))
    else:
        majority = (2 * p / (1 + p), 0.0)
    rows = [("coin flip", *coin, float(np.mean(coin))), ("majority", *majority, float(np.mean(majority)))]
    return pd.DataFrame(rows, columns=["model", "f1_attention", "f1_random", "f1_mean"])


def _design(features: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    cols = feature_columns(features)
    if not cols:
        raise ValueError("features table: no feature columns (*_delta, *_std, *_active); "
                         "make it with toolkit.slices.features")
    for c in ("kind", "candidate_id"):
        if c not in features.columns:
            raise ValueError(f"features table: missing column {c!r}")
    kinds = set(features["kind"].astype(str))
    if not kinds <= {"attention", "random"} or len(kinds) < 2:
        raise ValueError(f"features table: column 'kind' must hold both 'attention' and 'random', got {sorted(kinds)}")
    bad = features[cols].isna().any(axis=1)
    if bad.any():
        warnings.warn(f"{int(bad.sum())} slices with missing features (no success frames) left out", stacklevel=3)
        features = features[~bad]
    features = features.reset_index(drop=True)
    X = features[cols].astype(np.float64)
    y = (features["kind"].astype(str) == "attention").to_numpy(int)
    groups = features["candidate_id"].astype(str).to_numpy()
    return X, y, groups, features


def _splits(groups, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test indices of a cross-validation grouped by candidate (shuffled by ``seed``)."""
    return train_test(fold_ids(groups, n_splits, seed, group_name="candidate"))


def _fold_scores(y, proba, pred) -> dict:
    from sklearn.metrics import f1_score

    f1 = f1_score(y, pred, average=None, labels=[1, 0], zero_division=0.0)
    return {"f1_attention": f1[0], "f1_random": f1[1], "f1_mean": f1.mean(), "auc": stats.auc_or_nan(y, proba)}


def cross_validate(features: pd.DataFrame, seed: int = 0, n_splits: int = 5, n_repeats: int = 5,
                   models: dict | None = None, progress: bool = False) -> pd.DataFrame:
    """Per-fold scores of each classifier telling attention from random slices.

    Cross-validation is grouped by candidate (a candidate's slices are never split across
    training and test folds) and repeated ``n_repeats`` times with shuffling seeds
    ``seed``, ``seed + 1``, ...

    Returns
    -------
    pandas.DataFrame
        ``model``, ``repeat``, ``fold``, ``metric`` (f1_attention, f1_random, f1_mean, auc), ``value``.
    """
    from sklearn.base import clone

    X, y, groups, _ = _design(features)
    rows = []
    todo = [(r, f) for r in range(n_repeats) for f in range(n_splits)]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), desc="attention vs random", unit="fold")
    for r in range(n_repeats):
        models_r = models if models is not None else make_models(seed + r)
        for f, (train, test) in enumerate(_splits(groups, n_splits, seed + r)):
            for name, model in models_r.items():
                m = clone(model)
                if "random_state" in m.get_params(deep=False):
                    # A fresh stream per fold: a coin flipped with the same seed in every fold
                    # would repeat the same guesses.
                    m.set_params(random_state=int(np.random.SeedSequence([seed, r, f]).generate_state(1)[0]))
                fit_kw = {"groups": groups[train]} if _takes_groups(m) else {}
                m.fit(X.iloc[train], y[train], **fit_kw)
                proba = m.predict_proba(X.iloc[test])[:, list(m.classes_).index(1)]
                pred = m.predict(X.iloc[test])
                for metric, value in _fold_scores(y[test], proba, pred).items():
                    rows.append((name, r, f, metric, float(value)))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return pd.DataFrame(rows, columns=["model", "repeat", "fold", "metric", "value"])


def _takes_groups(model) -> bool:
    from sklearn.model_selection import GridSearchCV

    return isinstance(model, GridSearchCV)


def summarize(folds: pd.DataFrame, n_splits: int | None = None, level: float = 0.95) -> pd.DataFrame:
    """Mean of per-fold scores with a corrected repeated-cross-validation interval.

    Folds of repeated cross-validation overlap in their training sets, so the plain standard
    error of their mean is too small. We use the corrected resampled *t* interval of Nadeau
    and Bengio (2003): variance :math:`(1/J + n_{test}/n_{train})\\, s^2` over the :math:`J`
    folds, with :math:`n_{test}/n_{train} = 1/(k-1)` for :math:`k` folds.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``metric``, ``value``, ``ci_low``, ``ci_high``, ``n_folds``.
    """
    k = n_splits or int(folds["fold"].max()) + 1
    rows = []
    for (model, metric), g in folds.groupby(["model", "metric"], sort=False):
        v = g["value"].dropna().to_numpy()
        J = len(v)
        mean = float(v.mean()) if J else np.nan
        if J > 1:
            se = np.sqrt((1 / J + 1 / max(k - 1, 1)) * v.var(ddof=1))
            half = _stats.t.ppf(0.5 + level / 2, J - 1) * se
        else:
            half = np.nan
        rows.append((model, metric, mean, max(mean - half, 0.0), min(mean + half, 1.0), J))
    return pd.DataFrame(rows, columns=["model", "metric", "value", "ci_low", "ci_high", "n_folds"])


def attention_vs_random(features: pd.DataFrame, seed: int = 0, n_splits: int = 5, n_repeats: int = 5,
                        progress: bool = False) -> pd.DataFrame:
    """Can facial features alone tell attention slices from random slices?

    Coin flip, majority class, Lasso and Random Forest (:func:`toolkit.models.make_models`), cross-validated
    by candidate and repeated (:func:`cross_validate`); scores with intervals (:func:`summarize`).

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`toolkit.slices.features` of attention and random slices.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``model``, ``metric`` (f1_attention, f1_random, f1_mean, auc), ``value``,
        ``ci_low``, ``ci_high``, ``n_folds``.
    """
    folds = cross_validate(features, seed=seed, n_splits=n_splits, n_repeats=n_repeats, progress=progress)
    return summarize(folds, n_splits=n_splits)


def poster_table(results: pd.DataFrame) -> pd.DataFrame:
    """Our F1 scores in the poster's layout, the poster's numbers beside ours.

    Parameters
    ----------
    results : pandas.DataFrame
        The tidy output of :func:`attention_vs_random`.

    Returns
    -------
    pandas.DataFrame
        One row per model; for each of attention, random and mean: our F1, its interval
        (as text) and the poster's F1.
    """
    out = POSTER[["model"]].copy()
    for metric, label in [("f1_attention", "attention"), ("f1_random", "random"), ("f1_mean", "mean")]:
        ours = results[results["metric"] == metric].set_index("model")
        out[f"{label} (ours)"] = out["model"].map(ours["value"]).round(3)
        ci = ours.apply(lambda r: f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]", axis=1) if len(ours) else pd.Series()
        out[f"{label} 95% CI"] = out["model"].map(ci)
        out[f"{label} (poster)"] = POSTER[metric]
    return out


def plot_scores(results: pd.DataFrame, ax=None, metrics=("f1_attention", "f1_random", "f1_mean", "auc")):
    """Dot-and-interval plot of :func:`attention_vs_random` results (poster values as crosses)."""
    import matplotlib.pyplot as plt

    from .plots import OKABE_ITO

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    models = list(dict.fromkeys(results["model"]))
    colors = [OKABE_ITO[c] for c in ("vermillion", "blue", "green", "orange", "purple", "sky")]
    width = 0.8 / len(models)
    poster = POSTER.set_index("model")
    for i, model in enumerate(models):
        r = results[results["model"] == model].set_index("metric").reindex(list(metrics))
        x = np.arange(len(metrics)) + (i - (len(models) - 1) / 2) * width
        ax.errorbar(x, r["value"], yerr=[r["value"] - r["ci_low"], r["ci_high"] - r["value"]],
                    fmt="o", color=colors[i % len(colors)], label=model, capsize=3)
        if model in poster.index:
            pv = [poster.loc[model, m] if m in poster.columns else np.nan for m in metrics]
            ax.plot(x, pv, "x", color=colors[i % len(colors)], ms=8, mew=2)
    if any(model in poster.index for model in models):
        # one legend entry for the crosses, drawn neutral: each cross takes its model's colour
        ax.plot([], [], "x", color="#444444", ms=8, mew=2, label="poster's value\n(in the model's colour)")
    ax.set_xticks(np.arange(len(metrics)), [m.replace("f1_", "F1 ").replace("auc", "AUC") for m in metrics])
    ax.set_ylabel("score (0-1)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5))
    return ax
