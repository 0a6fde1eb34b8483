"""Bias control: a fairness audit of every model, what representations reveal, and post-processing.

The poster's third future direction ("bias control"). A sensitive attribute is a column of the
corpus manifest (e.g. ``gender``), one value per candidate. Three questions:

audit (:func:`audit`)
    By group of the attribute: the selection rate at the operating threshold, the true and false
    positive rates, the AUC and calibration (mean score minus the invitation rate, and the Brier
    score), with fairlearn's :class:`~fairlearn.metrics.MetricFrame`; their differences between
    groups, among them the demographic parity difference and the equalised odds difference
    (fairlearn's definitions); 95 % bootstrap intervals that resample positions (the candidates of
    a position share a recruiter). ``results/fairness.csv`` of a run is this table.
what a representation reveals (:func:`reveal`)
    How well the attribute can be predicted (grouped cross-validated AUC, logistic regression) from
    a table of per-candidate features: HireNet's candidate representation, or slice features of
    attention and of random slices.
post-processing (:func:`threshold_optimizer`)
    fairlearn's :class:`~fairlearn.postprocessing.ThresholdOptimizer`, the baseline beside which
    adversarial debiasing (:mod:`toolkit.training`, ``adversary``) is judged.

The operating threshold. By default (``threshold="prevalence"``) a model invites the same share of
candidates as the corpus does: the scores above their ``1 - prevalence`` quantile. It applies alike
to HireNet's probabilities and to the slice models' decision values, and is what a recruiter who
shortlists a fixed share does.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["METRICS", "audit", "candidate_attribute", "reveal", "threshold_optimizer"]

#: Metrics per group, then the between-group differences (``group == "difference"``).
METRICS = ("selection_rate", "tpr", "fpr", "auc", "calibration", "brier", "n_candidates")


def candidate_attribute(manifest: pd.DataFrame, attribute: str) -> pd.Series:
    """The attribute of each candidate (index ``candidate_id``), checked: one value per candidate, two groups or more.

    Raises
    ------
    ValueError
        When the column is missing, has an empty value, differs between a candidate's answers, or
        has a single value.
    """
    if attribute not in manifest.columns:
        raise ValueError(f"manifest.csv: no column {attribute!r} for the fairness audit "
                         f"(columns: {', '.join(map(str, manifest.columns))})")
    values = manifest[["candidate_id", attribute]].copy()
    values["candidate_id"] = values["candidate_id"].astype(str)
    empty = values[attribute].isna() | values[attribute].astype(str).str.strip().eq("")
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise ValueError(f"manifest.csv, row {row + 1}, column {attribute!r}: empty value "
                         f"(candidate {values['candidate_id'].iloc[row]!r})")
    per = values.groupby("candidate_id")[attribute].nunique()
    if (per > 1).any():
        raise ValueError(f"manifest.csv, column {attribute!r}: candidate {per[per > 1].index[0]!r} has more than one "
                         f"value across its answers")
    out = values.drop_duplicates("candidate_id").set_index("candidate_id")[attribute].astype(str)
    if out.nunique() < 2:
        raise ValueError(f"manifest.csv, column {attribute!r}: a single value ({out.iloc[0]!r}); an audit needs two "
                         f"groups or more")
    return out


def _predictions(score: np.ndarray, label: np.ndarray, threshold) -> np.ndarray:
    if threshold == "prevalence":
        cut = np.quantile(score, 1 - label.mean())
        return (score > cut).astype(int) if (score > cut).any() else (score >= cut).astype(int)
    return (score >= float(threshold)).astype(int)


def _calibration(y_true, y_score) -> float:
    """Calibration in the large: mean score minus the invitation rate (0: calibrated on average)."""
    return float(np.mean(y_score) - np.mean(y_true))


def _brier(y_true, y_score) -> float:
    """The Brier score of probabilities (NaN for scores outside [0, 1], e.g. decision values)."""
    from sklearn.metrics import brier_score_loss

    y_score = np.asarray(y_score, float)
    if not np.all((y_score >= 0) & (y_score <= 1)):
        return float("nan")
    return float(brier_score_loss(y_true, y_score))


def _metric_frames(y: np.ndarray, score: np.ndarray, predicted: np.ndarray, group: np.ndarray) -> pd.DataFrame:
    """Per group and between groups: the metrics of :data:`METRICS` (fairlearn's MetricFrame)."""
    from fairlearn.metrics import (MetricFrame, count, demographic_parity_difference, equalized_odds_difference,
                                   false_positive_rate, selection_rate, true_positive_rate)

    from .stats import auc_or_nan

    hard = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                                "fpr": false_positive_rate, "n_candidates": count},
                       y_true=y, y_pred=predicted, sensitive_features=pd.Series(group, name="group"))
    soft = MetricFrame(metrics={"auc": auc_or_nan, "calibration": _calibration, "brier": _brier},
                       y_true=y, y_pred=score, sensitive_features=pd.Series(group, name="group"))
    by_group = pd.concat([hard.by_group, soft.by_group], axis=1).astype(float)
    difference = pd.concat([hard.difference(method="between_groups"), soft.difference(method="between_groups")])
    difference = difference.drop("n_candidates")
    difference["demographic_parity"] = demographic_parity_difference(y, predicted, sensitive_features=group)
    difference["equalized_odds"] = equalized_odds_difference(y, predicted, sensitive_features=group)
    if len(by_group) == 2:
        # two groups: signed, the second (sorted) minus the first; the absolute values are fairlearn's
        signed = by_group.iloc[1] - by_group.iloc[0]
        tpr_wins = abs(signed["tpr"]) >= abs(signed["fpr"])
        signed["demographic_parity"] = signed["selection_rate"]
        signed["equalized_odds"] = signed["tpr"] if tpr_wins else signed["fpr"]
        difference = signed.drop("n_candidates")
    by_group = by_group.reindex(columns=list(_COLUMNS))
    by_group.loc["difference"] = difference.reindex(list(_COLUMNS)).astype(float)
    return by_group


