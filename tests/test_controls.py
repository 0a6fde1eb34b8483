"""Null controls: label permutation, the effect-0 twin, summaries, replicates and comparisons."""
from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pandas as pd
import pytest

from toolkit import analysis, calibration, controls, simulate
from toolkit.corpus import Corpus


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


def test_twin_is_cached_in_a_folder(corpus, twin, tmp_path):
    first = controls.effect_zero_twin(corpus, folder=tmp_path / "twin")
    pd.testing.assert_frame_equal(first.frames, twin.frames)
    stamp = (tmp_path / "twin" / "manifest.csv").stat().st_mtime_ns
    controls.effect_zero_twin(corpus, folder=tmp_path / "twin")
    assert (tmp_path / "twin" / "manifest.csv").stat().st_mtime_ns == stamp


def test_twin_needs_a_simulated_corpus(corpus):
    real = Corpus(corpus.manifest, corpus.frames, {"source": "openface", "frame_rate": 10})
    with pytest.raises(ValueError, match="only for a corpus made by toolkit.simulate"):
        controls.effect_zero_twin(real)


# --------------------------------------------------------------------------- one source's headline numbers

def test_summarize_attention_is_reproducible_and_in_range(small):
    att = analysis.salience(small)
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
    att = _edge_attention(corpus, "both")
    plain = controls.edge_rates(att, corpus, question=None)
    assert plain["edge_end_1s"] == 1.0 and plain["edge_end_2pct"] > 0.9
    assert plain["edge_start_1s"] == 0.0
    assert plain["n_answers"] == len(corpus.manifest)
    discounted = controls.edge_rates(att, corpus, question=None, edge_discount_s=1.0)
    assert discounted["edge_end_1s"] == 0.0 and discounted["n_answers"] == len(corpus.manifest)


# --------------------------------------------------------------------------- replicates, cache, comparison

def _fake_train(calls):
    """A stand-in for HireNet: untrained -> noise with an end peak; trained -> peaks on linked moments."""
    def train(corpus, folder, seed, untrained=False, train_config=None, model_config=None, progress=False):
        calls.append((str(folder), seed, untrained, int(corpus.manifest["label"].sum())))
        if untrained:
            return _edge_attention(corpus, "end")
        return calibration.planted_attention(corpus, question=1, seed=seed)
    return train


def test_run_controls_is_cached_and_reproducible(small, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(controls, "_train_attention", _fake_train(calls))
    observed = calibration.planted_attention(small, question=1, seed=0)
    n = {"untrained": 2, "permuted": 1, "salience": 1, "twin": 1}
    kw = dict(n_replicates=n, attention=observed, seed=7, progress=False, n_splits=3, hirability=False,
              tune=False)
    table = controls.run_controls(small, tmp_path / "run", **kw)
    assert list(table.columns) == ["reference", "replicate", "metric", "value"]
    counts = table.groupby("reference")["replicate"].nunique().to_dict()
    assert counts == {"trained": 1, **n}
    # the permuted run saw other labels with the same count of invited candidates; the twin the twin
    assert len(calls) == 4
    assert {c[3] for c in calls} == {int(small.manifest["label"].sum())}
    assert any("twin-r0" in c[0] for c in calls) and any("permuted-r0" in c[0] for c in calls)
    # a second call loads every summary from the cache
    calls.clear()
    again = controls.run_controls(small, tmp_path / "run", **kw)
    assert calls == []
    pd.testing.assert_frame_equal(again, table)
    # the same seed in a fresh folder gives the same numbers; another seed does not
    one = {**kw, "n_replicates": {"salience": 1}, "references": ("salience",)}
    fresh = controls.run_controls(small, tmp_path / "other", **one)
    pd.testing.assert_frame_equal(fresh, table[table["reference"].isin(["trained", "salience"])].reset_index(drop=True))
    other = controls.run_controls(small, tmp_path / "other", **{**one, "seed": 8})
    s7 = fresh[fresh["reference"] == "salience"].set_index("metric")["value"]
    s8 = other[other["reference"] == "salience"].set_index("metric")["value"]
    assert s7["f1_mean"] != s8["f1_mean"]

    # the planted oracle prefers linked moments, salience does not
    comparison = controls.compare(table)
    pref = comparison.set_index("metric").loc["preference"]
    assert pref["observed"] > pref["salience_max"]
    text = controls.claims(comparison)
    assert len(text) == len(controls.CLAIMS)
    assert all(f"{r.observed:.2f}" in r.statement for r in text.itertuples() if np.isfinite(r.observed))


def test_run_controls_rejects_unknown_references(small, tmp_path):
    with pytest.raises(ValueError, match="unknown reference"):
        controls.run_controls(small, tmp_path, references=("shuffled",), attention=analysis.salience(small))
    with pytest.raises(ValueError, match="must be >= 0"):
        controls.run_controls(small, tmp_path, references=("salience",), n_replicates=-1,
                              attention=analysis.salience(small))


def _table(observed, null, metric="f1_mean"):
    rows = [("trained", 0, metric, observed)] + [("untrained", i, metric, v) for i, v in enumerate(null)]
    return pd.DataFrame(rows, columns=["reference", "replicate", "metric", "value"])


def test_compare_p_values_and_verdicts():
    null = np.linspace(0.1, 0.9, 9)
    above = controls.compare(_table(1.0, null)).iloc[0]
    assert above["p_value"] == pytest.approx(1 / 10)
    assert above["verdict"] == "leaves its nulls"  # beyond all 9: the smallest p they allow
    inside = controls.compare(_table(0.5, null)).iloc[0]
    assert inside["p_value"] == pytest.approx(6 / 10) and inside["verdict"] == "within its nulls"
    below = controls.compare(_table(0.0, null)).iloc[0]
    assert below["p_value"] == 1.0 and below["verdict"] == "below its nulls"
    many = controls.compare(_table(0.95, np.r_[np.linspace(0, 0.9, 30), 0.99])).iloc[0]
    assert many["p_value"] == pytest.approx(2 / 32) and many["verdict"] == "within its nulls"
    # a claim of "less" (jaw drop not active) counts the other tail
    less = controls.compare(_table(-1.0, null, metric="AU26_active")).iloc[0]
    assert less["direction"] == "less" and less["verdict"] == "leaves its nulls"
    assert above["untrained_n"] == 9 and above["untrained_max"] == pytest.approx(0.9)


def test_compare_needs_observed_and_null_rows():
    with pytest.raises(ValueError, match="no row of the observed source"):
        controls.compare(_table(1.0, [0.1]).iloc[1:])
    with pytest.raises(ValueError, match="no null reference"):
        controls.compare(_table(1.0, [0.1]).iloc[:1])
    with pytest.raises(ValueError, match="missing column"):
        controls.compare(_table(1.0, [0.1]).drop(columns="replicate"))


def test_write_results(tmp_path):
    paths = controls.write_results(_table(1.0, [0.1, 0.2]), tmp_path / "results")
    assert [p.name for p in paths] == ["controls_replicates.csv", "controls.csv"]
    assert pd.read_csv(paths[1])["verdict"].iloc[0] == "leaves its nulls"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("toolkit.hirenet") is None, reason="toolkit.hirenet not present")
def test_untrained_reference_with_hirenet(small, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        att, on = controls.reference_attention(small, "untrained", 0, tmp_path, seed=0)
    assert on is small
    assert {"answer_id", "time_s", "weight"} <= set(att.columns)
    again, _ = controls.reference_attention(small, "untrained", 0, tmp_path, seed=0)
    pd.testing.assert_frame_equal(att, again)
