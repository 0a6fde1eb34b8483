"""Tests of toolkit.hirability (and the calibration replicate) on hand-made and tiny simulated data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit import calibration, hirability, stats


def _features(n_positions=20, per_position=10, n_draws=6, signal=1.5, seed=0):
    """A slice-features table: attention features carry the label when ``signal`` > 0, random ones never."""
    rng = np.random.default_rng(seed)
    rows, cands = [], []
    for p in range(n_positions):
        for c in range(per_position):
            cid = f"c{p:02d}{c:02d}"
            label = int(rng.random() < 0.4)
            cands.append((cid, f"p{p:02d}", label))
            answer = f"{cid}-q1"
            x = rng.normal(size=4)
            x[0] += signal * label
            rows.append((f"{answer}:attention", answer, cid, "attention", *x))
            for k in range(n_draws):
                rows.append((f"{answer}:random{k + 1}", answer, cid, "random", *rng.normal(size=4)))
    cols = ["AU45_delta", "AU20_delta", "AU45_std", "AU23_active"]
    features = pd.DataFrame(rows, columns=["slice_id", "answer_id", "candidate_id", "kind", *cols])
    candidates = pd.DataFrame(cands, columns=["candidate_id", "position_id", "label"])
    return features, candidates


@pytest.fixture(scope="module")
def signal_result():
    f, c = _features(signal=1.5, seed=1)
    return hirability.hirability_auc(f, c, models=["Lasso", "RBF SVM"], n_boot=200, seed=0)


@pytest.fixture(scope="module")
def null_result():
    f, c = _features(signal=0.0, seed=2)
    return hirability.hirability_auc(f, c, models=["Lasso"], n_boot=200, seed=0)


def test_candidate_features_one_row_per_candidate_kind_draw():
    f, c = _features(n_positions=5, per_position=4, n_draws=3)
    per = hirability.candidate_features(f, c)
    assert len(per) == 20 * 4
    assert per.groupby(["kind", "draw"]).size().to_dict() == {("attention", 0): 20, ("random", 0): 20,
                                                               ("random", 1): 20, ("random", 2): 20}
    # draw 1 of candidate c0000 is its second random slice
    first = f[(f["candidate_id"] == "c0000") & (f["kind"] == "random")].iloc[1]
    row = per[(per["candidate_id"] == "c0000") & (per["kind"] == "random") & (per["draw"] == 1)].iloc[0]
    assert row["AU45_delta"] == first["AU45_delta"]
    assert set(per.columns[:5]) == {"candidate_id", "position_id", "label", "kind", "draw"}


def test_candidate_features_bad_inputs():
    f, c = _features(n_positions=3, per_position=3, n_draws=1)
    with pytest.raises(ValueError, match="missing column 'kind'"):
        hirability.candidate_features(f.drop(columns="kind"), c)
    with pytest.raises(ValueError, match="unknown kind.*salience"):
        hirability.candidate_features(f.assign(kind="salience"), c)
    with pytest.raises(ValueError, match="candidate_id 'c0000' is not in the candidates table"):
        hirability.candidate_features(f, c.iloc[1:])
    with pytest.raises(ValueError, match="no feature column"):
        hirability.candidate_features(f[["slice_id", "answer_id", "candidate_id", "kind"]], c)


def test_outer_folds_never_split_a_position():
    f, c = _features(n_positions=17, per_position=7)
    fold = hirability.outer_folds(c["label"], c["position_id"], n_splits=5, seed=3)
    per_position = pd.Series(fold).groupby(c["position_id"].to_numpy()).nunique()
    assert (per_position == 1).all()
    assert set(fold) == set(range(5))


def test_inner_cross_validation_is_grouped(monkeypatch):
    from sklearn.model_selection import StratifiedGroupKFold

    seen = []
    original = StratifiedGroupKFold.split

    def spy(self, X, y=None, groups=None):
        for train, test in original(self, X, y, groups):
            seen.append(set(np.asarray(groups)[train]) & set(np.asarray(groups)[test]))
            yield train, test

    monkeypatch.setattr(StratifiedGroupKFold, "split", spy)
    f, c = _features(n_positions=10, per_position=8, n_draws=1)
    per = hirability.candidate_features(f, c)
    att = per[per["kind"] == "attention"]
    fold = hirability.outer_folds(att["label"], att["position_id"], n_splits=5)
    hirability.cross_validated_scores(att.iloc[:, 5:].to_numpy(), att["label"], att["position_id"], fold,
                                      "Lasso", tune=True)
    assert len(seen) > 5                     # the outer split and the inner splits went through the spy
    assert all(not overlap for overlap in seen)


def test_too_few_positions_and_single_class_refused():
    with pytest.raises(ValueError, match="needs at least 5 positions, got 3"):
        hirability.outer_folds([0, 1, 0, 1, 0, 1], ["a", "a", "b", "b", "c", "c"], n_splits=5)
    f, c = _features(n_positions=6, per_position=4, n_draws=1)
    with pytest.raises(ValueError, match="needs both classes.*only label 0"):
        hirability.hirability_auc(f, c.assign(label=0), models=["Lasso"], n_boot=10)
    with pytest.raises(ValueError, match="unknown model 'XGBoost'"):
        hirability.hirability_auc(f, c, models=["XGBoost"])


def test_signal_case_attention_beats_random(signal_result):
    t = signal_result.table.set_index(["model", "kind"])
    for m in ("Lasso", "RBF SVM"):
        assert t.loc[(m, "attention"), "auc"] > 0.75
        assert 0.35 < t.loc[(m, "random"), "auc"] < 0.65
        assert t.loc[(m, "attention"), "ci_low"] > t.loc[(m, "random"), "ci_high"]
    tests = hirability.permutation_tests(signal_result, n_permutations=2000)
    assert set(tests["test"]) == {"permutation", "delong", "redraw"}
    assert (tests["p_holm"] >= tests["p_value"]).all()
    assert (tests.loc[tests["test"] != "redraw", "p_holm"] < 0.01).all()
    # with 6 draws the smallest redraw p-value is 1/7
    assert tests.loc[tests["test"] == "redraw", "p_value"].eq(1 / 7).all()


def test_redraw_test_on_a_second_result(signal_result):
    """The redraw test may take its draws (and the attention AUC) from another result: e.g. 199 draws with
    fixed hyper-parameters beside a tuned table."""
    import dataclasses

    alone = hirability.permutation_tests(signal_result, n_permutations=500)
    same = hirability.permutation_tests(signal_result, n_permutations=500, redraw_null=signal_result)
    pd.testing.assert_frame_equal(same, alone)
    # a null whose draws all beat its attention AUC: the largest p-value, and the null's own counts
    table = signal_result.table.assign(auc=signal_result.table["auc"].where(signal_result.table["kind"] != "attention", 0.6))
    redraws = pd.concat([signal_result.redraws.assign(auc=0.7)] * 3, ignore_index=True)
    redraws["draw"] = np.arange(len(redraws)) // 2
    null = dataclasses.replace(signal_result, table=table, redraws=redraws)
    tests = hirability.permutation_tests(signal_result, n_permutations=500, redraw_null=null)
    redraw = tests[tests["test"] == "redraw"].set_index("model")
    assert (redraw["auc_attention"] == 0.6).all() and np.allclose(redraw["auc_random"], 0.7)
    assert (redraw["n"] == 18).all() and (redraw["p_value"] == 1.0).all()
    # the paired tests still use the first result
    pd.testing.assert_frame_equal(tests[tests["test"] != "redraw"], alone[alone["test"] != "redraw"])
    with pytest.raises(KeyError, match="no random draw for model 'Lasso'"):
        hirability.permutation_tests(signal_result, 100,
                                     redraw_null=dataclasses.replace(null, redraws=redraws[redraws["model"] != "Lasso"]))


def test_intervals_are_labelled_conditional():
    f, c = _features(n_positions=8, per_position=8, n_draws=2, seed=4)
    with_ci = hirability.hirability_auc(f, c, models=["Lasso"], n_boot=50, seed=5)
    assert (with_ci.table["interval"] == hirability.CONDITIONAL).all()
    assert "conditional on the fitted models" in hirability.CONDITIONAL
    without = hirability.hirability_auc(f, c, models=["Lasso"], n_boot=0, seed=5)
    assert without.table[["ci_low", "ci_high"]].isna().all().all() and (without.table["interval"] == "none").all()
    pd.testing.assert_series_equal(without.table["auc"], with_ci.table["auc"])


def test_null_case_not_significant(null_result):
    tests = hirability.permutation_tests(null_result, n_permutations=2000)
    assert (tests["p_value"] > 0.05).all()
    t = null_result.table.set_index("kind")
    assert abs(t.loc["attention", "auc"] - 0.5) < 0.15


def test_scores_are_paired_and_out_of_fold(signal_result):
    s = signal_result.scores
    assert s.groupby(["model", "kind", "draw"]).size().nunique() == 1
    pair = signal_result.paired("Lasso", draw=3)
    assert pair["random"].notna().all() and len(pair) == 200
    assert stats.auc(pair["label"], pair["attention"]) == pytest.approx(
        signal_result.table.query("model == 'Lasso' and kind == 'attention'")["auc"].iloc[0])
    # same folds for every kind and draw
    assert s.groupby("candidate_id")["fold"].nunique().eq(1).all()
    assert len(signal_result.redraws) == 2 * 6


def test_reproducible_for_a_seed():
    f, c = _features(n_positions=8, per_position=8, n_draws=2, seed=4)
    a = hirability.hirability_auc(f, c, models=["Lasso"], n_boot=100, seed=5)
    b = hirability.hirability_auc(f, c, models=["Lasso"], n_boot=100, seed=5)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(hirability.permutation_tests(a, 500, seed=1), hirability.permutation_tests(b, 500, seed=1))


def test_poster_table_layout(signal_result):
    table = hirability.poster_table(signal_result.table)
    assert list(table["model"]) == ["Lasso", "RBF SVM"]
    assert list(table.columns) == ["model", "random", "random_ci", "attention", "attention_ci", "difference",
                                   "poster_random", "poster_attention", "poster_difference"]
    assert table.set_index("model").loc["Lasso", "poster_attention"] == 0.550
    assert table.set_index("model").loc["RBF SVM", "poster_difference"] == pytest.approx(0.009)


def test_result_save_load_and_fingerprint(signal_result, tmp_path):
    assert signal_result.save(tmp_path / "r") == tmp_path / "r"
    loaded = hirability.HirabilityResult.load(tmp_path / "r")
    pd.testing.assert_frame_equal(loaded.table, signal_result.table, check_dtype=False)
    pd.testing.assert_frame_equal(loaded.scores, signal_result.scores, check_dtype=False)
    pd.testing.assert_frame_equal(loaded.redraws, signal_result.redraws, check_dtype=False)
    assert loaded.params == signal_result.params
    # a loaded result gives the same tests as the one it was saved from
    pd.testing.assert_frame_equal(hirability.permutation_tests(loaded, 200, seed=0),
                                  hirability.permutation_tests(signal_result, 200, seed=0), check_dtype=False)
    assert len(loaded.fingerprint) == 16 and loaded.fingerprint == signal_result.fingerprint
    f, c = _features(n_positions=8, per_position=8, n_draws=2, seed=4)
    other = hirability.hirability_auc(f, c, models=["Lasso"], n_boot=10, seed=5)
    assert other.fingerprint != signal_result.fingerprint
    (tmp_path / "r" / "hirability_auc.csv").unlink()
    with pytest.raises(FileNotFoundError, match="hirability_auc.csv is missing: not a saved hirability result"):
        hirability.HirabilityResult.load(tmp_path / "r")


def test_cross_fitted_features_train_the_models_and_each_fold_is_scored_on_its_own():
    f, c = _features(signal=1.5, seed=1)
    plain = hirability.hirability_auc(f, c, models=["Lasso"], n_boot=0, seed=0)
    att = plain.scores.query("kind == 'attention'").drop_duplicates("candidate_id")
    fold_of = att.set_index("candidate_id")["fold"]
    attention = f[f["kind"] == "attention"]

    def training_rows(table, k):
        return table[table["candidate_id"].map(fold_of) != k]

    # the same features for the training candidates: the very same scores
    same = {k: training_rows(attention, k) for k in fold_of.unique()}
    again = hirability.hirability_auc(f, c, models=["Lasso"], n_boot=0, seed=0, cross_fitted=same)
    pd.testing.assert_frame_equal(again.scores, plain.scores)
    assert again.params["cross_fitted"] is True and plain.params["cross_fitted"] is False
    # label-free features for the training candidates: nothing to learn, the attention AUC falls to chance,
    # while every fold is still scored on its own (unchanged) features and the random draws do not move
    rng = np.random.default_rng(0)
    noise = attention.assign(**{col: rng.normal(size=len(attention)) for col in ("AU45_delta", "AU20_delta")})
    noisy = hirability.hirability_auc(f, c, models=["Lasso"], n_boot=0, seed=0,
                                      cross_fitted={k: training_rows(noise, k) for k in fold_of.unique()})
    auc = lambda r: r.table.set_index("kind").loc["attention", "auc"]  # noqa: E731
    assert auc(plain) > 0.75 and abs(auc(noisy) - 0.5) < 0.15
    pd.testing.assert_frame_equal(noisy.redraws, plain.redraws)
    # a missing fold, or a fold's own candidate among its training rows, is refused
    with pytest.raises(ValueError, match="cross_fitted: no features for fold 4"):
        hirability.hirability_auc(f, c, models=["Lasso"], n_boot=0, cross_fitted={k: same[k] for k in range(4)})
    leaky = {**same, 0: attention}
    with pytest.raises(ValueError, match=r"cross_fitted\[0\]: holds candidate .* of fold 0 itself"):
        hirability.hirability_auc(f, c, models=["Lasso"], n_boot=0, cross_fitted=leaky)


@pytest.mark.slow
def test_hirability_stage_on_tiny_corpus_is_cached(tmp_path, monkeypatch):
    from toolkit import simulate, stages

    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    corpus = simulate.simulate("tiny", seed=3, effect=2.0, n_questions=1, n_positions=10)
    attention = calibration.planted_attention(corpus, seed=0)
    options = dict(models=("Lasso",), redraws=4, n_boot=50, tune=False)
    calls = []
    real = hirability.hirability_auc
    monkeypatch.setattr(hirability, "hirability_auc", lambda *a, **k: calls.append(1) or real(*a, **k))
    result = stages.hirability(corpus, attention, **options)
    tests = stages.tests(result, permutations=500)
    assert (stages.hirability.folder(corpus, attention, **options) / "hirability_auc.csv").exists()
    again = stages.hirability(corpus, attention, **options)
    assert calls == [1]  # loaded, not computed again
    pd.testing.assert_frame_equal(result.table, again.table)
    pd.testing.assert_frame_equal(result.scores, again.scores)
    pd.testing.assert_frame_equal(stages.tests(again, permutations=500), tests)
    assert len(again.redraws) == 4 and set(again.table["model"]) == {"Lasso"}
    assert again.params["redraws"] == 4 and again.params["folds"] == 5 and again.params["tune"] is False
    # the loaded result is keyed by its stage: the tests of the same result load too
    assert again.fingerprint == result.fingerprint == stages.hirability.key(corpus, attention, **options)
    assert set(tests["test"]) == {"permutation", "delong", "redraw"}
    # the planted attention carries the label: it beats random slices
    att = result.table.set_index("kind").loc["attention", "auc"]
    assert att > result.redraws["auc"].mean()
    # one more redraw: another key, computed
    stages.hirability(corpus, attention, **{**options, "redraws": 5})
    assert calls == [1, 1]


def test_calibration_replicate_and_summary():
    rows = [calibration.replicate(s, selector="placebo", effect=0.0, n_redraws=4, n_permutations=200,
                                  corpus_options={"n_positions": 8}) for s in (0, 1)]
    rep = pd.DataFrame(rows).assign(scenario="null")
    for col in ("p_permutation", "p_delong", "p_redraw", "p_fixed draw"):
        assert rep[col].between(0, 1).all()
    assert set(rep["p_redraw"]) <= {k / 5 for k in range(1, 6)}
    summary = calibration.summarise(rep)
    assert list(summary["test"]) == list(calibration.TESTS)
    assert (summary["ci_low"] <= summary["rate"]).all() and (summary["rate"] <= summary["ci_high"]).all()


def test_redraw_verdict_reads_both_directions():
    def table(p, alternative):
        return pd.DataFrame({"model": ["RF", "Lasso", "RF", "Lasso"], "test": ["redraw", "redraw", "delong", "delong"],
                             "p_holm": [*p, 0.001, 0.001], "alternative": alternative})

    above = hirability.redraw_verdict(table([0.04, 0.3], "greater"), table([1.0, 0.9], "less"))
    assert (above.verdict, above.n_above, above.n_below, above.text) == ("reproduced", 1, 0, "yes, 1 of 2 models")
    below = hirability.redraw_verdict(table([0.6, 0.8], "greater"), table([0.01, 0.05], "less"))
    assert (below.verdict, below.n_below) == ("reversed", 2)  # 0.05 is at the level, so it counts
    assert below.text == "reversed: attention below random for 2 of 2 models"
    neither = hirability.redraw_verdict(table([0.06, 0.3], "greater"), table([0.2, 0.051], "less"))
    assert (neither.verdict, neither.text) == ("neither", "no")
    assert neither.p_below.to_dict() == {"RF": 0.2, "Lasso": 0.051}  # the delong rows are not read
    with pytest.raises(ValueError, match="below: expected alternative 'less'"):
        hirability.redraw_verdict(table([0.1, 0.1], "greater"), table([0.1, 0.1], "greater"))