def _resampled_metrics(y: np.ndarray, score: np.ndarray, predicted: np.ndarray, codes: np.ndarray,
                       levels: list, draws: np.ndarray, probability: bool) -> np.ndarray:
    """The metrics of :func:`_metric_frames` on many resamples at once (rows ``draws``: (replicates, n) indices).

    The same definitions as fairlearn's, vectorised over the replicates so that a thousand of them
    take a second; ``tests/test_fairness.py`` checks them against :func:`_metric_frames`.
    Returns (replicates, groups + 1, metrics) in the layout of :func:`_metric_frames`' frame.
    """
    from scipy.stats import rankdata

    n_rep = draws.shape[0]
    n_groups = len(levels)
    yd, sd, pd_, gd = y[draws], score[draws], predicted[draws], codes[draws]
    out = np.full((n_rep, n_groups + 1, 9), np.nan)  # columns as the frame's, see _COLUMNS
    for g in range(n_groups):
        in_g = gd == g
        n = in_g.sum(1)
        pos = (in_g & (yd == 1)).sum(1)
        neg = (in_g & (yd == 0)).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, g, 0] = (in_g & (pd_ == 1)).sum(1) / n
            out[:, g, 1] = (in_g & (yd == 1) & (pd_ == 1)).sum(1) / pos
            out[:, g, 2] = (in_g & (yd == 0) & (pd_ == 1)).sum(1) / neg
            out[:, g, 3] = n
            # AUC by ranks (Mann-Whitney), ties averaged
            masked = np.where(in_g, sd, np.inf)
            ranks = rankdata(masked, axis=1)
            rank_pos = np.where(in_g & (yd == 1), ranks, 0).sum(1)
            out[:, g, 4] = np.where((pos > 0) & (neg > 0), (rank_pos - pos * (pos + 1) / 2) / (pos * neg), np.nan)
            out[:, g, 5] = np.where(in_g, sd, 0).sum(1) / n - pos / n
            out[:, g, 6] = (np.where(in_g, (sd - yd) ** 2, 0).sum(1) / n) if probability else np.nan
    groups = out[:, :n_groups, :7]
    if n_groups == 2:
        out[:, 2, :7] = groups[:, 1] - groups[:, 0]
        tpr_wins = np.abs(out[:, 2, 1]) >= np.abs(out[:, 2, 2])
        out[:, 2, 8] = np.where(tpr_wins, out[:, 2, 1], out[:, 2, 2])
    else:
        with np.errstate(invalid="ignore"):
            out[:, n_groups, :7] = np.nanmax(groups, 1) - np.nanmin(groups, 1)
        out[:, n_groups, 8] = np.maximum(out[:, n_groups, 1], out[:, n_groups, 2])
    out[:, n_groups, 3] = np.nan
    out[:, n_groups, 7] = out[:, n_groups, 0]
    return out


