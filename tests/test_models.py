"""Model factories (toolkit.models): the same estimators, with the same parameters, as before they had one home."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from toolkit import hirability, models


def _params(estimator) -> dict:
    """Every parameter, nested ones included, with estimators and splitters by their own parameters."""
    out = {}
    for key, value in estimator.get_params(deep=True).items():
        if hasattr(value, "get_params"):
            value = (type(value).__name__, _params(value))
        elif hasattr(value, "split"):  # a splitter: its repr lists its parameters
            value = repr(value)
        elif isinstance(value, float) and np.isnan(value):
            value = "nan"
        elif isinstance(value, np.ndarray):
            value = ("array", value.tolist())
        elif isinstance(value, dict):
            value = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in value.items()}
        elif isinstance(value, list) and value and isinstance(value[0], tuple):  # pipeline steps
            value = [(name, type(step).__name__) for name, step in value]
        out[key] = value
    return out


def _same(a, b):
    assert type(a) is type(b)
    assert _params(a) == _params(b)


@pytest.mark.parametrize("seed", [0, 3])
def test_attention_vs_random_models(seed):
    ours = models.make_models(seed, n_trees=70)
    lasso = Pipeline([("scale", StandardScaler()),
                      ("model", LogisticRegression(l1_ratio=1.0, solver="liblinear", max_iter=1000,
                                                    random_state=seed))])
    before = {
        "coin flip": DummyClassifier(strategy="uniform", random_state=seed),
        "majority": DummyClassifier(strategy="most_frequent"),
        "Lasso": GridSearchCV(lasso, {"model__C": np.logspace(-3, 1, 7)}, scoring="roc_auc",
                              cv=GroupKFold(3, shuffle=True, random_state=seed)),
        "Random Forest": RandomForestClassifier(n_estimators=70, max_depth=8, min_samples_leaf=3,
                                                random_state=seed, n_jobs=1),
    }
    assert list(ours) == list(before)
    for name in before:
        _same(ours[name], before[name])
    # the fixed-strength Lasso of the cheap null replicates (stages.attention_vs_random, "lasso_fixed")
    _same(models.fixed_lasso(seed), before["Lasso"].estimator.set_params(model__C=0.1, model__random_state=seed))


@pytest.mark.parametrize("tune", [True, False])
def test_hirability_models(tune):
    seed = 4
    before = {
        "RF": (RandomForestClassifier(n_estimators=50, min_samples_leaf=10, max_features="sqrt", random_state=seed,
                                      n_jobs=1), {"model__min_samples_leaf": [3, 30]}),
        "Lasso": (LogisticRegression(l1_ratio=1.0, solver="liblinear", C=0.1, max_iter=1000, random_state=seed),
                  {"model__C": [0.03, 0.1, 1.0]}),
        "linear SVM": (LinearSVC(C=0.01, max_iter=5000, random_state=seed), {"model__C": [0.001, 0.01, 0.1]}),
        "RBF SVM": (SVC(kernel="rbf", C=1.0, gamma="scale"), {"model__C": [0.1, 1.0, 10.0]}),
    }
    assert tuple(before) == models.HIRABILITY_MODELS == hirability.MODELS
    for name, (model, grid) in before.items():
        pipe, g = models.make_model(name, seed=seed, tune=tune)
        _same(pipe, Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                              ("model", model)]))
        assert g == (grid if tune else {})
    with pytest.raises(ValueError, match="unknown model 'XGBoost'"):
        models.make_model("XGBoost")


def test_logistic_baseline():
    _same(models.logistic_baseline(6),
          make_pipeline(SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler(),
                        LogisticRegression(class_weight="balanced", max_iter=2000, random_state=6)))
