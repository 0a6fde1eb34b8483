"""Do attention slices carry more hirability information than random thin slices? (DESIGN 1.4, 6)

The poster trains four classifiers on the facial features of one thin slice per candidate and
compares their AUCs (random / attention): RF 0.545 / 0.554, Lasso 0.517 / 0.550, linear SVM
0.518 / 0.543, RBF SVM 0.528 / 0.537, "significant". This module reproduces that comparison and
tests it.

Choices (the poster leaves them open; the book says so):

* **One slice per candidate and kind.** A candidate's attention features are those of its
  attention slice (question 1 by default); its random features in *draw* ``r`` are those of its
  ``r``-th random slice. Every draw is one thin slice per candidate, exactly like the
  attention kind, so the comparison is like for like. (Averaging the features of four random
  slices would give random slices an advantage the attention slice does not have: less noise.)
  When several questions are sliced, a candidate's slices of one kind and draw are averaged.
* **Draw 0** is "the" random kind of the AUC table and of the paired tests; draws 1.. make the
  **redraw null**: the random slices drawn again, the whole pipeline rerun for each draw.
* **Cross-validation grouped by position**, the same outer folds for every model, kind and
  draw (paired scores); hyper-parameters by an inner cross-validation, itself grouped by
  position, on the training folds only; preprocessing (median imputation, standardisation)
  inside the pipeline, so it is fitted on training folds only.
* **Scores are out-of-fold**: every candidate is scored by the model that did not see its
  position; the AUC is computed once on all out-of-fold scores, with a bootstrap interval that
  resamples positions.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import stats
from .folds import fold_ids, splitter
from .models import HIRABILITY_MODELS, make_model

__all__ = [
    "MODELS", "POSTER_AUC", "HirabilityResult", "candidate_features", "outer_folds",
    "cross_validated_scores", "hirability_auc", "permutation_tests", "redraw_verdict", "RedrawVerdict",
    "poster_table",
    "plot_redraw_null",
]

#: The four classifiers of the poster, in its order (built by :func:`toolkit.models.make_model`).
MODELS: tuple[str, ...] = HIRABILITY_MODELS

#: The poster's AUCs (random / attention).
POSTER_AUC = pd.DataFrame({
    "model": list(MODELS),
    "random": [0.545, 0.517, 0.518, 0.528],
    "attention": [0.554, 0.550, 0.543, 0.537],
})

#: How the AUC intervals are made, written beside them (``interval`` column): they resample the
#: out-of-fold scores of the fitted models and leave out the variance of refitting.
CONDITIONAL = "bootstrap over positions, conditional on the fitted models"

_ID_COLUMNS = ("candidate_id", "position_id", "label", "kind", "draw")
_FEATURE_SUFFIXES = ("_delta", "_std", "_active")


# --------------------------------------------------------------------------- per-candidate features

def candidate_features(features: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    """One row per candidate, kind and draw: the slice features with the candidate's label and position.

    Parameters
    ----------
    features : pandas.DataFrame
        Slice features (:func:`toolkit.slices.features`): ``answer_id``, ``candidate_id``,
        ``kind`` and feature columns ending in ``_delta``, ``_std`` or ``_active``. The random
        slices of an answer are numbered in table order: the first is draw 0, the second draw 1...
    candidates : pandas.DataFrame
        ``candidate_id``, ``position_id``, ``label`` (e.g. ``corpus.candidates``).

    Returns
    -------
    pandas.DataFrame
        ``candidate_id``, ``position_id``, ``label``, ``kind``, ``draw`` (0 for attention), then
        the feature columns; only candidates with an attention slice; draws that some of those
        candidates lack are dropped with a warning.
    """
    for col in ("answer_id", "candidate_id", "kind"):
        if col not in features.columns:
            raise ValueError(f"slice features: missing column {col!r}")
    cols = [c for c in features.columns if c.endswith(_FEATURE_SUFFIXES)]
    if not cols:
        raise ValueError("slice features: no feature column (names ending in _delta, _std or _active)")
    for col in ("candidate_id", "position_id", "label"):
        if col not in candidates.columns:
            raise ValueError(f"candidates table: missing column {col!r}")
    kinds = set(features["kind"].astype(str))
    unknown = kinds - {"attention", "random"}
    if unknown:
        raise ValueError(f"slice features: unknown kind(s) {sorted(unknown)}; expected attention, random")
    cand = candidates[["candidate_id", "position_id", "label"]].copy()
    cand["candidate_id"] = cand["candidate_id"].astype(str)
    dup = cand["candidate_id"].duplicated()
    if dup.any():
        raise ValueError(f"candidates table: candidate_id {cand['candidate_id'][dup].iloc[0]!r} appears twice")
    f = features[["answer_id", "candidate_id", "kind", *cols]].copy()
    f["candidate_id"] = f["candidate_id"].astype(str)
    f["kind"] = f["kind"].astype(str)
    f["draw"] = f.groupby(["answer_id", "kind"], sort=False).cumcount()
    missing = set(f["candidate_id"]) - set(cand["candidate_id"])
    if missing:
        raise ValueError(f"slice features: candidate_id {sorted(missing)[0]!r} is not in the candidates table")
    per = f.groupby(["candidate_id", "kind", "draw"], sort=True)[cols].mean().reset_index()
    with_attention = set(per.loc[per["kind"] == "attention", "candidate_id"])
    if not with_attention:
        raise ValueError("slice features: no attention slice")
    per = per[per["candidate_id"].isin(with_attention)]
    n_cand = len(with_attention)
    counts = per[per["kind"] == "random"].groupby("draw")["candidate_id"].nunique()
    partial = counts[counts < n_cand]
    if len(partial):
        warnings.warn(f"random draws {partial.index.tolist()} miss some candidates and are dropped",
                      stacklevel=2)
        per = per[~((per["kind"] == "random") & per["draw"].isin(partial.index))]
    out = per.merge(cand, on="candidate_id", how="left", validate="many_to_one")
    out["label"] = out["label"].astype(int)
    return out[[*_ID_COLUMNS, *cols]].sort_values(["kind", "draw", "candidate_id"], kind="stable",
                                                  ignore_index=True)


# --------------------------------------------------------------------------- folds and out-of-fold scores

def outer_folds(label, groups, n_splits: int = 5, seed: int = 0) -> np.ndarray:
    """Fold of each candidate: stratified by label, grouped by position (a position is never split).

    :func:`toolkit.folds.fold_ids` with the checks of this comparison.

    Raises
    ------
    ValueError
        With fewer positions than folds, or when a training fold would hold a single class.
    """
    return fold_ids(groups, n_splits, seed, label=label, group_name="position", item_name="candidate",
                    check_training_labels=True)


def _decision(fitted, X: np.ndarray) -> np.ndarray:
    if hasattr(fitted, "decision_function"):
        return np.asarray(fitted.decision_function(X), dtype=float)
    return np.asarray(fitted.predict_proba(X)[:, 1], dtype=float)


def cross_validated_scores(X, label, groups, fold, model: str, seed: int = 0, tune: bool = True,
                           inner_splits: int = 3, train_X: dict | None = None) -> np.ndarray:
    """Out-of-fold scores of one model: each fold scored by a model fitted on the other folds.

    Parameters
    ----------
    X : array-like, shape (n_candidates, n_features)
    label, groups, fold : array-like
        Labels (0/1), positions and outer folds (:func:`outer_folds`) of the candidates.
    model : str
        One of :data:`MODELS`.
    seed : int
        Seed of the model and of the inner folds.
    tune : bool
        Choose hyper-parameters by an inner cross-validation (grouped by position, scored by
        AUC) on the training folds; False uses fixed defaults (faster; the calibration study).
    inner_splits : int
        Inner folds (fewer when the training folds hold fewer positions).
    train_X : dict, optional
        Fold -> array of the shape of ``X`` whose rows replace ``X``'s for the *training*
        candidates of that fold (cross-fitted features); the test candidates keep ``X``.

    Returns
    -------
    numpy.ndarray
        One score per candidate (higher: more likely invited).
    """
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    X = np.asarray(X, dtype=float)
    y = np.asarray(label).astype(int)
    groups = np.asarray(groups)
    fold = np.asarray(fold)
    pipe, grid = make_model(model, seed=seed, tune=tune)
    scores = np.empty(y.size)
    for k in np.unique(fold):
        test = fold == k
        train = ~test
        if y[train].min() == y[train].max():
            raise ValueError(f"fold {k}: its training candidates all have label {y[train][0]}")
        X_fit = X if train_X is None else np.asarray(train_X[k], dtype=float)
        if X_fit.shape != X.shape:
            raise ValueError(f"train_X[{k}]: shape {X_fit.shape}, expected {X.shape}")
        if grid:
            n_inner = min(inner_splits, len(np.unique(groups[train])))
            inner = splitter(n_inner, seed, stratified=True)
            search = GridSearchCV(clone(pipe), grid, cv=inner, scoring="roc_auc", error_score=np.nan)
            with warnings.catch_warnings():
                # an inner fold with a single class leaves a NaN score; the grid still chooses
                warnings.simplefilter("ignore", category=UserWarning)
                warnings.simplefilter("ignore", category=RuntimeWarning)
                search.fit(X_fit[train], y[train], groups=groups[train])
            fitted = search.best_estimator_
        else:
            fitted = clone(pipe).fit(X_fit[train], y[train])
        scores[test] = _decision(fitted, X[test])
    return scores


# --------------------------------------------------------------------------- AUC table

@dataclass
class HirabilityResult:
    """Out-of-fold hirability scores and AUCs of attention and random slices.

    Attributes
    ----------
    table : pandas.DataFrame
        ``model``, ``kind``, ``auc``, ``ci_low``, ``ci_high``, ``n_candidates`` (random: draw 0),
        ``interval`` (:data:`CONDITIONAL`: the intervals are conditional on the fitted models).
    scores : pandas.DataFrame
        ``candidate_id``, ``position_id``, ``label``, ``fold``, ``model``, ``kind``, ``draw``,
        ``score`` (out-of-fold).
    redraws : pandas.DataFrame
        ``model``, ``draw``, ``auc``: the random-slice AUC of every draw.
    params : dict
    """

    table: pd.DataFrame
    scores: pd.DataFrame
    redraws: pd.DataFrame
    params: dict = field(default_factory=dict)
    _key: str | None = field(default=None, repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """A hash of the scores (the stage key when loaded from the stage cache)."""
        if self._key is None:
            from .cache import fingerprint

            self._key = fingerprint([self.table, self.scores, self.redraws])
        return self._key

    def save(self, folder) -> Path:
        """Write the result into ``folder``: ``hirability_auc.csv``, ``hirability_redraws.csv``,
        ``hirability_scores.parquet`` and ``hirability_params.json``."""
        from . import _io

        folder = Path(folder)
        _io.write_parquet(folder / "hirability_scores.parquet", self.scores)
        _io.write_csv(folder / "hirability_redraws.csv", self.redraws)
        _io.write_csv(folder / "hirability_auc.csv", self.table)
        _io.write_json(folder / "hirability_params.json", self.params)
        return folder

    @classmethod
    def load(cls, folder) -> "HirabilityResult":
        """Read a result written by :meth:`save`."""
        import json

        folder = Path(folder)
        for name in ("hirability_scores.parquet", "hirability_redraws.csv", "hirability_auc.csv",
                     "hirability_params.json"):
            if not (folder / name).exists():
                raise FileNotFoundError(f"{folder / name} is missing: not a saved hirability result")
        scores = pd.read_parquet(folder / "hirability_scores.parquet")
        for col in ("candidate_id", "position_id", "model", "kind"):
            scores[col] = scores[col].astype(str)
        out = cls(table=pd.read_csv(folder / "hirability_auc.csv"), scores=scores,
                  redraws=pd.read_csv(folder / "hirability_redraws.csv"),
                  params=json.loads((folder / "hirability_params.json").read_text()))
        from .cache import stored_key

        out._key = stored_key(folder)
        return out

    def paired(self, model: str, draw: int = 0) -> pd.DataFrame:
        """Attention and random (``draw``) scores of ``model`` side by side, one row per candidate."""
        s = self.scores[self.scores["model"] == model]
        if s.empty:
            raise KeyError(f"no scores for model {model!r}; models: {sorted(self.scores['model'].unique())}")
        att = s[s["kind"] == "attention"].set_index("candidate_id")
        rnd = s[(s["kind"] == "random") & (s["draw"] == draw)].set_index("candidate_id")
        if rnd.empty:
            raise KeyError(f"no random draw {draw} for model {model!r}")
        out = att[["position_id", "label", "fold"]].copy()
        out["attention"] = att["score"]
        out["random"] = rnd["score"].reindex(att.index)
        return out.reset_index()


def hirability_auc(features: pd.DataFrame, candidates: pd.DataFrame, models=MODELS,
                   n_draws: int | None = None, n_splits: int = 5, n_boot: int = 1000, seed: int = 0,
                   tune: bool = True, n_jobs: int = 1, progress: bool = False,
                   cross_fitted: dict | None = None) -> HirabilityResult:
    """Out-of-fold AUC of each model on attention-slice and random-slice features.

    Parameters
    ----------
    features : pandas.DataFrame
        Slice features (:func:`toolkit.slices.features`) of attention and random slices.
    candidates : pandas.DataFrame
        ``candidate_id``, ``position_id``, ``label`` (``corpus.candidates``).
    models : sequence of str
        Among :data:`MODELS`.
    n_draws : int, optional
        Random draws to score (default: all in ``features``); draw 0 is the table's random kind,
        all draws make the redraw null.
    n_splits : int
        Outer folds, grouped by position.
    n_boot : int
        Bootstrap replicates of the intervals (positions resampled); 0: no interval (NaN). The
        intervals resample the out-of-fold scores of the fitted models: they are *conditional on
        the fitted models* and leave out the variance of refitting, so they are narrower than an
        interval over new training sets would be.
    seed : int
        Seed of the folds, models and bootstrap.
    tune : bool
        Hyper-parameters by inner cross-validation (default) or fixed.
    n_jobs : int
        Processes for the cross-validations (one per model, kind and draw); the result does not
        depend on it.
    progress : bool
        Show a progress bar.
    cross_fitted : dict, optional
        Cross-fitting (:func:`toolkit.stages.hirability` builds it): fold ``k`` (of
        :func:`outer_folds` with ``n_splits`` and ``seed``) -> slice features of the attention
        slices of fold ``k``'s *training* candidates taken from a HireNet that never saw fold
        ``k``'s labels. Those rows train the models of fold ``k``; fold ``k``'s candidates are
        still scored on ``features``. A training candidate without an attention slice there gets
        NaN features (imputed on the training folds).

    Returns
    -------
    HirabilityResult
    """
    models = list(models)
    for m in models:
        if m not in MODELS:
            raise ValueError(f"unknown model {m!r}; choose among {', '.join(MODELS)}")
    per = candidate_features(features, candidates)
    cols = [c for c in per.columns if c not in _ID_COLUMNS]
    att = per[per["kind"] == "attention"].reset_index(drop=True)
    ids = att["candidate_id"].to_numpy()
    y = att["label"].to_numpy(int)
    stats._check_labels(y, "label")
    groups = att["position_id"].astype(str).to_numpy()
    fold = outer_folds(y, groups, n_splits=n_splits, seed=seed)
    available = sorted(per.loc[per["kind"] == "random", "draw"].unique().tolist())
    if not available:
        raise ValueError("slice features: no random slice")
    draws = available if n_draws is None else available[:n_draws]
    if n_draws is not None and len(draws) < n_draws:
        raise ValueError(f"{n_draws} random draws asked, the slice features hold {len(available)}")
    train_X = None
    if cross_fitted is not None:
        train_X = {}
        for k in np.unique(fold):
            if k not in cross_fitted:
                raise ValueError(f"cross_fitted: no features for fold {k} (folds {sorted(np.unique(fold))})")
            other = candidate_features(cross_fitted[k], candidates)
            other = other[other["kind"] == "attention"].set_index("candidate_id")
            stray = set(other.index) & set(ids[fold == k])
            if stray:
                raise ValueError(f"cross_fitted[{k}]: holds candidate {sorted(stray)[0]!r} of fold {k} itself")
            train_X[k] = other.reindex(ids)[cols].to_numpy(float)
    blocks = [("attention", 0, att)]
    for d in draws:
        rnd = per[(per["kind"] == "random") & (per["draw"] == d)].set_index("candidate_id").reindex(ids)
        blocks.append(("random", d, rnd.reset_index()))
    jobs = [(m, kind, d, block[cols].to_numpy(float)) for m in models for kind, d, block in blocks]
    if progress:
        from tqdm import tqdm
        jobs = tqdm(jobs, desc="hirability", unit="cross-validation")

    def fits(kind):
        return train_X if kind == "attention" else None

    if n_jobs == 1:
        all_scores = [cross_validated_scores(X, y, groups, fold, m, seed=seed, tune=tune, train_X=fits(kind))
                      for m, kind, _, X in jobs]
    else:
        from joblib import Parallel, delayed
        all_scores = Parallel(n_jobs=n_jobs)(delayed(cross_validated_scores)(X, y, groups, fold, m, seed=seed,
                                                                              tune=tune, train_X=fits(kind))
                                             for m, kind, _, X in jobs)
    rows = [pd.DataFrame({"candidate_id": ids, "position_id": groups, "label": y, "fold": fold,
                          "model": m, "kind": kind, "draw": d, "score": score})
            for (m, kind, d, _), score in zip(jobs, all_scores)]
    scores = pd.concat(rows, ignore_index=True)
    table, redraws = [], []
    for (m, kind, d), s in scores.groupby(["model", "kind", "draw"], sort=False):
        if kind == "random":
            redraws.append((m, d, stats.auc(s["label"], s["score"])))
        if kind == "attention" or d == draws[0]:
            if n_boot:
                ci = stats.bootstrap_auc_ci(s["label"], s["score"], n_boot=n_boot, seed=seed,
                                            groups=s["position_id"])
                table.append((m, kind, ci.auc, ci.ci_low, ci.ci_high, len(s)))
            else:
                table.append((m, kind, stats.auc(s["label"], s["score"]), np.nan, np.nan, len(s)))
    table = pd.DataFrame(table, columns=["model", "kind", "auc", "ci_low", "ci_high", "n_candidates"])
    table["interval"] = CONDITIONAL if n_boot else "none"
    redraws = pd.DataFrame(redraws, columns=["model", "draw", "auc"])
    params = {"models": models, "n_draws": len(draws), "n_splits": n_splits, "n_boot": n_boot, "seed": seed,
              "tune": tune, "n_features": len(cols), "cross_fitted": cross_fitted is not None}
    return HirabilityResult(table, scores, redraws, params)


def poster_table(table: pd.DataFrame) -> pd.DataFrame:
    """Our AUCs in the poster's layout (one row per model, random and attention), beside the poster's.

    Parameters
    ----------
    table : pandas.DataFrame
        :attr:`HirabilityResult.table`.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``random``, ``random_ci``, ``attention``, ``attention_ci``, ``difference``,
        ``poster_random``, ``poster_attention``, ``poster_difference``.
    """
    rows = []
    for m in [m for m in MODELS if m in set(table["model"])]:
        t = table[table["model"] == m].set_index("kind")
        poster = POSTER_AUC.set_index("model").loc[m]
        rows.append({
            "model": m,
            "random": round(t.loc["random", "auc"], 3),
            "random_ci": f"{t.loc['random', 'ci_low']:.3f}-{t.loc['random', 'ci_high']:.3f}",
            "attention": round(t.loc["attention", "auc"], 3),
            "attention_ci": f"{t.loc['attention', 'ci_low']:.3f}-{t.loc['attention', 'ci_high']:.3f}",
            "difference": round(t.loc["attention", "auc"] - t.loc["random", "auc"], 3),
            "poster_random": poster["random"], "poster_attention": poster["attention"],
            "poster_difference": round(poster["attention"] - poster["random"], 3),
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- tests

def permutation_tests(result: HirabilityResult, n_permutations: int = 10_000, seed: int = 0,
                      alternative: str = "greater", redraw_null: HirabilityResult | None = None) -> pd.DataFrame:
    """Per model: is AUC(attention) above AUC(random)? Three tests, Holm-corrected across models.

    ``permutation``
        paired permutation test of the AUC difference, attention vs random draw 0, on the same
        candidates (:func:`toolkit.stats.paired_permutation_test`);
    ``delong``
        DeLong's paired test of the same two AUCs (:func:`toolkit.stats.delong_paired`);
    ``redraw``
        the attention AUC against the AUCs of all random draws (:func:`toolkit.stats.redraw_null`):
        it alone accounts for the randomness of the random slices themselves. With ``redraw_null``
        (a second result, typically many draws with fixed hyper-parameters, which keeps 199 draws
        affordable), the attention AUC and the draws of that result are compared: the attention
        slices then go through exactly the procedure of every draw.

    The smallest redraw p-value is ``1 / (draws + 1)``, so a Holm-corrected verdict across ``m``
    models needs at least ``20 m - 1`` draws (79 for the poster's four; DESIGN asks for 199).

    Returns
    -------
    pandas.DataFrame
        Tidy: ``model``, ``test``, ``auc_attention``, ``auc_random`` (draw 0; the mean over draws
        for ``redraw``), ``difference``, ``statistic`` (z for DeLong), ``n`` (permutations or
        redraws), ``p_value``, ``p_holm`` (Holm across models, within each test), ``alternative``.
    """
    rows = []
    for m in result.params.get("models", sorted(result.scores["model"].unique())):
        pair = result.paired(m, draw=0)
        y = pair["label"].to_numpy(int)
        perm = stats.paired_permutation_test(y, pair["attention"], pair["random"], n_permutations=n_permutations,
                                             seed=seed, alternative=alternative)
        rows.append((m, "permutation", perm.auc_a, perm.auc_b, perm.difference, np.nan, n_permutations,
                     perm.p_value))
        dl = stats.delong_paired(y, pair["attention"], pair["random"], alternative=alternative)
        rows.append((m, "delong", dl.auc_a, dl.auc_b, dl.difference, dl.z, np.nan, dl.p_value))
        source = result if redraw_null is None else redraw_null
        null = source.redraws.loc[source.redraws["model"] == m, "auc"].to_numpy()
        if null.size == 0:
            raise KeyError(f"redraw null: no random draw for model {m!r}")
        observed = perm.auc_a if redraw_null is None else float(
            source.table.loc[(source.table["model"] == m) & (source.table["kind"] == "attention"), "auc"].iloc[0])
        rd = stats.redraw_null(observed, null, alternative=alternative)
        rows.append((m, "redraw", observed, float(null.mean()), observed - float(null.mean()), np.nan,
                     rd.n_redraws, rd.p_value))
    out = pd.DataFrame(rows, columns=["model", "test", "auc_attention", "auc_random", "difference", "statistic",
                                      "n", "p_value"])
    out["p_holm"] = np.nan
    for test, idx in out.groupby("test", sort=False).groups.items():
        out.loc[idx, "p_holm"] = stats.holm(out.loc[idx, "p_value"].to_numpy())
    out["alternative"] = alternative
    return out


@dataclass
class RedrawVerdict:
    """The redraw test read in both directions (:func:`redraw_verdict`).

    Attributes
    ----------
    verdict : {"reproduced", "reversed", "neither"}
        "reproduced": attention above its redraw null at Holm-adjusted p <= ``alpha`` for at least
        one model; "reversed": none above, at least one below; "neither": no model either way.
    n_above, n_below, n_models : int
        Models whose attention AUC is above (below) the redraw null at adjusted p <= ``alpha``.
    p_above, p_below : pandas.Series
        Holm-adjusted redraw p-values per model, each direction.
    alpha : float
    """

    verdict: str
    n_above: int
    n_below: int
    n_models: int
    p_above: pd.Series
    p_below: pd.Series
    alpha: float

    @property
    def text(self) -> str:
        """The verdict in words ("yes, 2 of 4 models", "reversed: ...", "no")."""
        if self.verdict == "reproduced":
            return f"yes, {self.n_above} of {self.n_models} models"
        if self.verdict == "reversed":
            return f"reversed: attention below random for {self.n_below} of {self.n_models} models"
        return "no"


def redraw_verdict(above: pd.DataFrame, below: pd.DataFrame, alpha: float = 0.05) -> RedrawVerdict:
    """Is the attention AUC above, below or inside its redraw null? One rule for the book and the scorecard.

    Parameters
    ----------
    above, below : pandas.DataFrame
        :func:`permutation_tests` with ``alternative="greater"`` and ``"less"`` (their ``redraw``
        rows are read).
    alpha : float
        Level of the Holm-adjusted p-values.

    Returns
    -------
    RedrawVerdict
    """
    for name, table, want in (("above", above, "greater"), ("below", below, "less")):
        rows = table[table["test"] == "redraw"]
        if rows.empty:
            raise ValueError(f"{name}: no redraw test in the table")
        if set(rows["alternative"]) != {want}:
            raise ValueError(f"{name}: expected alternative {want!r}, got {sorted(set(rows['alternative']))}")
    p_above = above[above["test"] == "redraw"].set_index("model")["p_holm"]
    p_below = below[below["test"] == "redraw"].set_index("model")["p_holm"].reindex(p_above.index)
    n_above, n_below = int((p_above <= alpha).sum()), int((p_below <= alpha).sum())
    verdict = "reproduced" if n_above else ("reversed" if n_below else "neither")
    return RedrawVerdict(verdict, n_above, n_below, len(p_above), p_above, p_below, alpha)


# --------------------------------------------------------------------------- figure

def plot_redraw_null(result: HirabilityResult, tests: pd.DataFrame | None = None, axes=None):
    """One panel per model: the random-slice AUCs of all draws, and the attention AUC as a line.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    from . import plots

    plots.style()
    models = [m for m in MODELS if m in set(result.redraws["model"])]
    if axes is None:
        _, axes = plt.subplots(1, len(models), figsize=(3.0 * len(models), 3.0), sharey=True, squeeze=False)
        axes = axes[0]
    att = result.table[result.table["kind"] == "attention"].set_index("model")["auc"]
    for ax, m in zip(axes, models):
        null = result.redraws.loc[result.redraws["model"] == m, "auc"].to_numpy()
        ax.hist(null, bins=max(5, min(20, null.size // 2)), color=plots.COLORS["random"],
                label="random draws", alpha=0.9)
        ax.axvline(att[m], color=plots.COLORS["attention"], lw=2, label="attention")
        ax.axvline(0.5, color=plots.COLORS["null"], lw=1, ls=":")
        title = m
        if tests is not None:
            p = tests[(tests["model"] == m) & (tests["test"] == "redraw")]
            if len(p):
                title += f"\nredraw p = {p['p_value'].iloc[0]:.2f} (Holm {p['p_holm'].iloc[0]:.2f})"
        ax.set_title(title)
        ax.set_xlabel("out-of-fold AUC")
    axes[0].set_ylabel("random draws (count)")
    axes[0].legend(loc="upper left", fontsize=8)
    return np.asarray(axes)