#: The columns of :func:`_metric_frames`' frame, in the order :func:`_resampled_metrics` fills them.
_COLUMNS = ("selection_rate", "tpr", "fpr", "n_candidates", "auc", "calibration", "brier", "demographic_parity",
            "equalized_odds")


def audit(scores: pd.DataFrame, attribute: pd.Series, model: str = "hirenet", threshold="prevalence",
          n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Fairness metrics of one model's out-of-fold scores by group of a sensitive attribute.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``candidate_id``, ``position_id``, ``label``, ``score`` (out of fold; a run's
        ``predictions.csv`` with ``position_id``, or a hirability model's scores).
    attribute : pandas.Series
        The attribute of each candidate, index ``candidate_id`` (:func:`candidate_attribute`).
    model : str
        The model's name in the table.
    threshold : "prevalence" or float
        The operating threshold: ``"prevalence"`` invites the corpus's share of candidates (the
        highest scores), a number invites the scores at or above it.
    n_boot, seed : int
        Bootstrap replicates (resampling positions, each candidate keeping the decision of the
        operating threshold) and seed; 0: no interval.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``attribute``, ``group`` (a value of the attribute, or ``difference``),
        ``metric`` (:data:`METRICS`; ``demographic_parity`` and ``equalized_odds`` for the
        differences), ``value``, ``ci_low``, ``ci_high`` (``results/fairness.csv``). With two
        groups a difference is signed, the second group (in sorted order) minus the first, so that
        its interval can include zero; its absolute value is fairlearn's (``demographic_parity``:
        the selection-rate difference; ``equalized_odds``: the larger in absolute value of the TPR
        and FPR differences). With more groups it is the largest minus the smallest value
        (fairlearn's ``between_groups``).
    """
    for col in ("candidate_id", "position_id", "label", "score"):
        if col not in scores.columns:
            raise ValueError(f"scores: missing column {col!r}")
    table = scores.assign(candidate_id=scores["candidate_id"].astype(str)).dropna(subset=["score"])
    missing = sorted(set(table["candidate_id"]) - set(attribute.index.astype(str)))
    if missing:
        raise ValueError(f"attribute {attribute.name!r}: no value for candidate {missing[0]!r}")
    group = table["candidate_id"].map(attribute).to_numpy(str)
    y = table["label"].to_numpy(int)
    score = table["score"].to_numpy(float)
    predicted = _predictions(score, y, threshold)
    observed = _metric_frames(y, score, predicted, group)[list(_COLUMNS)]
    long = observed.stack(future_stack=True).rename("value").reset_index()
    long.columns = ["group", "metric", "value"]
    long["ci_low"] = long["ci_high"] = np.nan
    if n_boot:
        # resample positions (the candidates of a position share a recruiter), then the metrics of every draw
        positions = table["position_id"].astype(str).to_numpy()
        codes, _ = pd.factorize(positions)
        members = [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]
        rng = np.random.default_rng(seed)
        picks = [np.concatenate([members[k] for k in rng.integers(0, len(members), len(members))])
                 for _ in range(n_boot)]
        # positions differ in size: pad every draw with a sentinel candidate in no group
        draws = np.full((n_boot, max(len(r) for r in picks)), len(y))
        for i, r in enumerate(picks):
            draws[i, :len(r)] = r
        levels = list(observed.index[:-1])
        group_codes = np.r_[np.array([levels.index(g) for g in group]), -1]
        metrics = _resampled_metrics(np.r_[y, 0], np.r_[score, 0.0], np.r_[predicted, 0], group_codes, levels,
                                     draws, probability=bool(np.all((score >= 0) & (score <= 1))))
        for i, g in enumerate([*levels, "difference"]):
            for j, metric in enumerate(_COLUMNS):
                at = (long["group"] == g) & (long["metric"] == metric)
                values = metrics[:, i, j]
                values = values[np.isfinite(values)]
                if at.any() and len(values):
                    long.loc[at, "ci_low"] = np.quantile(values, 0.025)
                    long.loc[at, "ci_high"] = np.quantile(values, 0.975)
    long = long.dropna(subset=["value"]).reset_index(drop=True)
    long.insert(0, "attribute", attribute.name)
    long.insert(0, "model", model)
    return long[["model", "attribute", "group", "metric", "value", "ci_low", "ci_high"]]


def reveal(features: pd.DataFrame, attribute: pd.Series, groups: pd.Series | None = None, folds: int = 5,
           seed: int = 0, n_boot: int = 1000) -> dict:
    """How well the attribute can be predicted from per-candidate features (grouped cross-validated AUC).

    Parameters
    ----------
    features : pandas.DataFrame
        One row per candidate, index ``candidate_id``, numeric columns (a candidate
        representation, or slice features).
    attribute : pandas.Series
        Index ``candidate_id``; two groups (the first value in sorted order is the negative class).
    groups : pandas.Series, optional
        Index ``candidate_id``: the cross-validation groups (e.g. ``position_id``); default: none.
    folds, seed, n_boot : int

    Returns
    -------
    dict
        ``auc`` (out of fold, logistic regression on standardised features, 0.5: nothing revealed),
        ``ci_low``, ``ci_high`` (bootstrap over candidates, conditional on the fitted models),
        ``n_candidates``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .stats import auc_or_nan

    index = features.index.astype(str)
    values = attribute.reindex(index)
    if values.isna().any():
        raise ValueError(f"attribute {attribute.name!r}: no value for candidate {index[values.isna()][0]!r}")
    levels = sorted(values.unique())
    if len(levels) != 2:
        raise ValueError(f"attribute {attribute.name!r}: reveal needs two groups, got {len(levels)}")
    y = (values.to_numpy() == levels[1]).astype(int)
    X = features.to_numpy(float)
    keep = np.isfinite(X).all(axis=1)
    X, y = X[keep], y[keep]
    score = np.full(len(y), np.nan)
    if groups is not None:
        g = groups.reindex(index).astype(str).to_numpy()[keep]
        splits = GroupKFold(n_splits=folds).split(X, y, g)
    else:
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(X, y)
    for train, test in splits:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(X[train], y[train])
        score[test] = model.decision_function(X[test])
    rng = np.random.default_rng(seed)
    boot = [auc_or_nan(y[r], score[r]) for r in (rng.integers(0, len(y), len(y)) for _ in range(n_boot))]
    return {"auc": auc_or_nan(y, score), "ci_low": float(np.nanquantile(boot, 0.025)) if n_boot else np.nan,
            "ci_high": float(np.nanquantile(boot, 0.975)) if n_boot else np.nan, "n_candidates": int(len(y))}


def _score_estimator():
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Score(ClassifierMixin, BaseEstimator):
        """A fitted 'estimator' whose prediction is its input's first column: the score itself."""

        def fit(self, X, y):
            self.fitted_ = True
            return self

        def predict(self, X):
            return np.asarray(X)[:, 0]

    return Score


def threshold_optimizer(scores: pd.DataFrame, attribute: pd.Series, constraint: str = "demographic_parity",
                        seed: int = 0) -> pd.DataFrame:
    """fairlearn's ThresholdOptimizer on out-of-fold scores, cross-fitted by fold: the post-processing baseline.

    For each fold, group-specific thresholds are chosen on the other folds' scores and applied to
    this fold's, so no candidate's decision comes from thresholds fitted on it.

    Returns
    -------
    pandas.DataFrame
        ``scores`` with ``score`` replaced by the post-processed decision's probability of
        invitation (fairlearn's randomised thresholds, ``predict_method="auto"``), ready for
        :func:`audit` with ``threshold=0.5``.
    """
    from fairlearn.postprocessing import ThresholdOptimizer

    _Score = _score_estimator()
    for col in ("candidate_id", "label", "score", "fold"):
        if col not in scores.columns:
            raise ValueError(f"scores: missing column {col!r}")

    table = scores.assign(candidate_id=scores["candidate_id"].astype(str)).reset_index(drop=True)
    group = table["candidate_id"].map(attribute).astype(str)
    out = table.copy()
    for k in sorted(table["fold"].unique()):
        train = table["fold"] != k
        optimizer = ThresholdOptimizer(estimator=_Score().fit(None, None), constraints=constraint, prefit=True,
                                       predict_method="predict", objective="balanced_accuracy_score")
        optimizer.fit(table.loc[train, ["score"]], table.loc[train, "label"], sensitive_features=group[train])
        test = ~train
        out.loc[test, "score"] = optimizer._pmf_predict(table.loc[test, ["score"]],
                                                        sensitive_features=group[test])[:, 1]
    return out
