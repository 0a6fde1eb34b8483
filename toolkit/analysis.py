"""Analyses of slices: are attention slices different, which expressions, and what they find.

- :func:`salience`: a label-free attention-like curve (each frame's deviation from the answer's
  usual), the control that knows nothing of the label (DESIGN section 6).
- :func:`baseline_f1`, :func:`attention_vs_random`, :func:`poster_table`: can a classifier tell
  attention slices from random slices with facial features only (DESIGN section 1, point 2)?
- :func:`explain`, :func:`importances`, :func:`plot_importances`: which features make the
  difference (SHAP on held-out folds)?
- :func:`recovery`, :func:`slice_positions`: on a simulated corpus, how often slices hit the
  planted moments, and the preference for label-linked over label-free moments.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as _stats

from . import _io
from .slices import _as_table, feature_columns

__all__ = [
    "salience", "baseline_f1", "make_models", "cross_validate", "summarize", "attention_vs_random",
    "poster_table", "POSTER", "Explanation", "explain", "importances", "plot_importances",
    "plot_scores", "recovery", "slice_positions", "location_of",
]

#: The poster's F1 scores (attention class, random class, their mean).
POSTER = pd.DataFrame(
    [("Lasso", 0.812, 0.955, 0.884), ("Random Forest", 0.760, 0.945, 0.852),
     ("coin flip", 0.286, 0.614, 0.450), ("majority", 0.0, 0.888, 0.444)],
    columns=["model", "f1_attention", "f1_random", "f1_mean"],
)

#: Fractions of an answer that count as its start and its end.
EDGE_FRACTION = 0.2

_METRICS = ("f1_attention", "f1_random", "f1_mean", "auc")


# --------------------------------------------------------------------------- salience

def salience(corpus, answer_ids=None, columns: list[str] | None = None) -> pd.DataFrame:
    """The label-free salience score: how far each frame is from the answer's usual.

    Per answer, each feature is standardised (divided by its standard deviation over the
    answer's success frames; a constant feature contributes nothing); a frame's score is its
    squared distance from the answer's median, summed over features, normalised to sum to 1
    per answer, so it reads like attention weights.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
    answer_ids : iterable of str, optional
        Only these answers (default: all).
    columns : list of str, optional
        Features (default: the corpus's AUs, else all its features).

    Returns
    -------
    pandas.DataFrame
        ``answer_id``, ``time_s``, ``weight``; NaN weight on frames without a face.
    """
    columns = list(columns or corpus.aus or corpus.features)
    frames = corpus.frames
    if answer_ids is not None:
        frames = frames[frames["answer_id"].isin(set(map(str, answer_ids)))]
    ok = frames["success"].to_numpy(bool)
    X = frames[columns].to_numpy(np.float64)
    ok = ok & np.isfinite(X).all(axis=1)
    X = pd.DataFrame(np.where(ok[:, None], X, np.nan), columns=columns, index=frames.index)
    g = X.groupby(frames["answer_id"].to_numpy(), sort=False)
    med = g.transform("median")
    sd = g.transform("std", ddof=0)
    z2 = ((X - med) / sd.where(sd > 0)) ** 2
    score = z2.sum(axis=1).where(ok)  # a constant feature (NaN z) adds nothing
    total = score.groupby(frames["answer_id"].to_numpy(), sort=False).transform("sum")
    n = pd.Series(ok.astype(float), index=frames.index).groupby(frames["answer_id"].to_numpy(),
                                                                 sort=False).transform("sum")
    # An answer without any deviation gets the uniform curve (its slices are then skipped as flat).
    weight = np.where(total > 0, score / total.where(total > 0), 1.0 / n.where(n > 0))
    weight = np.where(ok, weight, np.nan)
    return pd.DataFrame({"answer_id": frames["answer_id"].to_numpy(), "time_s": frames["time_s"].to_numpy(),
                         "weight": weight}).reset_index(drop=True)


# --------------------------------------------------------------------------- attention vs random

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


def make_models(seed: int = 0, n_trees: int = 100) -> dict:
    """The classifiers compared, as fresh scikit-learn estimators.

    ``coin flip`` (uniform guess), ``majority`` (the larger kind), ``Lasso`` (L1 logistic
    regression on standardised features, its strength chosen by an inner 3-fold
    cross-validation grouped by candidate, scaler fitted on training folds only) and
    ``Random Forest`` (``n_trees`` trees of depth at most 8, which keeps SHAP fast).
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    lasso = Pipeline([("scale", StandardScaler()),
                      ("model", LogisticRegression(l1_ratio=1.0, solver="liblinear", max_iter=1000,
                                                    random_state=seed))])
    return {
        "coin flip": DummyClassifier(strategy="uniform", random_state=seed),
        "majority": DummyClassifier(strategy="most_frequent"),
        "Lasso": GridSearchCV(lasso, {"model__C": np.logspace(-3, 1, 7)}, scoring="roc_auc",
                              cv=GroupKFold(3, shuffle=True, random_state=seed)),
        "Random Forest": RandomForestClassifier(n_estimators=n_trees, max_depth=8, min_samples_leaf=3,
                                                random_state=seed, n_jobs=1),
    }


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


def _splits(y, groups, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test indices of a cross-validation grouped by candidate (shuffled by ``seed``)."""
    from sklearn.model_selection import GroupKFold

    if len(np.unique(groups)) < n_splits:
        raise ValueError(f"{len(np.unique(groups))} candidates cannot fill {n_splits} folds")
    return list(GroupKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


def _fold_scores(y, proba, pred) -> dict:
    from sklearn.metrics import f1_score, roc_auc_score

    f1 = f1_score(y, pred, average=None, labels=[1, 0], zero_division=0.0)
    auc = roc_auc_score(y, proba) if len(np.unique(y)) == 2 else np.nan
    return {"f1_attention": f1[0], "f1_random": f1[1], "f1_mean": f1.mean(), "auc": auc}


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
        for f, (train, test) in enumerate(_splits(y, groups, n_splits, seed + r)):
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

    Coin flip, majority class, Lasso and Random Forest (:func:`make_models`), cross-validated
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
            ax.plot(x, pv, "x", color=colors[i % len(colors)], ms=8, mew=2,
                    label="poster" if i == 0 else None)
    ax.set_xticks(np.arange(len(metrics)), [m.replace("f1_", "F1 ").replace("auc", "AUC") for m in metrics])
    ax.set_ylabel("score (0-1)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5))
    return ax


# --------------------------------------------------------------------------- importances

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
    splits = _splits(y, groups, n_splits, seed)
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


# --------------------------------------------------------------------------- recovery of planted moments

def location_of(relative_time) -> np.ndarray:
    """``start`` (first 20 % of the answer), ``end`` (last 20 %) or ``middle``."""
    r = np.asarray(relative_time, dtype=np.float64)
    return np.where(r < EDGE_FRACTION, "start", np.where(r > 1 - EDGE_FRACTION, "end", "middle"))


def _answer_spans(corpus, answers) -> pd.DataFrame:
    frames = corpus.frames[corpus.frames["answer_id"].isin(set(answers))]
    span = frames.groupby("answer_id")["time_s"].agg(["min", "max"])
    missing = set(answers) - set(span.index)
    if missing:
        raise ValueError(f"answer {sorted(missing)[0]!r} has no frames in the corpus")
    return span.rename(columns={"min": "t0", "max": "t1"})


def slice_positions(slices, corpus) -> pd.DataFrame:
    """Duration and place of each slice in its answer.

    Returns
    -------
    pandas.DataFrame
        ``slice_id``, ``answer_id``, ``kind``, ``duration_s``, ``answer_duration_s``,
        ``relative_time`` (slice centre, 0 = answer start, 1 = end), ``relative_peak``
        (attention slices), ``location`` (start / middle / end, from the centre).
    """
    table = _as_table(slices)
    span = _answer_spans(corpus, table["answer_id"].unique())
    t0 = table["answer_id"].map(span["t0"]).to_numpy()
    t1 = table["answer_id"].map(span["t1"]).to_numpy()
    length = np.where(t1 > t0, t1 - t0, np.nan)
    centre = (table["start_s"].to_numpy() + table["end_s"].to_numpy()) / 2
    out = table[["slice_id", "answer_id", "kind"]].copy()
    out["duration_s"] = table["end_s"].to_numpy() - table["start_s"].to_numpy()
    out["answer_duration_s"] = t1 - t0
    out["relative_time"] = (centre - t0) / length
    peak = table["peak_s"].to_numpy(np.float64) if "peak_s" in table else np.full(len(table), np.nan)
    out["relative_peak"] = (peak - t0) / length
    out["location"] = location_of(out["relative_time"])
    return out


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, -np.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _chance(duration: float, t0: float, t1: float, episodes: list[tuple[float, float]]) -> float:
    """Probability that a slice of ``duration`` with a uniform start in the answer overlaps an episode."""
    if not episodes:
        return 0.0
    last = t1 - duration
    if last <= t0:
        return 1.0 if any(a < t1 and b > t0 for a, b in episodes) else 0.0
    # Overlap when start in (a - duration, b); intersect with the allowed starts [t0, last].
    hits = [(max(a - duration, t0), min(b, last)) for a, b in episodes]
    hits = [(a, b) for a, b in hits if b > a]
    return _union_length(hits) / (last - t0)


def recovery(slices, episodes: pd.DataFrame, corpus, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """How often slices overlap the planted moments of a simulated corpus.

    For each kind of moment (``linked`` = the label-linked kinds, anxiety and positive, then
    each kind, ``distractor`` among them) and each location of the moment in the answer
    (``all``, ``start`` = centre in the first 20 %, ``middle``, ``end`` = last 20 %), among the
    answers that hold such a moment:

    ``p_attention``
        share of attention slices that overlap one (any positive-length intersection);
    ``p_random``
        the same for random slices (averaged over an answer's random slices);
    ``p_chance``
        the expected overlap of an interval of the attention slice's duration with a uniform
        start in the answer, computed exactly;
    ``ratio``
        ``p_attention / p_random``;
    ``preference`` (moment ``linked vs distractor``)
        ``(p_att(linked) / p_rand(linked)) / (p_att(distractor) / p_rand(distractor))``: the
        preference for label-linked over equally salient label-free moments, relative to
        random slices (1 = none; DESIGN section 6).

    Intervals come from a bootstrap over candidates (``n_boot`` resamples).

    Parameters
    ----------
    slices : SliceSet or pandas.DataFrame
    episodes : pandas.DataFrame
        ``answer_id``, ``kind``, ``start_s``, ``end_s``, optionally ``linked`` (bool; default:
        every kind but ``distractor`` is linked).
    corpus : toolkit.corpus.Corpus
        For the answers' spans.

    Returns
    -------
    pandas.DataFrame
        ``moment``, ``location``, ``metric``, ``value``, ``ci_low``, ``ci_high``, ``n_answers``.
    """
    table = _as_table(slices)
    missing = [c for c in ("answer_id", "kind", "start_s", "end_s") if c not in episodes.columns]
    if missing:
        raise ValueError(f"episodes: missing column(s) {missing}")
    att = table[table["kind"] == "attention"].drop_duplicates("answer_id").set_index("answer_id")
    if att.empty:
        raise ValueError("slices: no attention slice")
    rnd = table[(table["kind"] == "random") & table["answer_id"].isin(att.index)]
    answers = np.asarray(att.index, dtype=object)
    span = _answer_spans(corpus, answers)
    eps = episodes.assign(answer_id=episodes["answer_id"].astype(str))
    eps = eps[eps["answer_id"].isin(set(answers))].copy()
    if "linked" in eps.columns:
        linked = eps["linked"].astype(str).str.lower().isin(["true", "1"])
    else:
        linked = eps["kind"].astype(str) != "distractor"
    eps["linked"] = linked.to_numpy()
    t0 = eps["answer_id"].map(span["t0"]).to_numpy()
    t1 = eps["answer_id"].map(span["t1"]).to_numpy()
    centre = (eps["start_s"].to_numpy() + eps["end_s"].to_numpy()) / 2
    eps["location"] = location_of((centre - t0) / np.where(t1 > t0, t1 - t0, np.nan))

    groups = [("linked", eps["linked"].to_numpy(bool))]
    groups += [(k, (eps["kind"].astype(str) == k).to_numpy(bool)) for k in sorted(eps["kind"].astype(str).unique())]
    locations = ["all", "start", "middle", "end"]
    group_mask = np.stack([m for _, m in groups])                                   # (groups, episodes)
    loc_mask = np.stack([np.ones(len(eps), bool)] +
                        [(eps["location"] == loc).to_numpy(bool) for loc in locations[1:]])  # (locations, episodes)
    ep_start, ep_end = eps["start_s"].to_numpy(np.float64), eps["end_s"].to_numpy(np.float64)
    ep_answer = eps["answer_id"].to_numpy()
    rnd_by_answer = {a: g[["start_s", "end_s"]].to_numpy(np.float64) for a, g in rnd.groupby("answer_id")}
    n_a = len(answers)
    shape = (len(groups), len(locations), n_a)
    has, hit_att, hit_rnd, chance = (np.zeros(shape) for _ in range(4))
    order = np.argsort(ep_answer, kind="stable")
    bounds = np.searchsorted(ep_answer[order], answers, side="left"), np.searchsorted(ep_answer[order], answers,
                                                                                      side="right")
    att_start = att.loc[answers, "start_s"].to_numpy(np.float64)
    att_end = att.loc[answers, "end_s"].to_numpy(np.float64)
    for ai, a in enumerate(answers):
        idx = order[bounds[0][ai]:bounds[1][ai]]
        if len(idx) == 0:
            continue
        s_att, e_att = att_start[ai], att_end[ai]
        a0, a1 = ep_start[idx], ep_end[idx]
        over_att = (s_att < a1) & (e_att > a0)                                       # (episodes,)
        r = rnd_by_answer.get(a, np.empty((0, 2)))
        over_rnd = (r[:, [0]] < a1) & (r[:, [1]] > a0)                              # (random slices, episodes)
        member = group_mask[:, None, idx] & loc_mask[None, :, idx]                 # (groups, locations, episodes)
        present = member.any(axis=2)
        has[:, :, ai] = present
        hit_att[:, :, ai] = (member & over_att).any(axis=2)
        if len(r):
            hit_rnd[:, :, ai] = (member[:, :, None, :] & over_rnd[None, None]).any(axis=3).mean(axis=2)
        else:
            hit_rnd[:, :, ai] = np.nan
        t0, t1 = span.loc[a, "t0"], span.loc[a, "t1"]
        for gi, li in zip(*np.nonzero(present)):
            sel = member[gi, li]
            chance[gi, li, ai] = _chance(e_att - s_att, t0, t1, list(zip(a0[sel], a1[sel])))

    # Bootstrap weights over candidates, mapped to answers (weight 1 = the observed sample).
    cand = att.loc[answers, "candidate_id"].astype(str).to_numpy()
    codes, uniq = pd.factorize(cand)
    rng = np.random.default_rng(seed)
    W = rng.multinomial(len(uniq), np.full(len(uniq), 1 / len(uniq)), size=n_boot)[:, codes].astype(float)
    W = np.vstack([np.ones(n_a), W])  # row 0: the sample itself

    def rate(hits):
        with np.errstate(invalid="ignore", divide="ignore"):
            return (np.nan_to_num(hits * has) @ W.T) / (has @ W.T)  # (groups, locations, 1 + n_boot)

    p_att, p_rnd, p_chance = rate(hit_att), rate(hit_rnd), rate(chance)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = p_att / p_rnd
    n_answers = has.sum(axis=2)
    rows = []

    def add(moment, loc, metric, boot, n):
        ci = np.nanpercentile(boot[1:], [2.5, 97.5]) if np.isfinite(boot[1:]).any() else (np.nan, np.nan)
        rows.append((moment, loc, metric, float(boot[0]), float(ci[0]), float(ci[1]), int(n)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for gi, (name, _) in enumerate(groups):
            for li, loc in enumerate(locations):
                if n_answers[gi, li] == 0:
                    continue
                for metric, arr in [("p_attention", p_att), ("p_random", p_rnd), ("p_chance", p_chance),
                                    ("ratio", ratio)]:
                    add(name, loc, metric, arr[gi, li], n_answers[gi, li])
        names = [g[0] for g in groups]
        if "distractor" in names:
            di = names.index("distractor")
            for li, loc in enumerate(locations):
                if n_answers[0, li] and n_answers[di, li]:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        pref = ratio[0, li] / ratio[di, li]
                    add("linked vs distractor", loc, "preference", pref, min(n_answers[0, li], n_answers[di, li]))
    return pd.DataFrame(rows, columns=["moment", "location", "metric", "value", "ci_low", "ci_high", "n_answers"])


