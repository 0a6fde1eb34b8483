"""Attention vs random slices: baselines, grouped cross-validation, corrected intervals (toolkit.classify)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from slice_cases import attention_at, synthetic_features

from toolkit import classify, slices


# --------------------------------------------------------------------------- baselines

def test_baseline_f1_exact():
    b = classify.baseline_f1(1, 4).set_index("model")
    assert b.loc["coin flip"].to_numpy() == pytest.approx([0.286, 0.615, 0.450], abs=1e-3)
    assert b.loc["majority"].to_numpy() == pytest.approx([0.0, 0.889, 0.444], abs=1e-3)
    # The exact coin-flip mean is 41/91 = 0.4505..., which the poster writes 0.450.
    assert b.loc["coin flip", "f1_mean"] == pytest.approx(41 / 91)
    # Exact fractions: F1 = p / (p + 1/2) with p = 1/5, and 2q / (q + 1) with q = 4/5.
    b = classify.baseline_f1(1, 4).set_index("model")
    assert b.loc["coin flip", "f1_attention"] == pytest.approx(2 / 7)
    assert b.loc["coin flip", "f1_random"] == pytest.approx(8 / 13)
    assert b.loc["majority", "f1_random"] == pytest.approx(8 / 9)
    sym = classify.baseline_f1(1, 1).set_index("model")
    assert sym.loc["coin flip", "f1_mean"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="positive"):
        classify.baseline_f1(0, 4)


def test_poster_numbers_are_the_poster_s():
    p = classify.POSTER.set_index("model")
    assert tuple(p.loc["Lasso"]) == (0.812, 0.955, 0.884)
    assert tuple(p.loc["majority"]) == (0.0, 0.888, 0.444)


# --------------------------------------------------------------------------- attention vs random

def test_grouped_folds_never_split_a_candidate():
    f = synthetic_features()
    groups = f["candidate_id"].to_numpy()
    for seed in (0, 1):
        splits = classify._splits(groups, 5, seed)
        seen = np.zeros(len(f), int)
        for train, test in splits:
            assert not set(groups[train]) & set(groups[test])
            seen[test] += 1
        assert (seen == 1).all()
    with pytest.raises(ValueError, match="3 candidates cannot fill 5 folds"):
        classify._splits(groups[:15], 5, 0)


def test_separable_slices_beat_the_baselines(burst):
    corpus, bursts = burst
    centres = {a: (s + e) / 2 for a, (s, e) in bursts.items()}
    sset = slices.extract(attention_at(corpus, centres), corpus, seed=0)
    feats = slices.features(corpus, sset)
    res = classify.attention_vs_random(feats, n_splits=4, n_repeats=1).set_index(["model", "metric"])
    assert res.loc[("Lasso", "f1_attention"), "value"] > 0.8
    assert res.loc[("Random Forest", "f1_mean"), "value"] > 0.85
    assert res.loc[("Lasso", "auc"), "value"] > 0.95
    assert res.loc[("majority", "f1_attention"), "value"] == 0.0
    assert res.loc[("majority", "f1_random"), "value"] == pytest.approx(8 / 9)
    assert set(res.reset_index()["n_folds"]) == {4}
    row = res.loc[("Lasso", "f1_mean")]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]


def test_non_separable_slices_stay_near_the_baselines():
    feats = synthetic_features(n_candidates=60, shift=0.0, seed=1)
    res = classify.attention_vs_random(feats, n_splits=4, n_repeats=2).set_index(["model", "metric"])
    for model in ("Lasso", "Random Forest"):
        assert 0.3 < res.loc[(model, "auc"), "value"] < 0.7
        assert res.loc[(model, "f1_attention"), "value"] < 0.35
    assert 0.2 < res.loc[("coin flip", "f1_attention"), "value"] < 0.37
    assert 0.55 < res.loc[("coin flip", "f1_random"), "value"] < 0.68


def test_poster_table_layout():
    feats = synthetic_features(n_candidates=20)
    res = classify.attention_vs_random(feats, n_splits=4, n_repeats=1)
    table = classify.poster_table(res)
    assert list(table["model"]) == ["Lasso", "Random Forest", "coin flip", "majority"]
    assert list(table.columns) == ["model"] + [f"{k} {w}" for k in ("attention", "random", "mean")
                                               for w in ("(ours)", "95% CI", "(poster)")]
    assert table.loc[0, "attention (poster)"] == 0.812
    ours = res.set_index(["model", "metric"]).loc[("Lasso", "f1_attention"), "value"]
    assert table.loc[0, "attention (ours)"] == pytest.approx(round(ours, 3))


def test_summarize_corrected_interval():
    folds = pd.DataFrame({"model": "m", "repeat": [0, 0, 1, 1], "fold": [0, 1, 0, 1], "metric": "auc",
                          "value": [0.6, 0.7, 0.65, 0.65]})
    s = classify.summarize(folds, n_splits=2).iloc[0]
    sd = np.std([0.6, 0.7, 0.65, 0.65], ddof=1)
    half = 3.182446305284263 * np.sqrt((1 / 4 + 1 / 1) * sd ** 2)  # t(0.975, 3)
    assert s["value"] == pytest.approx(0.65)
    assert s["ci_high"] - s["value"] == pytest.approx(half)


def test_attention_vs_random_rejects_bad_features():
    feats = synthetic_features(n_candidates=10)
    with pytest.raises(ValueError, match="both 'attention' and 'random'"):
        classify.attention_vs_random(feats.assign(kind="random"))
    with pytest.raises(ValueError, match="no feature columns"):
        classify.attention_vs_random(feats[["slice_id", "candidate_id", "kind"]])
    with pytest.raises(ValueError, match="missing column 'candidate_id'"):
        classify.attention_vs_random(feats.drop(columns="candidate_id"))
