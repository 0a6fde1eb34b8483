"""Salience, attention-vs-random classification, SHAP importances and recovery of planted moments."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from toolkit import analysis, slices
from toolkit import corpus as corpus_mod

FPS = 10


def _times(duration: float) -> np.ndarray:
    return np.round(np.arange(int(round(duration * FPS)) + 1) / FPS, 6)


def _burst_corpus(n_candidates=40, duration=20.0, seed=0):
    """Answers to question 1 with one AU45 burst each (eyes closed for 1 s) at a known time."""
    rng = np.random.default_rng(seed)
    rows, frames, bursts = [], [], {}
    for c in range(n_candidates):
        aid = f"c{c:02d}-q1"
        rows.append((aid, f"c{c:02d}", f"p{c % 4}", 1, c % 2))
        t = _times(duration)
        f = pd.DataFrame({"answer_id": aid, "time_s": t, "success": True})
        for au in ("AU12", "AU20", "AU45"):
            f[au] = rng.normal(1.0, 0.1, len(t))
        start = float(rng.uniform(2, duration - 3))
        inside = (t >= start) & (t <= start + 1.0)
        f.loc[inside, "AU45"] += 2.0
        bursts[aid] = (start, start + 1.0)
        frames.append(f)
    manifest = pd.DataFrame(rows, columns=["answer_id", "candidate_id", "position_id", "question", "label"])
    return corpus_mod.Corpus(manifest, pd.concat(frames, ignore_index=True), {"frame_rate": FPS}), bursts


def _attention_at(corpus, centres: dict) -> pd.DataFrame:
    parts = []
    for aid, t, _, _ in corpus.iter_answers():
        w = 1.0 + 3.0 * np.clip(1 - np.abs(t - centres[aid]) / 0.8, 0, None)
        parts.append(pd.DataFrame({"answer_id": aid, "time_s": t, "weight": w}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def burst():
    corpus, bursts = _burst_corpus()
    return corpus, bursts


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------- salience

def test_salience_peaks_at_a_planted_burst(burst):
    corpus, bursts = burst
    sal = analysis.salience(corpus)
    assert list(sal.columns) == ["answer_id", "time_s", "weight"]
    np.testing.assert_allclose(sal.groupby("answer_id")["weight"].sum(), 1.0)
    for aid, g in sal.groupby("answer_id"):
        t_max = g["time_s"].to_numpy()[np.argmax(g["weight"].to_numpy())]
        assert bursts[aid][0] - 0.05 <= t_max <= bursts[aid][1] + 0.05
    table = slices.extract(sal, corpus).table
    att = table[table["kind"] == "attention"]
    hit = [(r.start_s < bursts[r.answer_id][1]) and (r.end_s > bursts[r.answer_id][0]) for r in att.itertuples()]
    assert all(hit)


def test_salience_marks_failed_frames_and_handles_constant_answers():
    t = _times(5)
    frames = pd.DataFrame({"answer_id": "a", "time_s": t, "success": True, "AU45": 1.0, "AU12": 0.5})
    frames.loc[3, "success"] = False
    manifest = pd.DataFrame({"answer_id": ["a"], "candidate_id": ["c"], "position_id": ["p"], "question": [1],
                             "label": [1]})
    sal = analysis.salience(corpus_mod.Corpus(manifest, frames))
    assert np.isnan(sal["weight"][3])
    np.testing.assert_allclose(sal["weight"].drop(3), 1 / (len(t) - 1))  # no deviation: uniform


# --------------------------------------------------------------------------- baselines

def test_baseline_f1_exact():
    b = analysis.baseline_f1(1, 4).set_index("model")
    assert b.loc["coin flip"].to_numpy() == pytest.approx([0.286, 0.615, 0.450], abs=1e-3)
    assert b.loc["majority"].to_numpy() == pytest.approx([0.0, 0.889, 0.444], abs=1e-3)
    # The exact coin-flip mean is 41/91 = 0.4505..., which the poster writes 0.450.
    assert b.loc["coin flip", "f1_mean"] == pytest.approx(41 / 91)
    # Exact fractions: F1 = p / (p + 1/2) with p = 1/5, and 2q / (q + 1) with q = 4/5.
    b = analysis.baseline_f1(1, 4).set_index("model")
    assert b.loc["coin flip", "f1_attention"] == pytest.approx(2 / 7)
    assert b.loc["coin flip", "f1_random"] == pytest.approx(8 / 13)
    assert b.loc["majority", "f1_random"] == pytest.approx(8 / 9)
    sym = analysis.baseline_f1(1, 1).set_index("model")
    assert sym.loc["coin flip", "f1_mean"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="positive"):
        analysis.baseline_f1(0, 4)


def test_poster_numbers_are_the_poster_s():
    p = analysis.POSTER.set_index("model")
    assert tuple(p.loc["Lasso"]) == (0.812, 0.955, 0.884)
    assert tuple(p.loc["majority"]) == (0.0, 0.888, 0.444)


# --------------------------------------------------------------------------- attention vs random

def _synthetic_features(n_candidates=40, shift=2.0, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_candidates):
        for k in range(5):
            kind = "attention" if k == 0 else "random"
            x = rng.normal(0, 1, 6)
            if kind == "attention":
                x[0] += shift
            rows.append((f"c{c}-q1:{k}", f"c{c}-q1", f"c{c}", kind, 10, *x))
    cols = ["AU45_delta", "AU20_delta", "AU45_std", "AU20_std", "AU45_active", "AU20_active"]
    return pd.DataFrame(rows, columns=["slice_id", "answer_id", "candidate_id", "kind", "n_frames", *cols])


def test_grouped_folds_never_split_a_candidate():
    f = _synthetic_features()
    y = (f["kind"] == "attention").to_numpy(int)
    groups = f["candidate_id"].to_numpy()
    for seed in (0, 1):
        splits = analysis._splits(y, groups, 5, seed)
        seen = np.zeros(len(f), int)
        for train, test in splits:
            assert not set(groups[train]) & set(groups[test])
            seen[test] += 1
        assert (seen == 1).all()
    with pytest.raises(ValueError, match="3 candidates cannot fill 5 folds"):
        analysis._splits(y[:15], groups[:15], 5, 0)


def test_separable_slices_beat_the_baselines(burst):
    corpus, bursts = burst
    centres = {a: (s + e) / 2 for a, (s, e) in bursts.items()}
    sset = slices.extract(_attention_at(corpus, centres), corpus, seed=0)
    feats = slices.features(corpus, sset)
    res = analysis.attention_vs_random(feats, n_splits=4, n_repeats=1).set_index(["model", "metric"])
    assert res.loc[("Lasso", "f1_attention"), "value"] > 0.8
    assert res.loc[("Random Forest", "f1_mean"), "value"] > 0.85
    assert res.loc[("Lasso", "auc"), "value"] > 0.95
    assert res.loc[("majority", "f1_attention"), "value"] == 0.0
    assert res.loc[("majority", "f1_random"), "value"] == pytest.approx(8 / 9)
    assert set(res.reset_index()["n_folds"]) == {4}
    row = res.loc[("Lasso", "f1_mean")]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]


def test_non_separable_slices_stay_near_the_baselines():
    feats = _synthetic_features(n_candidates=60, shift=0.0, seed=1)
    res = analysis.attention_vs_random(feats, n_splits=4, n_repeats=2).set_index(["model", "metric"])
    for model in ("Lasso", "Random Forest"):
        assert 0.3 < res.loc[(model, "auc"), "value"] < 0.7
        assert res.loc[(model, "f1_attention"), "value"] < 0.35
    assert 0.2 < res.loc[("coin flip", "f1_attention"), "value"] < 0.37
    assert 0.55 < res.loc[("coin flip", "f1_random"), "value"] < 0.68


def test_poster_table_layout():
    feats = _synthetic_features(n_candidates=20)
    res = analysis.attention_vs_random(feats, n_splits=4, n_repeats=1)
    table = analysis.poster_table(res)
    assert list(table["model"]) == ["Lasso", "Random Forest", "coin flip", "majority"]
    assert list(table.columns) == ["model"] + [f"{k} {w}" for k in ("attention", "random", "mean")
                                               for w in ("(ours)", "95% CI", "(poster)")]
    assert table.loc[0, "attention (poster)"] == 0.812
    ours = res.set_index(["model", "metric"]).loc[("Lasso", "f1_attention"), "value"]
    assert table.loc[0, "attention (ours)"] == pytest.approx(round(ours, 3))


def test_summarize_corrected_interval():
    folds = pd.DataFrame({"model": "m", "repeat": [0, 0, 1, 1], "fold": [0, 1, 0, 1], "metric": "auc",
                          "value": [0.6, 0.7, 0.65, 0.65]})
    s = analysis.summarize(folds, n_splits=2).iloc[0]
    sd = np.std([0.6, 0.7, 0.65, 0.65], ddof=1)
    half = 3.182446305284263 * np.sqrt((1 / 4 + 1 / 1) * sd ** 2)  # t(0.975, 3)
    assert s["value"] == pytest.approx(0.65)
    assert s["ci_high"] - s["value"] == pytest.approx(half)


def test_attention_vs_random_rejects_bad_features():
    feats = _synthetic_features(n_candidates=10)
    with pytest.raises(ValueError, match="both 'attention' and 'random'"):
        analysis.attention_vs_random(feats.assign(kind="random"))
    with pytest.raises(ValueError, match="no feature columns"):
        analysis.attention_vs_random(feats[["slice_id", "candidate_id", "kind"]])
    with pytest.raises(ValueError, match="missing column 'candidate_id'"):
        analysis.attention_vs_random(feats.drop(columns="candidate_id"))


# --------------------------------------------------------------------------- importances

def test_importances_find_the_planted_feature():
    feats = _synthetic_features(n_candidates=40, shift=2.0)
    ex = analysis.explain(feats, n_splits=4, n_trees=30)
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

    feats = _synthetic_features(n_candidates=20)
    ex = analysis.explain(feats, n_splits=4, n_trees=20)
    ax = analysis.plot_importances(ex, "Random Forest", kind="bar", top=4)
    assert len(ax.patches) == 4 and "SHAP" in ax.get_xlabel()
    ax = analysis.plot_importances(ex, "Lasso", kind="beeswarm", top=3)
    assert len(ax.collections) == 3
    plt.close("all")
    with pytest.raises(ValueError, match="kind must be 'bar' or 'beeswarm'"):
        analysis.plot_importances(ex, "Lasso", kind="pie")
    with pytest.raises(KeyError, match="no SHAP values for model 'SVM'"):
        analysis.plot_importances(ex, "SVM")
    ex.save(tmp_path / "ex")
    back = analysis.Explanation.load(tmp_path / "ex")
    pd.testing.assert_frame_equal(back.table, ex.table)
    pd.testing.assert_frame_equal(back.values["Lasso"], ex.values["Lasso"])


# --------------------------------------------------------------------------- recovery

def _recovery_case():
    t = _times(10)
    frames = pd.concat([pd.DataFrame({"answer_id": a, "time_s": t, "success": True, "AU45": 0.0})
                        for a in ("a1", "a2")], ignore_index=True)
    manifest = pd.DataFrame({"answer_id": ["a1", "a2"], "candidate_id": ["c1", "c2"], "position_id": ["p", "p"],
                             "question": [1, 1], "label": [0, 1]})
    corpus = corpus_mod.Corpus(manifest, frames)
    episodes = pd.DataFrame([
        ("a1", "anxiety", 2.0, 3.0, True),      # centre 25 %: middle
        ("a1", "distractor", 8.5, 9.5, False),  # centre 90 %: end
        ("a2", "positive", 0.2, 1.2, True),     # centre 7 %: start
        ("a2", "distractor", 5.0, 6.0, False),  # middle
    ], columns=["answer_id", "kind", "start_s", "end_s", "linked"])
    spans = {"a1": [(2.5, 3.5, "attention"), (0, 1, "random"), (5, 6, "random"), (8, 9, "random"),
                    (9, 10, "random")],
             "a2": [(5.5, 6.5, "attention"), (0.5, 1.5, "random"), (3, 4, "random"), (7, 8, "random"),
                    (2, 3, "random")]}
    rows = [(f"{a}:{i}", a, "c1" if a == "a1" else "c2", k, s, e)
            for a, lst in spans.items() for i, (s, e, k) in enumerate(lst)]
    table = pd.DataFrame(rows, columns=list(slices.SLICE_COLUMNS))
    return corpus, episodes, table


def test_recovery_exact_rates():
    corpus, episodes, table = _recovery_case()
    rec = analysis.recovery(table, episodes, corpus, n_boot=50)
    v = rec.set_index(["moment", "location", "metric"])["value"]
    assert v[("linked", "all", "p_attention")] == pytest.approx(0.5)
    assert v[("linked", "all", "p_random")] == pytest.approx(0.125)
    assert v[("linked", "all", "ratio")] == pytest.approx(4.0)
    assert v[("distractor", "all", "p_attention")] == pytest.approx(0.5)
    assert v[("distractor", "all", "p_random")] == pytest.approx(0.25)
    assert v[("linked vs distractor", "all", "preference")] == pytest.approx(2.0)
    # Chance for a 1 s slice in a 10 s answer: starts in (a - 1, b) within [0, 9].
    assert v[("linked", "all", "p_chance")] == pytest.approx((2 / 9 + 1.2 / 9) / 2)
    assert v[("linked", "middle", "p_attention")] == 1.0
    assert v[("linked", "start", "p_attention")] == 0.0
    assert v[("linked", "start", "p_random")] == pytest.approx(0.25)
    assert v[("anxiety", "all", "p_attention")] == 1.0
    n = rec.set_index(["moment", "location", "metric"])["n_answers"]
    assert n[("linked", "all", "p_attention")] == 2 and n[("anxiety", "all", "ratio")] == 1
    assert ("distractor", "start", "p_attention") not in v.index


def test_recovery_defaults_linked_from_kind_and_rejects_bad_episodes():
    corpus, episodes, table = _recovery_case()
    a = analysis.recovery(table, episodes, corpus, n_boot=20)
    b = analysis.recovery(table, episodes.drop(columns="linked"), corpus, n_boot=20)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match=r"episodes: missing column\(s\) \['end_s'\]"):
        analysis.recovery(table, episodes.drop(columns="end_s"), corpus)
    with pytest.raises(ValueError, match="no attention slice"):
        analysis.recovery(table[table["kind"] == "random"], episodes, corpus)
    # Without a bootstrap: the same values, no intervals.
    c = analysis.recovery(table, episodes, corpus, n_boot=0)
    np.testing.assert_allclose(c["value"], a["value"])
    assert c["ci_low"].isna().all()


def test_slice_positions():
    corpus, _, table = _recovery_case()
    pos = analysis.slice_positions(table, corpus).set_index("slice_id")
    assert pos.loc["a1:0", "duration_s"] == pytest.approx(1.0)
    assert pos.loc["a1:0", "relative_time"] == pytest.approx(0.3)
    assert pos.loc["a1:0", "location"] == "middle"
    assert pos.loc["a1:4", "location"] == "end" and pos.loc["a2:1", "location"] == "start"
    assert list(analysis.location_of([0.0, 0.19, 0.2, 0.8, 0.81])) == ["start", "start", "middle", "middle", "end"]


# --------------------------------------------------------------------------- the cached stages and the command line

@pytest.fixture()
def stage_cache(tmp_path, monkeypatch):
    """A private, empty stage cache."""
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_stage_computes_once_per_key(stage_cache, monkeypatch):
    from toolkit import stages

    calls = []
    real = analysis.cross_validate

    def counting(*args, **kwargs):
        calls.append(kwargs.get("seed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(analysis, "cross_validate", counting)
    f = _synthetic_features(n_candidates=20)
    a = stages.attention_vs_random(f, folds=3, repeats=1, models="lasso_fixed")
    b = stages.attention_vs_random(f, folds=3, repeats=1, models="lasso_fixed", progress=True)  # progress: no key
    pd.testing.assert_frame_equal(a, b)
    assert calls == [0]
    assert list(a.columns) == ["model", "repeat", "fold", "metric", "value"]
    assert set(a["model"]) == {"Lasso"} and sorted(a["fold"].unique()) == [0, 1, 2]
    folder = stages.attention_vs_random.folder(f, folds=3, repeats=1, models="lasso_fixed")
    assert folder.parent == stage_cache / "attention_vs_random" and (folder / "table.parquet").exists()
    # another parameter, another key: computed
    c = stages.attention_vs_random(f, folds=3, repeats=1, models="lasso_fixed", seed=1)
    assert calls == [0, 1]
    assert not c["value"].equals(a["value"])
    # other input values, another key: computed
    stages.attention_vs_random(_synthetic_features(n_candidates=20, seed=1), folds=3, repeats=1, models="lasso_fixed")
    assert calls == [0, 1, 0]
    # the uncached function computes every time, and gives what the stage stored
    pd.testing.assert_frame_equal(stages.attention_vs_random.compute(f, folds=3, repeats=1, models="lasso_fixed"), a)
    assert calls == [0, 1, 0, 0]
    with pytest.raises(ValueError, match="models: 'poster', 'lasso' or 'lasso_fixed'"):
        stages.attention_vs_random(f, folds=3, repeats=1, models="forest")


def test_a_stage_refuses_results_it_cannot_save(stage_cache):
    from toolkit import cache

    @cache.stage("demo")
    def demo(x: int = 1):
        return [x]

    with pytest.raises(TypeError, match="a stage cannot save a list"):
        demo()
    # nothing half-written is left behind
    assert not [p for p in (stage_cache / "demo").iterdir()]


def _run_folder(run, attention):
    """A run folder as ``python -m toolkit train`` writes it (the analyses read its attention)."""
    (run / "results").mkdir(parents=True)
    attention.to_parquet(run / "attention.parquet")
    (run / "config.json").write_text("{}")
    pd.DataFrame({"candidate_id": ["c00"], "fold": [0], "label": [0], "score": [0.5]}).to_parquet(
        run / "predictions.parquet")
    (run / "history.csv").write_text("fold,epoch,train_loss\n")
    (run / "results" / "training.csv").write_text("model,metric,value,ci_low,ci_high\nhirenet,auc,0.5,,\n")
    return run


def test_cli_writes_results(tmp_path, burst, stage_cache, capsys):
    from toolkit import cli

    corpus, bursts = burst
    corpus = corpus.subset(candidate_ids=[f"c{c:02d}" for c in range(20)])
    # five positions of four candidates with both labels, so the hirability folds can be grouped by position
    corpus.manifest["position_id"] = corpus.manifest["candidate_id"].map(lambda c: f"p{int(c[1:]) // 4}")
    corpus.episodes = pd.DataFrame([(a, "anxiety", s, e, True) for a, (s, e) in bursts.items()
                                    if a in set(corpus.manifest["answer_id"])],
                                   columns=["answer_id", "kind", "start_s", "end_s", "linked"])
    corpus_mod.save(corpus, tmp_path / "corpus")
    run = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match="not a complete run folder"):
        cli.analyze([str(run)])
    centres = {a: (s + e) / 2 for a, (s, e) in bursts.items()}
    _run_folder(run, _attention_at(corpus, centres))
    with pytest.raises(FileNotFoundError, match="run.json is missing; give the corpus with --corpus"):
        cli.analyze([str(run)])
    (run / "run.json").write_text(json.dumps({"corpus": "../corpus"}))
    assert cli.analyze([str(run), "--folds", "3", "--repeats", "1", "--redraws", "4", "--quiet"]) == 0
    assert "attention_vs_random.csv" in capsys.readouterr().out
    res = pd.read_csv(run / "results" / "attention_vs_random.csv")
    assert list(res.columns) == ["model", "metric", "value", "ci_low", "ci_high", "n_folds"]
    assert set(res["n_folds"]) == {3}  # 3 folds, 1 repeat
    assert res.set_index(["model", "metric"]).loc[("Lasso", "auc"), "value"] > 0.9
    imp = pd.read_csv(run / "results" / "importances.csv")
    assert imp[imp["rank"] == 1]["feature"].tolist() == ["AU45_delta", "AU45_delta"] or \
        imp[imp["rank"] == 1]["au"].tolist() == ["AU45", "AU45"]
    rec = pd.read_csv(run / "results" / "recovery.csv").set_index(["moment", "location", "metric"])
    assert rec.loc[("anxiety", "all", "p_attention"), "value"] == 1.0
    auc = pd.read_csv(run / "results" / "hirability_auc.csv")
    assert set(auc["kind"]) == {"attention", "random"} and auc["auc"].between(0, 1).all()
    tests = pd.read_csv(run / "results" / "permutation_tests.csv")
    assert set(tests["test"]) == {"permutation", "delong", "redraw"}
    assert set(tests.loc[tests["test"] == "redraw", "p_value"]) <= {k / 5 for k in range(1, 6)}  # 4 redraws
    # --corpus overrides run.json
    (run / "run.json").write_text(json.dumps({"corpus": "../nowhere"}))
    assert cli.analyze([str(run), "--corpus", str(tmp_path / "corpus"), "--folds", "3", "--repeats", "1",
                        "--redraws", "4", "--quiet"]) == 0
