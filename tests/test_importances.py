"""SHAP importances on held-out folds (toolkit.importances)."""
from __future__ import annotations

import pandas as pd
import pytest
from slice_cases import synthetic_features

from toolkit import importances


def test_importances_find_the_planted_feature():
    feats = synthetic_features(n_candidates=40, shift=2.0)
    ex = importances.explain(feats, n_splits=4, n_trees=30)
    table = ex.table
    for model in ("Lasso", "Random Forest"):
        top = table[(table["model"] == model) & (table["rank"] == 1)].iloc[0]
        assert top["feature"] == "AU45_delta"
        assert top["direction"] == "higher" and top["mean_diff"] > 1
    assert set(ex.values) == {"Lasso", "Random Forest"}
    assert ex.values["Lasso"].shape == (len(feats), 6)
    # Held-out: every slice explained once, by the fold that did not train on its candidate.
    assert ex.data.groupby("candidate_id")["fold"].nunique().max() == 1
    assert ex.data["slice_id"].is_unique and len(ex.data) == len(feats)


def test_plot_importances_and_explanation_roundtrip(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    feats = synthetic_features(n_candidates=20)
    ex = importances.explain(feats, n_splits=4, n_trees=20)
    ax = importances.plot_importances(ex, "Random Forest", kind="bar", top=4)
    assert len(ax.patches) == 4 and "SHAP" in ax.get_xlabel()
    ax = importances.plot_importances(ex, "Lasso", kind="beeswarm", top=3)
    assert len(ax.collections) == 3
    plt.close("all")
    with pytest.raises(ValueError, match="kind must be 'bar' or 'beeswarm'"):
        importances.plot_importances(ex, "Lasso", kind="pie")
    with pytest.raises(KeyError, match="no SHAP values for model 'SVM'"):
        importances.plot_importances(ex, "SVM")
    ex.save(tmp_path / "ex")
    back = importances.Explanation.load(tmp_path / "ex")
    pd.testing.assert_frame_equal(back.table, ex.table)
    pd.testing.assert_frame_equal(back.values["Lasso"], ex.values["Lasso"])
