"""Null controls: label permutation, the effect-0 twin, summaries, replicates and comparisons."""
from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from toolkit import calibration, controls, model, runs, salience, simulate, stages, training
from toolkit.corpus import Corpus


@pytest.fixture(scope="module", autouse=True)
def _private_cache(tmp_path_factory):
    """The controls run cached stages (the twin, summaries, null networks): keep them out of the data folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def corpus():
    return simulate.simulate("tiny", seed=3)


@pytest.fixture(scope="module")
def small():
    return simulate.simulate("tiny", seed=4, n_positions=10, candidates_per_position=(10, 12), n_questions=1)


@pytest.fixture(scope="module")
def twin(corpus):
    return controls.effect_zero_twin(corpus)


# --------------------------------------------------------------------------- label permutation

def test_permute_labels_keeps_positions_frames_and_episodes(corpus):
    permuted = controls.permute_labels(corpus, seed=1)
    assert permuted.frames is corpus.frames
    assert permuted.episodes is corpus.episodes
    cols = [c for c in corpus.manifest.columns if c != "label"]
    pd.testing.assert_frame_equal(permuted.manifest[cols], corpus.manifest[cols])
    # each position keeps its number of invited candidates
    before = corpus.candidates.groupby("position_id")["label"].agg(["sum", "size"])
    after = permuted.candidates.groupby("position_id")["label"].agg(["sum", "size"])
    pd.testing.assert_frame_equal(before, after)
    # a candidate has one label on all its answers
    assert (permuted.manifest.groupby("candidate_id")["label"].nunique() == 1).all()
    # the labels did move, and the original corpus is untouched
    assert (permuted.candidates["label"].to_numpy() != corpus.candidates["label"].to_numpy()).any()
    assert permuted.meta["permuted_labels"] == {"seed": 1, "within": "position_id"}
    assert "permuted_labels" not in corpus.meta


def test_permute_labels_is_reproducible_from_its_seed(corpus):
    a = controls.permute_labels(corpus, seed=5).manifest["label"]
    b = controls.permute_labels(corpus, seed=5).manifest["label"]
    c = controls.permute_labels(corpus, seed=6).manifest["label"]
    assert a.equals(b)
    assert not a.equals(c)


def test_permute_labels_needs_positions(corpus):
    broken = Corpus(corpus.manifest.drop(columns="position_id"), corpus.frames, dict(corpus.meta))
    with pytest.raises(ValueError, match="missing column 'position_id'"):
        controls.permute_labels(broken, seed=0)


# --------------------------------------------------------------------------- the effect-0 twin

def test_twin_differs_only_in_the_linked_moments(corpus, twin):
    assert twin.meta["config"]["effect"] == 0.0
    assert corpus.meta["config"]["effect"] > 0
    # same candidates, labels, positions, answers and durations
    pd.testing.assert_frame_equal(twin.manifest, corpus.manifest)
    assert np.array_equal(twin.frames["time_s"], corpus.frames["time_s"])
    assert np.array_equal(twin.frames["success"], corpus.frames["success"])
    # the linked moments were redrawn ...
    cols = ["answer_id", "kind", "start_s", "end_s"]
    linked = lambda c: c.episodes.loc[c.episodes["kind"] != "distractor", cols]  # noqa: E731
    assert not linked(twin).reset_index(drop=True).equals(linked(corpus).reset_index(drop=True))
    # ... the distractor moments kept (up to a rare one that found no room next to the new moments)
    n_dis = [int((c.episodes["kind"] == "distractor").sum()) for c in (corpus, twin)]
    assert abs(n_dis[0] - n_dis[1]) <= 0.02 * n_dis[0]
    # where an answer has as many linked moments in both, every moment sits at the same place
    count = lambda c: c.episodes[c.episodes["kind"] != "distractor"].groupby("answer_id").size().reindex(  # noqa: E731
        c.manifest["answer_id"], fill_value=0)
    same = count(corpus).eq(count(twin))
    assert 0 < same.sum() < len(same)
    keep = lambda c: c.episodes.loc[c.episodes["answer_id"].isin(same[same].index)]  # noqa: E731
    pd.testing.assert_frame_equal(keep(twin)[["answer_id", "start_s", "end_s"]].reset_index(drop=True),
                                  keep(corpus)[["answer_id", "start_s", "end_s"]].reset_index(drop=True))
    # the faces (baselines, noise, blinks, speech, smiles, tracking failures) are the same frame
    # for frame outside the planted moments of either corpus
    inside = np.zeros(len(corpus.frames), bool)
    t = corpus.frames["time_s"].to_numpy()
    ids = corpus.frames["answer_id"].to_numpy()
    for c in (corpus, twin):
        for row in c.episodes.itertuples(index=False):
            inside |= (ids == row.answer_id) & (t >= row.start_s - 1e-9) & (t <= row.end_s + 1e-9)
    a = corpus.frames[corpus.aus].to_numpy()
    b = twin.frames[corpus.aus].to_numpy()
    differs = ~((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1)
    assert differs.any()
    assert not (differs & ~inside).any()


def test_twin_of_a_subset_keeps_its_answers(corpus):
    answers = corpus.manifest["answer_id"].iloc[:20]
    twin = controls.effect_zero_twin(corpus.subset(answer_ids=answers))
    assert list(twin.manifest["answer_id"]) == list(answers)


def test_twin_is_cached_by_the_simulate_stage(corpus, twin, tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    writes = []
    real = simulate.write
    monkeypatch.setattr(simulate, "write", lambda *a, **k: writes.append(1) or real(*a, **k))
    first = controls.effect_zero_twin(corpus)
    pd.testing.assert_frame_equal(first.frames, twin.frames)
    pd.testing.assert_frame_equal(first.episodes, twin.episodes)
    assert len(writes) == 1
    entries = list((tmp_path / "cache" / "simulate").iterdir())
    assert len(entries) == 1 and (entries[0] / "manifest.csv").exists()
    stamp = (entries[0] / "manifest.csv").stat().st_mtime_ns
    again = controls.effect_zero_twin(corpus)
    assert len(writes) == 1  # loaded
    assert (entries[0] / "manifest.csv").stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(again.frames, twin.frames)
    # in memory: the same twin, nothing written
    memory = controls.effect_zero_twin(corpus, cached=False)
    assert len(writes) == 1 and memory.path is None
    pd.testing.assert_frame_equal(memory.frames.reset_index(drop=True), twin.frames.reset_index(drop=True),
                                  check_dtype=False)
    pd.testing.assert_frame_equal(memory.manifest, twin.manifest, check_dtype=False)


def test_twin_needs_a_simulated_corpus(corpus):
    real = Corpus(corpus.manifest, corpus.frames, {"source": "openface", "frame_rate": 10})
    with pytest.raises(ValueError, match="only for a corpus made by toolkit.simulate"):
        controls.effect_zero_twin(real)


# --------------------------------------------------------------------------- one source's headline numbers

def test_summarize_attention_is_reproducible_and_in_range(small):
    att = salience.salience(small)
    a = controls.summarize_attention(small, att, seed=2, n_splits=3, tune=False)
    # (toolkit.hirability's Lasso is not seeded: liblinear's shuffling wobbles in the 5th digit)
    b = controls.summarize_attention(small, att, seed=2, n_splits=3, hirability=False, tune=False)
    assert {k: v for k, v in a.items() if not k.startswith("auc")} == pytest.approx(
        {k: v for k, v in b.items() if not k.startswith("auc")})
    assert a["n_slices"] == len(small.manifest)
    assert 0.45 < a["f1_mean"] <= 1 and 0.5 < a["kind_auc"] <= 1   # salience slices are unusual
    assert a["overlap_linked"] > 1 and a["overlap_distractor"] > 1  # and they find salient moments
    assert a["slices_start"] + a["slices_middle"] + a["slices_end"] == pytest.approx(1)
    assert 0 < a["auc_attention"] < 1 and a["auc_difference"] == pytest.approx(a["auc_attention"] - a["auc_random"])
    assert np.isnan(b["auc_difference"])
    for k in ("edge_start_2pct", "edge_end_2pct", "edge_start_1s", "edge_end_1s"):
        assert 0 <= a[k] <= 1


def _edge_attention(corpus, where: str) -> pd.DataFrame:
    fr = corpus.frames[["answer_id", "time_s"]].copy()
    last = fr.groupby("answer_id")["time_s"].transform("max")
    rng = np.random.default_rng(0)
    weight = 1 + 0.01 * rng.random(len(fr))
    mid = (fr["time_s"] - last / 2).abs() < 0.3
    end = fr["time_s"] > last - 0.3
    weight = weight + 1.0 * end.to_numpy() + (0.5 * mid.to_numpy() if where == "both" else 0)
    return fr.assign(weight=weight)


def test_edge_rates_and_the_edge_discount(corpus):
    # every frame tracked: no tracking gap before an answer's last frames (the slice rule ignores
    # untracked frames; see test_slices.py::test_smoothing_keeps_a_bump_after_a_tracking_gap)
    corpus = Corpus(corpus.manifest, corpus.frames.assign(success=True), corpus.meta, corpus.episodes)
    att = _edge_attention(corpus, "both")
    plain = controls.edge_rates(att, corpus, question=None)
    assert plain["edge_end_1s"] == 1.0 and plain["edge_end_2pct"] > 0.9
    assert plain["edge_start_1s"] == 0.0
    assert plain["n_answers"] == len(corpus.manifest)
    discounted = controls.edge_rates(att, corpus, question=None, edge_discount_s=1.0)
    assert discounted["edge_end_1s"] == 0.0 and discounted["n_answers"] == len(corpus.manifest)
    # the first question only; a start peak instead of an end peak
    first = controls.edge_rates(att, corpus, question=1)
    assert first["n_answers"] == int((corpus.manifest["question"] == 1).sum()) and first["edge_end_1s"] == 1.0
    last = att.groupby("answer_id")["time_s"].transform("max")
    start = att.assign(weight=att["weight"] + 2.0 * (att["time_s"] < 0.3) - 1.0 * (att["time_s"] > last - 0.3))
    flipped = controls.edge_rates(start, corpus, question=None)
    assert flipped["edge_start_1s"] == 1.0 and flipped["edge_end_1s"] == 0.0


# --------------------------------------------------------------------------- the null references

def test_reference_seeds_are_disjoint():
    assert controls.reference_seed("trained", 0, seed=3) == 3 and controls.reference_seed("trained", 4, seed=3) == 7
    assert controls.reference_seed("untrained", 0, seed=3) == 1003
    assert controls.reference_seed("permuted", 2, seed=3) == 2005
    assert controls.reference_seed("twin", 1, seed=0) == 1000 * (controls.REFERENCES.index("twin") + 1) + 1
    seeds = [controls.reference_seed(ref, r, seed=3) for ref in ("trained", *controls.REFERENCES) for r in range(100)]
    assert len(set(seeds)) == len(seeds)
    with pytest.raises(ValueError):
        controls.reference_seed("shuffled", 0)


def _fake_run(corpus, attention, tmp_path):
    """A trained run as the controls read it: its attention and the options it was trained with."""
    config = {"train": training.TrainConfig(folds=3, epochs=2, lr=0.01).to_dict(),
              "model": model.HireNetConfig(hidden_size=8).to_dict()}
    empty = pd.DataFrame()
    return runs.Run(tmp_path, config, empty, attention, empty, empty)


def _fake_train(calls):
    """A stand-in for the train stage: untrained -> noise with an end peak; trained -> peaks on linked moments."""
    def train(corpus, seed=0, untrained=False, progress=False, **options):
        calls.append(SimpleNamespace(corpus=corpus, seed=seed, untrained=untrained, options=options))
        if untrained:
            return SimpleNamespace(attention=_edge_attention(corpus, "end"))
        return SimpleNamespace(attention=calibration.planted_attention(corpus, question=1, seed=seed))
    return train


def test_reference_attention_of_each_reference(small, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(stages, "train", _fake_train(calls))
    observed = calibration.planted_attention(small, question=1, seed=0)
    run = _fake_run(small, observed, tmp_path)
    att, on = controls.reference_attention(small, "trained", 0, run, seed=5)
    assert att is observed and on is small and calls == []
    att, on = controls.reference_attention(small, "salience", 2, run, seed=5)
    pd.testing.assert_frame_equal(att, salience.salience(small))
    assert on is small and calls == []
    # the null networks are trained with the run's options and architecture, on their own seeds
    expected = {"folds": 3, "epochs": 2, "device": "auto", "threads": 1,
                "model": model.HireNetConfig(hidden_size=8),
                "options": {k: v for k, v in training.TrainConfig(lr=0.01).to_dict().items()
                            if k not in ("folds", "epochs", "device", "num_threads", "seed", "untrained")}}
    _, on = controls.reference_attention(small, "untrained", 1, run, seed=5)
    assert on is small
    assert (calls[-1].seed, calls[-1].untrained, calls[-1].corpus) == (1006, True, small)
    assert calls[-1].options == expected
    _, on = controls.reference_attention(small, "permuted", 0, run, seed=5)
    assert on is small and calls[-1].seed == 2005 and not calls[-1].untrained
    assert calls[-1].corpus.meta["permuted_labels"] == {"seed": 2005, "within": "position_id"}
    assert calls[-1].options == expected
    _, on = controls.reference_attention(small, "twin", 0, run, seed=5)
    assert on is calls[-1].corpus and on.meta["config"]["effect"] == 0.0 and calls[-1].seed == 4005
    pd.testing.assert_frame_equal(on.manifest, small.manifest)
    with pytest.raises(ValueError, match="unknown reference 'shuffled'"):
        controls.reference_attention(small, "shuffled", 0, run)


def test_run_controls_is_cached_and_reproducible(small, tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    calls = []
    monkeypatch.setattr(stages, "train", _fake_train(calls))
    summaries = []
    real = stages.source_summary.compute
    monkeypatch.setattr(stages.source_summary, "compute", lambda *a, **k: summaries.append(k["seed"]) or real(*a, **k))
    observed = calibration.planted_attention(small, question=1, seed=0)
    run = _fake_run(small, observed, tmp_path)
    n = {"untrained": 2, "permuted": 1, "salience": 1, "twin": 1}
    kw = dict(n_replicates=n, seed=7, progress=False, n_splits=3, hirability=False, tune=False, n_jobs=1)
    table = controls.run_controls(small, run, **kw)
    assert list(table.columns) == ["reference", "replicate", "seed", "metric", "value"]
    counts = table.groupby("reference")["replicate"].nunique().to_dict()
    assert counts == {"trained": 1, **n}
    # each replicate has its own seed (the trained source the run's), in the table and in its training
    seeds = table.groupby(["reference", "replicate"])["seed"].unique()
    assert all(len(v) == 1 and v[0] == controls.reference_seed(ref, r, 7) for (ref, r), v in seeds.items())
    assert sorted(summaries) == sorted(controls.reference_seed(ref, r, 7) for ref, r in seeds.index)
    assert sorted(c.seed for c in calls) == [1007, 1008, 2007, 4007]
    assert [c.untrained for c in calls] == [True, True, False, False]
    # the permuted run saw other labels with the same count of invited candidates; the twin the twin
    assert {int(c.corpus.manifest["label"].sum()) for c in calls} == {int(small.manifest["label"].sum())}
    assert "permuted_labels" in calls[2].corpus.meta and calls[3].corpus.meta["config"]["effect"] == 0.0
    # the same table again: every summary is loaded from the cache
    summaries.clear()
    again = controls.run_controls(small, run, **kw)
    assert summaries == []
    pd.testing.assert_frame_equal(again, table)
    # the stage computes the same table (its folds and repeats are run_controls's n_splits and n_repeats)
    staged = stages.controls(small, run, replicates=n, references=controls.REFERENCES, seed=7, folds=3,
                             hirability=False, tune=False, progress=False)
    assert summaries == []
    pd.testing.assert_frame_equal(staged, table)
    # sources computed side by side (threads) give the same table, in the same order
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "side-by-side"))
    summaries.clear()
    parallel = controls.run_controls(small, run, **{**kw, "n_jobs": 2})
    assert len(summaries) == len(seeds)
    pd.testing.assert_frame_equal(parallel, table)
    with pytest.raises(ValueError, match="n_jobs must be a positive integer"):
        controls.run_controls(small, run, **{**kw, "n_jobs": 0})
    # the same seed in a fresh cache gives the same numbers; another seed does not
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "fresh"))
    summaries.clear()
    one = {**kw, "n_replicates": {"salience": 1}}
    fresh = controls.run_controls(small, run, references=("salience",), **one)
    assert len(summaries) == 2
    pd.testing.assert_frame_equal(fresh, table[table["reference"].isin(["trained", "salience"])].reset_index(drop=True))
    other = controls.run_controls(small, run, references=("salience",), **{**one, "seed": 8})
    s7 = fresh[fresh["reference"] == "salience"].set_index("metric")["value"]
    s8 = other[other["reference"] == "salience"].set_index("metric")["value"]
    assert s7["f1_mean"] != s8["f1_mean"]

    # the planted oracle prefers linked moments, salience does not
    comparison = controls.compare(table).set_index(["metric", "reference"])
    pref = comparison.loc[("preference", "salience")]
    assert pref["observed"] > pref["null_max"] and pref["n_replicates"] == 1
    assert pref["verdict"] == "not enough replicates"  # one replicate can never give p <= 0.05
    assert comparison.loc[("auc_difference", "all"), "verdict"] == "not measured"  # hirability=False
    wide = controls.pooled(table).set_index("metric")
    assert wide.loc["preference", "observed"] > wide.loc["preference", "salience_max"]
    assert wide.loc["preference", "untrained_n"] == 2


def test_run_controls_rejects_unknown_references(small, tmp_path):
    run = _fake_run(small, salience.salience(small), tmp_path)
    with pytest.raises(ValueError, match="unknown reference"):
        controls.run_controls(small, run, references=("shuffled",))
    with pytest.raises(ValueError, match="must be >= 0"):
        controls.run_controls(small, run, references=("salience",), n_replicates=-1)
    with pytest.raises(ValueError, match=r"n_replicates names reference\(s\) \['twin'\]"):
        controls.run_controls(small, run, references=("salience",), n_replicates={"twin": 1})


# --------------------------------------------------------------------------- the verdict table

def _table(observed, null, metric="f1_mean", reference="untrained"):
    observed = np.atleast_1d(observed)
    rows = [("trained", i, metric, v) for i, v in enumerate(observed)]
    rows += [(reference, i, metric, v) for i, v in enumerate(null)]
    return pd.DataFrame(rows, columns=["reference", "replicate", "metric", "value"])


def test_empirical_p():
    null = np.linspace(0.1, 0.9, 9)
    assert controls._empirical_p(1.0, null, "greater") == pytest.approx(1 / 10)
    assert controls._empirical_p(0.5, null, "greater") == pytest.approx(6 / 10)  # ties count as extreme
    assert controls._empirical_p(0.0, null, "greater") == 1.0
    assert controls._empirical_p(0.0, null, "less") == pytest.approx(1 / 10)
    # NaN replicates are not counted
    assert controls._empirical_p(1.0, np.r_[null, np.nan], "greater") == pytest.approx(1 / 10)
    assert np.isnan(controls._empirical_p(np.nan, null, "greater")) and np.isnan(controls._empirical_p(1.0, [], "greater"))


COLUMNS = ["metric", "reference", "observed", "observed_min", "observed_max", "null_mean", "null_min", "null_max",
           "n_replicates", "p", "p_holm", "needed", "verdict"]


def test_compare_p_values_and_verdicts():
    null9, null19 = np.linspace(0.1, 0.9, 9), np.linspace(0.1, 0.9, 19)
    few = controls.compare(_table(1.0, null9))
    assert list(few.columns) == COLUMNS
    assert few["reference"].tolist() == ["untrained", "all"] and set(few["metric"]) == {"f1_mean"}
    row = few.iloc[0]
    assert row["p"] == pytest.approx(1 / 10) and row["p_holm"] == pytest.approx(1 / 10)
    assert row["n_replicates"] == 9 and row["observed"] == 1.0
    assert (row["null_min"], row["null_mean"], row["null_max"]) == pytest.approx((0.1, 0.5, 0.9))
    # beyond all 9 replicates, p = 0.1 cannot reach 0.05: never a pass
    assert few["verdict"].tolist() == ["not enough replicates", "not enough replicates"]
    above = controls.compare(_table(1.0, null19))
    assert above["p"].iloc[0] == pytest.approx(1 / 20)
    assert above["verdict"].tolist() == ["survives", "survives"]
    inside = controls.compare(_table(0.5, null19))
    assert inside["p"].iloc[0] == pytest.approx(11 / 20)
    assert inside["verdict"].tolist() == ["does not survive", "does not survive"]
    # alpha and min_replicates are parameters
    assert controls.compare(_table(1.0, null9), alpha=0.1)["verdict"].iloc[0] == "survives"
    assert controls.compare(_table(1.0, null9), min_replicates=30)["needed"].iloc[0] == 30
    # a value inside the null distribution is refuted whatever the number of replicates
    assert controls.compare(_table(0.5, null9))["verdict"].iloc[0] == "does not survive"
    # a claim of "less" (jaw drop not active) counts the other tail
    less = controls.compare(_table(-1.0, null19, metric="AU26_active"), metrics=["AU26_active"])
    assert less["p"].iloc[0] == pytest.approx(1 / 20) and less["verdict"].iloc[0] == "survives"
    more = controls.compare(_table(1.0, null19, metric="AU26_active"), metrics=["AU26_active"])
    assert more["p"].iloc[0] == 1.0 and more["verdict"].iloc[0] == "does not survive"


def test_compare_holm_across_claims_per_reference():
    def two_claims(n):
        null = np.linspace(0.1, 0.9, n)
        return pd.concat([_table(1.0, null, "f1_mean"), _table(1.0, null, "anxiety_signs")])

    # two claims each beyond all 19 replicates: p = 0.05 each, Holm doubles the smaller
    t19 = controls.compare(two_claims(19)).set_index(["metric", "reference"])
    assert t19.loc[("f1_mean", "untrained"), "p"] == pytest.approx(0.05)
    assert t19.loc[("f1_mean", "untrained"), "p_holm"] == pytest.approx(0.1)
    assert t19.loc[("anxiety_signs", "untrained"), "p_holm"] == pytest.approx(0.1)
    # Holm over 2 claims needs 2 / 0.05 - 1 = 39 replicates: beyond all 19, no verdict yet
    assert t19.loc[("f1_mean", "untrained"), "needed"] == 39
    assert set(t19["verdict"]) == {"not enough replicates"}
    # beyond all 39 replicates: p = 0.025, Holm 0.05: both survive
    t39 = controls.compare(two_claims(39)).set_index(["metric", "reference"])
    assert t39.loc[("f1_mean", "untrained"), "p_holm"] == pytest.approx(0.05)
    assert set(t39["verdict"]) == {"survives"}
    # rows follow the order of the claims, then of the references
    assert controls.compare(two_claims(39))["metric"].tolist() == ["f1_mean"] * 2 + ["anxiety_signs"] * 2


def test_compare_overall_verdict_needs_every_reference():
    low, high = np.linspace(0.1, 0.5, 19), np.linspace(0.9, 1.5, 19)
    both = pd.concat([_table(0.8, low), _table(0.8, low, reference="salience").iloc[1:]])
    t = controls.compare(both).set_index("reference")
    assert t.loc["untrained", "verdict"] == t.loc["salience", "verdict"] == t.loc["all", "verdict"] == "survives"
    assert t.index.tolist() == ["untrained", "salience", "all"]
    refuted = pd.concat([_table(0.8, low), _table(0.8, high, reference="salience").iloc[1:]])
    t = controls.compare(refuted).set_index("reference")
    assert t.loc["untrained", "verdict"] == "survives" and t.loc["salience", "verdict"] == "does not survive"
    assert t.loc["all", "verdict"] == "does not survive"
    assert t.loc["all", "p"] == t.loc["salience", "p"] and t.loc["all", "null_max"] == pytest.approx(1.5)
    short = pd.concat([_table(0.8, low), _table(0.8, low[:3], reference="salience").iloc[1:]])
    t = controls.compare(short).set_index("reference")
    assert t.loc["salience", "verdict"] == "not enough replicates"
    assert t.loc["all", "verdict"] == "not enough replicates" and t.loc["all", "n_replicates"] == 3


def test_compare_not_measured_and_several_trained_seeds():
    # a claim whose metric was not measured (e.g. overlap without episodes) beside one that was
    table = pd.concat([_table(np.nan, np.linspace(0, 1, 19), "overlap_linked"),
                       _table(1.0, np.linspace(0, 0.5, 19), "f1_mean")])
    nan = controls.compare(table).set_index(["metric", "reference"])
    assert nan.loc["overlap_linked", "verdict"].tolist() == ["not measured", "not measured"]
    assert nan.loc["overlap_linked", "p"].isna().all() and nan.loc["overlap_linked", "p_holm"].isna().all()
    # the unmeasured claim does not count in Holm's correction of the others
    assert nan.loc[("f1_mean", "untrained"), "p_holm"] == pytest.approx(1 / 20)
    assert nan.loc[("f1_mean", "all"), "verdict"] == "survives"
    # NaN replicates are not counted
    partly = controls.compare(_table(1.0, np.r_[np.linspace(0.1, 0.9, 19), np.nan]))
    assert partly["n_replicates"].iloc[0] == 19 and partly["verdict"].iloc[0] == "survives"
    # several trained seeds: their mean is the observed value
    seeds = controls.compare(_table([0.8, 1.0], np.linspace(0.1, 0.5, 19))).iloc[0]
    assert (seeds["observed"], seeds["observed_min"], seeds["observed_max"]) == pytest.approx((0.9, 0.8, 1.0))


def test_compare_when_nothing_was_measured():
    nan = controls.compare(_table(np.nan, np.linspace(0, 1, 19)))
    assert nan["verdict"].tolist() == ["not measured", "not measured"] and nan["p"].isna().all()


def test_compare_takes_the_claims_metrics_by_default():
    table = pd.concat([_table(1.0, np.linspace(0, 0.5, 19), "f1_mean"),
                       _table(1.0, np.linspace(0, 0.5, 19), "kind_auc")])
    assert set(controls.compare(table)["metric"]) == {"f1_mean"}  # kind_auc tests no claim
    assert set(controls.compare(table, metrics=["kind_auc"])["metric"]) == {"kind_auc"}
    assert set(controls.VERDICT_METRICS) == {metric for _, metric in controls.CLAIMS}
    assert controls.MIN_REPLICATES == 19


def test_compare_needs_observed_and_null_rows():
    with pytest.raises(ValueError, match="no row of the observed source"):
        controls.compare(_table(1.0, [0.1]).iloc[1:])
    with pytest.raises(ValueError, match="no null reference"):
        controls.compare(_table(1.0, [0.1]).iloc[:1])
    with pytest.raises(ValueError, match="missing column"):
        controls.compare(_table(1.0, [0.1]).drop(columns="replicate"))


def test_pooled_summary():
    table = pd.concat([_table(1.0, [0.1, 0.2, 0.6]), _table(1.0, [0.3], reference="salience").iloc[1:]])
    wide = controls.pooled(table)
    assert list(wide.columns) == ["metric", "observed", "untrained_mean", "untrained_min", "untrained_max",
                                  "untrained_n", "salience_mean", "salience_min", "salience_max", "salience_n"]
    row = wide.iloc[0]
    assert row["metric"] == "f1_mean" and row["observed"] == 1.0
    assert (row["untrained_mean"], row["untrained_min"], row["untrained_max"]) == pytest.approx((0.3, 0.1, 0.6))
    assert row["untrained_n"] == 3 and row["salience_n"] == 1


@pytest.mark.slow
def test_untrained_reference_with_hirenet(small, tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    run = stages.train(small, folds=3, epochs=1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        att, on = controls.reference_attention(small, "untrained", 0, run, seed=0)
    assert on is small
    assert {"answer_id", "time_s", "weight"} <= set(att.columns)
    assert not np.allclose(att["weight"], run.attention["weight"])
    again, _ = controls.reference_attention(small, "untrained", 0, run, seed=0)
    pd.testing.assert_frame_equal(att, again)
    # two networks in the train stage's cache: the run and its untrained twin, the same network and options
    configs = [json.loads((f / "config.json").read_text()) for f in (tmp_path / "cache" / "train").iterdir()]
    assert len(configs) == 2
    null = next(c for c in configs if c["train"]["untrained"])
    assert null["train"]["seed"] == controls.reference_seed("untrained", 0, 0) == 1000
    assert {k: v for k, v in null["train"].items() if k not in ("seed", "untrained")} == \
        {k: v for k, v in run.config["train"].items() if k not in ("seed", "untrained")}
    assert null["model"] == run.config["model"]


def test_trained_seeds_are_more_trainings_of_the_same_network(small, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(stages, "train", _fake_train(calls))
    observed = calibration.planted_attention(small, question=1, seed=0)
    run = _fake_run(small, observed, tmp_path)
    assert [controls.reference_seed("trained", r, seed=3) for r in range(3)] == [3, 4, 5]
    att, on = controls.reference_attention(small, "trained", 2, run, seed=3)
    assert on is small and calls[-1].seed == 5 and not calls[-1].untrained
    assert calls[-1].options["model"] == model.HireNetConfig(hidden_size=8)  # the run's own architecture
    table = controls.run_controls(small, run, n_replicates={"salience": 1}, references=("salience",), seed=3,
                                  seeds=3, n_splits=3, hirability=False, tune=False, progress=False)
    trained = table[table["reference"] == "trained"]
    assert sorted(trained["replicate"].unique()) == [0, 1, 2] and sorted(trained["seed"].unique()) == [3, 4, 5]
    comparison = controls.compare(table, metrics=["overlap_linked"]).set_index("reference")
    values = trained.loc[trained["metric"] == "overlap_linked", "value"]
    assert comparison.loc["salience", "observed"] == pytest.approx(values.mean())
    assert (comparison.loc["salience", "observed_min"], comparison.loc["salience", "observed_max"]) == \
        pytest.approx((values.min(), values.max()))
    with pytest.raises(ValueError, match="seeds must be a positive integer"):
        controls.run_controls(small, run, references=("salience",), seeds=0, progress=False)
