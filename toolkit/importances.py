"""Which facial features tell attention slices from random slices? SHAP values on held-out folds.

- :func:`explain`: SHAP values of the Lasso and the Random Forest of
  :func:`toolkit.models.make_models`, each trained on the training folds (grouped by candidate,
  the folds of :mod:`toolkit.classify`) and explained on the held-out fold.
- :func:`importances`: mean |SHAP| per feature and model, with the feature's direction.
- :func:`plot_importances`: bars of mean |SHAP| or a beeswarm of SHAP values.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import _io
from .classify import _design, _splits
from .models import make_models
from .slices import feature_columns

__all__ = ["Explanation", "explain", "importances", "plot_importances"]


@dataclass
class Explanation:
    """SHAP values of held-out slices for each model.

    Attributes
    ----------
    data : pandas.DataFrame
        The explained slices: ``slice_id``, ``candidate_id``, ``kind``, ``fold`` and the
        feature values.
    values : dict of str to pandas.DataFrame
        Per model, the SHAP values (rows aligned with ``data``, one column per feature), in
        favour of the attention kind (log-odds for the Lasso, probability for the forest).
    table : pandas.DataFrame
        :func:`importances`'s tidy summary.
    """

    data: pd.DataFrame
    values: dict
    table: pd.DataFrame

    @property
    def features(self) -> list[str]:
        return feature_columns(self.data)

    def save(self, folder: str | Path) -> Path:
        """Write the explanation into ``folder`` (atomic files)."""
        folder = Path(folder)
        _io.write_parquet(folder / "data.parquet", self.data)
        _io.write_parquet(folder / "table.parquet", self.table)
        names = list(self.values)
        for i, name in enumerate(names):
            _io.write_parquet(folder / f"shap_{i}.parquet", self.values[name])
        _io.write_json(folder / "models.json", names)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "Explanation":
        """Read an explanation written by :meth:`save`."""
        folder = Path(folder)
        names = json.loads((folder / "models.json").read_text())
        values = {name: pd.read_parquet(folder / f"shap_{i}.parquet") for i, name in enumerate(names)}
        return cls(pd.read_parquet(folder / "data.parquet"), values, pd.read_parquet(folder / "table.parquet"))


def explain(features: pd.DataFrame, seed: int = 0, n_splits: int = 5, max_per_fold: int = 400,
            n_background: int = 200, n_trees: int = 100, progress: bool = False) -> Explanation:
    """SHAP values of the Lasso and the Random Forest on held-out folds.

    Each model is trained on the training folds (grouped by candidate) and explained on up to
    ``max_per_fold`` slices of the held-out fold: ``shap.TreeExplainer`` for the forest,
    ``shap.LinearExplainer`` (``n_background`` training slices as background) for the Lasso.

    Returns
    -------
    Explanation
    """
    import shap
    from sklearn.base import clone

    X, y, groups, feats = _design(features)
    cols = list(X.columns)
    models = make_models(seed, n_trees=n_trees)
    rng = np.random.default_rng(seed)
    data_parts, shap_parts = [], {"Lasso": [], "Random Forest": []}
    splits = _splits(groups, n_splits, seed)
    iterator = enumerate(splits)
    if progress:
        from tqdm import tqdm
        iterator = tqdm(iterator, total=len(splits), desc="SHAP", unit="fold")
    for f, (train, test) in iterator:
        if len(test) > max_per_fold:
            test = np.sort(rng.choice(test, max_per_fold, replace=False))
        lasso = clone(models["Lasso"]).fit(X.iloc[train], y[train], groups=groups[train]).best_estimator_
        scaler, lr = lasso.named_steps["scale"], lasso.named_steps["model"]
        bg_idx = rng.choice(train, min(n_background, len(train)), replace=False)
        background = scaler.transform(X.iloc[bg_idx])
        explainer = shap.LinearExplainer(lr, shap.maskers.Independent(background, max_samples=n_background))
        shap_parts["Lasso"].append(np.asarray(explainer.shap_values(scaler.transform(X.iloc[test]))))
        forest = clone(models["Random Forest"]).fit(X.iloc[train], y[train])
        sv = np.asarray(shap.TreeExplainer(forest).shap_values(X.iloc[test].to_numpy()))
        if sv.ndim == 3:  # (rows, features, classes)
            sv = sv[:, :, list(forest.classes_).index(1)]
        shap_parts["Random Forest"].append(sv)
        part = feats.iloc[test][["slice_id", "candidate_id", "kind"]].copy() if "slice_id" in feats else \
            feats.iloc[test][["candidate_id", "kind"]].copy()
        part["fold"] = f
        data_parts.append(pd.concat([part.reset_index(drop=True), X.iloc[test].reset_index(drop=True)], axis=1))
    data = pd.concat(data_parts, ignore_index=True)
    values = {m: pd.DataFrame(np.concatenate(p), columns=cols) for m, p in shap_parts.items()}
    return Explanation(data, values, _importance_table(data, values, cols))


def _importance_table(data: pd.DataFrame, values: dict, cols: list[str]) -> pd.DataFrame:
    is_att = (data["kind"] == "attention").to_numpy()
    Xv = data[cols].to_numpy(np.float64)
    sd = Xv.std(axis=0)
    mean_diff = np.where(sd > 0, (Xv[is_att].mean(0) - Xv[~is_att].mean(0)) / np.where(sd > 0, sd, 1), 0.0)
    rows = []
    for model, sv in values.items():
        S = sv[cols].to_numpy(np.float64)
        mean_abs = np.abs(S).mean(axis=0)
        order = np.argsort(-mean_abs, kind="stable")
        rank = np.empty(len(cols), int)
        rank[order] = np.arange(1, len(cols) + 1)
        for j, c in enumerate(cols):
            x, s = Xv[:, j], S[:, j]
            corr = np.corrcoef(x, s)[0, 1] if x.std() > 0 and s.std() > 0 else np.nan
            direction = "higher" if corr > 0 else "lower" if corr < 0 else "none"
            au, _, stat = c.rpartition("_")
            rows.append((model, c, au, stat, float(mean_abs[j]), int(rank[j]), direction,
                         float(corr) if np.isfinite(corr) else np.nan, float(mean_diff[j])))
    table = pd.DataFrame(rows, columns=["model", "feature", "au", "stat", "mean_abs_shap", "rank",
                                        "direction", "shap_corr", "mean_diff"])
    return table.sort_values(["model", "rank"], kind="stable").reset_index(drop=True)


def importances(features: pd.DataFrame, seed: int = 0, n_splits: int = 5, **kwargs) -> pd.DataFrame:
    """Mean |SHAP| per feature and model on held-out folds, with the feature's direction.

    ``direction`` is ``higher`` when higher values of the feature push a slice towards the
    attention kind (positive correlation between the feature and its SHAP value), ``lower``
    when they push it towards random; ``mean_diff`` is the attention minus random mean of the
    feature in standard deviations. See :func:`explain` for the models and options.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``feature``, ``au``, ``stat`` (delta, std, active), ``mean_abs_shap``,
        ``rank``, ``direction``, ``shap_corr``, ``mean_diff``.
    """
    return explain(features, seed=seed, n_splits=n_splits, **kwargs).table


def plot_importances(explanation: Explanation, model: str = "Random Forest", kind: str = "bar",
                     top: int = 10, ax=None):
    """Bar plot of mean |SHAP| or a beeswarm of SHAP values for the ``top`` features.

    Bars are coloured by direction (attention colour: higher in attention slices; random
    colour: lower). In the beeswarm, each dot is a held-out slice, its colour the feature's
    value (percentile within the feature, from low to high).
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LinearSegmentedColormap

    from .plots import COLORS

    if model not in explanation.values:
        raise KeyError(f"no SHAP values for model {model!r}; have {list(explanation.values)}")
    table = explanation.table[explanation.table["model"] == model].sort_values("rank").head(top)
    names = list(table["feature"])[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.35 * len(names) + 1.2))
    if kind == "bar":
        colors = [COLORS["attention"] if d == "higher" else COLORS["random"] for d in table["direction"]][::-1]
        ax.barh(names, table["mean_abs_shap"].to_numpy()[::-1], color=colors)
        ax.set_xlabel("mean |SHAP value| (" + ("log-odds" if model == "Lasso" else "probability") + ")")
        from matplotlib.patches import Patch
        ax.legend(handles=[Patch(color=COLORS["attention"], label="higher in attention slices"),
                           Patch(color=COLORS["random"], label="lower in attention slices")],
                  loc="lower right")
    elif kind == "beeswarm":
        cmap = LinearSegmentedColormap.from_list("low-high", [COLORS["random"], "#dddddd", COLORS["attention"]])
        rng = np.random.default_rng(0)
        sv = explanation.values[model]
        for i, name in enumerate(names):
            s = sv[name].to_numpy()
            x = explanation.data[name].to_numpy(np.float64)
            colour = pd.Series(x).rank(pct=True).to_numpy()
            ax.scatter(s, i + _swarm_offsets(s, rng), c=colour, cmap=cmap, s=6, vmin=0, vmax=1, lw=0)
        ax.set_yticks(range(len(names)), names)
        ax.axvline(0, color="#666666", lw=0.8)
        ax.set_xlabel("SHAP value (towards attention →)")
        sm = plt.cm.ScalarMappable(cmap=cmap)
        cb = plt.colorbar(sm, ax=ax, pad=0.01)
        cb.set_label("feature value (percentile)")
    else:
        raise ValueError(f"kind must be 'bar' or 'beeswarm', got {kind!r}")
    ax.set_title(model)
    return ax


def _swarm_offsets(s: np.ndarray, rng, width: float = 0.4, bins: int = 60) -> np.ndarray:
    # Spread dots vertically in proportion to local density, as a beeswarm does.
    if len(s) == 0 or np.ptp(s) == 0:
        return rng.uniform(-width / 4, width / 4, len(s))
    idx = np.clip(((s - s.min()) / np.ptp(s) * bins).astype(int), 0, bins - 1)
    counts = np.bincount(idx, minlength=bins)
    spread = counts[idx] / counts.max()
    return rng.uniform(-1, 1, len(s)) * width * spread
