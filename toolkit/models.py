"""Which classifiers? The model factories of every comparison, fresh scikit-learn estimators.

- :func:`make_models`: the poster's four classifiers that tell attention slices from random
  slices (coin flip, majority, tuned Lasso, Random Forest), used by :mod:`toolkit.classify` and
  :mod:`toolkit.importances`.
- :func:`fixed_lasso`: that Lasso with its strength fixed (cheap null replicates,
  :func:`toolkit.stages.attention_vs_random` with ``models="lasso_fixed"``).
- :data:`HIRABILITY_MODELS`, :func:`make_model`: the poster's four hirability classifiers
  (:mod:`toolkit.hirability`), each a pipeline with its hyper-parameter grid.
- :func:`logistic_baseline`: the logistic regression on answer-level means that HireNet is
  compared with (:mod:`toolkit.training`).

Every factory takes the seed of its randomness, so the same call always builds the same model.
The grouped inner cross-validation of the tuned Lasso comes from :func:`toolkit.folds.splitter`.
"""
from __future__ import annotations

import numpy as np

from . import folds

__all__ = ["make_models", "fixed_lasso", "HIRABILITY_MODELS", "make_model", "logistic_baseline"]

#: The four hirability classifiers of the poster, in its order.
HIRABILITY_MODELS: tuple[str, ...] = ("RF", "Lasso", "linear SVM", "RBF SVM")


# --------------------------------------------------------------------------- attention vs random slices

def _lasso_pipeline(seed: int, C: float = 1.0):
    """Standardisation then L1 logistic regression (liblinear, seeded: it shuffles otherwise)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()),
                     ("model", LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", max_iter=1000,
                                                  random_state=seed))])


def make_models(seed: int = 0, n_trees: int = 100) -> dict:
    """The classifiers compared, as fresh scikit-learn estimators.

    ``coin flip`` (uniform guess), ``majority`` (the larger kind), ``Lasso`` (L1 logistic
    regression on standardised features, its strength chosen by an inner 3-fold
    cross-validation grouped by candidate, scaler fitted on training folds only) and
    ``Random Forest`` (``n_trees`` trees of depth at most 8, which keeps SHAP fast).
    """
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV

    return {
        "coin flip": DummyClassifier(strategy="uniform", random_state=seed),
        "majority": DummyClassifier(strategy="most_frequent"),
        "Lasso": GridSearchCV(_lasso_pipeline(seed), {"model__C": np.logspace(-3, 1, 7)}, scoring="roc_auc",
                              cv=folds.splitter(3, seed)),
        "Random Forest": RandomForestClassifier(n_estimators=n_trees, max_depth=8, min_samples_leaf=3,
                                                random_state=seed, n_jobs=1),
    }


def fixed_lasso(seed: int = 0, C: float = 0.1):
    """The Lasso of :func:`make_models` with its strength fixed at ``C`` (no inner cross-validation)."""
    return _lasso_pipeline(seed, C=C)


# --------------------------------------------------------------------------- hirability

def make_model(name: str, seed: int = 0, tune: bool = True):
    """A scikit-learn pipeline (median imputation, standardisation, classifier) and its grid.

    Parameters
    ----------
    name : {"RF", "Lasso", "linear SVM", "RBF SVM"}
    seed : int
        Seed of the random forest.
    tune : bool
        Return the hyper-parameter grid for the inner cross-validation; False returns an empty
        grid (the middle value of each grid is the fixed default).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
    grid : dict
        Parameter grid for :class:`~sklearn.model_selection.GridSearchCV` (``model__...``).
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, LinearSVC

    if name == "RF":
        model = RandomForestClassifier(n_estimators=50, min_samples_leaf=10, max_features="sqrt",
                                       random_state=seed, n_jobs=1)
        grid = {"model__min_samples_leaf": [3, 30]}
    elif name == "Lasso":
        model = LogisticRegression(l1_ratio=1.0, solver="liblinear", C=0.1, max_iter=1000, random_state=seed)
        grid = {"model__C": [0.03, 0.1, 1.0]}
    elif name == "linear SVM":
        model = LinearSVC(C=0.01, max_iter=5000, random_state=seed)
        grid = {"model__C": [0.001, 0.01, 0.1]}
    elif name == "RBF SVM":
        model = SVC(kernel="rbf", C=1.0, gamma="scale")
        grid = {"model__C": [0.1, 1.0, 10.0]}
    else:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(HIRABILITY_MODELS)}")
    pipe = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                     ("model", model)])
    return pipe, (grid if tune else {})


# --------------------------------------------------------------------------- HireNet's baseline

def logistic_baseline(seed: int = 0):
    """Logistic regression on answer-level feature means, the baseline HireNet is compared with.

    Missing answers are imputed by the training mean (a feature never measured stays 0), features
    standardised, classes balanced; all fitted on the training folds only.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler(),
                         LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed))
