"""The slice rule, random slices and slice features, on hand-made curves and frames."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from toolkit import corpus as corpus_mod
from toolkit import slices

FPS = 10


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """The command line runs cached stages: keep their cache out of the data folder."""
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path_factory.mktemp("cache")))


def _times(duration: float, fps: int = FPS) -> np.ndarray:
    return np.round(np.arange(int(round(duration * fps)) + 1) / fps, 6)


def _triangle(t, centre, half_width, height, base=1.0):
    return base + height * np.clip(1 - np.abs(t - centre) / half_width, 0, None)


def _corpus(n_candidates=6, duration=30.0, questions=(1, 2), aus=("AU45", "AU20"), seed=0):
    """A hand-made corpus: noise frames at 10 frames/s, answers of ``duration`` seconds."""
    rng = np.random.default_rng(seed)
    rows, frames = [], []
    for c in range(n_candidates):
        for q in questions:
            aid = f"c{c}-q{q}"
            rows.append((aid, f"c{c}", "p0", q, c % 2))
            t = _times(duration)
            f = pd.DataFrame({"answer_id": aid, "time_s": t, "success": True})
            for au in aus:
                f[au] = rng.normal(1.0, 0.1, len(t))
            frames.append(f)
    manifest = pd.DataFrame(rows, columns=["answer_id", "candidate_id", "position_id", "question", "label"])
    return corpus_mod.Corpus(manifest, pd.concat(frames, ignore_index=True), {"frame_rate": FPS})


def _attention(corpus, centre=11.0, half_width=1.0):
    parts = []
    for aid, t, _, _ in corpus.iter_answers():
        parts.append(pd.DataFrame({"answer_id": aid, "time_s": t, "weight": _triangle(t, centre, half_width, 3.0)}))
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- the rule

def test_smooth_is_a_moving_average_in_time():
    t = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    w = np.array([0.0, 0.0, 6.0, 0.0, 0.0])
    # Interior frames average the weights within 0.25 s of them; the first and last frames,
    # whose windows stick out of the answer, take the nearest full window's value.
    np.testing.assert_allclose(slices.smooth(t, w, 0.5), [2, 2, 2, 2, 2])
    np.testing.assert_allclose(slices.smooth(t, w, 0.0), w)


def test_smoothing_keeps_a_bump_after_a_tracking_gap():
    # tracked frames 0 ... 8.1 s, then (after untracked frames, dropped) 9.2 and 9.3 s with twice the weight
    t = np.r_[_times(8.1), 9.2, 9.3]
    w = np.ones_like(t)
    w[-2:] = 2.0
    s = slices.smooth(t, w, 0.5)
    assert s[-1] > s[0]
    found, reason = slices.find_slice(t, w)
    assert reason == "ok" and found["peak_s"] >= 9.2


def test_single_peak_boundaries_at_half_prominence():
    t = _times(30)
    found, reason = slices.find_slice(t, _triangle(t, 11.0, 1.0, 2.0), smooth_s=0)
    assert reason == "ok"
    assert found["peak_s"] == pytest.approx(11.0)
    # A triangle of half-width 1 s falls to half its height 0.5 s from the peak.
    assert found["start_s"] == pytest.approx(10.5)
    assert found["end_s"] == pytest.approx(11.5)
    assert found["uniform"] == pytest.approx(1 / len(t))
    w = _triangle(t, 11.0, 1.0, 2.0)
    assert found["prominence"] == pytest.approx(2.0 / w.sum())


def test_smoothing_keeps_a_symmetric_peak_centred_and_widens_it():
    t = _times(30)
    found = slices.attention_slice(t, _triangle(t, 11.0, 1.0, 2.0), smooth_s=0.5)
    assert found["peak_s"] == pytest.approx(11.0)
    assert found["start_s"] < 10.5 and found["end_s"] > 11.5
    assert (found["start_s"] + found["end_s"]) / 2 == pytest.approx(11.0)


def test_highest_of_two_peaks_wins():
    t = _times(30)
    w = _triangle(t, 5.0, 1.0, 1.0) + _triangle(t, 20.0, 1.0, 2.0, base=0.0)
    assert slices.attention_slice(t, w)["peak_s"] == pytest.approx(20.0)
    w = _triangle(t, 5.0, 1.0, 3.0) + _triangle(t, 20.0, 1.0, 2.0, base=0.0)
    assert slices.attention_slice(t, w)["peak_s"] == pytest.approx(5.0)


def test_smoothing_prefers_a_sustained_bump_to_a_one_frame_spike():
    t = _times(30)
    w = _triangle(t, 20.0, 1.0, 1.0)
    w[50] += 3.0  # a one-frame spike at 5 s, higher than the bump
    assert slices.attention_slice(t, w, smooth_s=0)["peak_s"] == pytest.approx(5.0)
    assert slices.attention_slice(t, w, smooth_s=0.5)["peak_s"] == pytest.approx(20.0)


def test_flat_attention_gives_no_slice_with_a_reason():
    t = _times(30)
    assert slices.find_slice(t, np.full(len(t), 1 / len(t))) == (None, "flat attention")
    assert slices.attention_slice(t, np.ones(len(t))) is None


def test_very_short_answer_gives_no_slice():
    t = _times(0.3)
    assert slices.find_slice(t, np.array([1.0, 3.0, 1.0, 1.0])) == (None, "too short")
    assert slices.find_slice(np.array([]), np.array([])) == (None, "no weights")


def test_peak_at_the_end_of_the_answer():
    t = _times(30)  # last frame at 30 s
    w = 1.0 + 4.0 * np.clip((t - 28.0) / 2.0, 0, None)
    found = slices.attention_slice(t, w, smooth_s=0)
    assert found["peak_s"] == pytest.approx(30.0)
    assert found["end_s"] == pytest.approx(30.0)
    assert found["start_s"] == pytest.approx(29.0)  # half of the ramp's prominence
    assert found["relative_peak"] == pytest.approx(1.0)


def test_edge_discount_excludes_edge_peaks():
    t = _times(30)
    w = 1.0 + 4.0 * np.clip((t - 28.0) / 2.0, 0, None) + _triangle(t, 15.0, 1.0, 1.0, base=0.0)
    # Smoothed, the last three frames share the last full window's value; the flat peak is
    # reported at its middle frame.
    assert slices.attention_slice(t, w)["peak_s"] == pytest.approx(29.9)
    assert slices.attention_slice(t, w, edge_discount_s=1.0)["peak_s"] == pytest.approx(15.0)
    edge_only = 1.0 + 4.0 * np.clip((t - 28.0) / 2.0, 0, None)
    assert slices.find_slice(t, edge_only, edge_discount_s=1.0) == (None, "only edge peaks")


def test_duration_is_clipped_to_limits():
    t = _times(30)
    narrow = slices.attention_slice(t, _triangle(t, 11.0, 0.1, 2.0), smooth_s=0)
    assert narrow["end_s"] - narrow["start_s"] == pytest.approx(0.5)
    assert (narrow["start_s"] + narrow["end_s"]) / 2 == pytest.approx(11.0)
    wide = slices.attention_slice(t, _triangle(t, 13.0, 10.0, 2.0), smooth_s=0)
    assert wide["end_s"] - wide["start_s"] == pytest.approx(4.0)
    assert wide["start_s"] == pytest.approx(11.0) and wide["end_s"] == pytest.approx(15.0)
    # Too short at the start of the answer: grows inside the answer only.
    edge = slices.attention_slice(t, _triangle(t, 0.0, 0.1, 2.0), smooth_s=0)
    assert (edge["start_s"], edge["end_s"]) == (pytest.approx(0.0), pytest.approx(0.5))
    custom = slices.attention_slice(t, _triangle(t, 13.0, 10.0, 2.0), smooth_s=0, max_s=2.0)
    assert custom["end_s"] - custom["start_s"] == pytest.approx(2.0)


def test_missing_weights_are_ignored():
    t = _times(30)
    w = _triangle(t, 11.0, 1.0, 2.0)
    w[:100] = np.nan
    found = slices.attention_slice(t, w, smooth_s=0)
    assert found["uniform"] == pytest.approx(1 / (len(t) - 100))
    assert found["peak_s"] == pytest.approx(11.0)


def test_rule_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        slices.find_slice(np.arange(3.0), np.ones(4))
    with pytest.raises(ValueError, match="increase"):
        slices.find_slice(np.array([0.0, 2.0, 1.0, 3.0]), np.ones(4))
    with pytest.raises(ValueError, match="non-negative"):
        slices.find_slice(_times(2), -np.ones(21))


# --------------------------------------------------------------------------- slices of a corpus

def test_extract_slices_answers_to_the_question():
    corpus = _corpus()
    result = slices.extract(_attention(corpus), corpus, question=1, n_random=4, seed=0)
    table = result.table
    assert list(table.columns[:6]) == list(slices.SLICE_COLUMNS)
    assert set(table["answer_id"]) == {f"c{c}-q1" for c in range(6)}
    assert (table.groupby("answer_id")["kind"].value_counts().unstack()[["attention", "random"]]
            .to_numpy() == [1, 4]).all()
    att = table[table["kind"] == "attention"]
    assert np.allclose(att["peak_s"], 11.0)
    assert table["slice_id"].is_unique
    assert result.skipped.empty


def test_random_slices_inside_answers_and_duration_matched():
    corpus = _corpus()
    table = slices.extract(_attention(corpus), corpus, n_random=20, seed=3).table
    assert (table["start_s"] >= 0).all() and (table["end_s"] <= 30.0 + 1e-9).all()
    dur = table["end_s"] - table["start_s"]
    att_dur = table[table["kind"] == "attention"].set_index("answer_id")["end_s"] - \
        table[table["kind"] == "attention"].set_index("answer_id")["start_s"]
    np.testing.assert_allclose(dur, table["answer_id"].map(att_dur))
    # Starts spread over the answer.
    rnd = table[table["kind"] == "random"]
    assert rnd["start_s"].min() < 5 and rnd["start_s"].max() > 20


def test_random_slices_reproducible_for_a_seed_and_per_answer():
    corpus = _corpus()
    att = _attention(corpus)
    a = slices.extract(att, corpus, seed=1).table
    b = slices.extract(att, corpus, seed=1).table
    c = slices.extract(att, corpus, seed=2).table
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["start_s"], c["start_s"])
    sub = corpus.subset(candidate_ids=["c3"])
    d = slices.extract(att, sub, seed=1).table
    pd.testing.assert_frame_equal(d.reset_index(drop=True),
                                  a[a["candidate_id"] == "c3"].reset_index(drop=True))


def test_no_overlap_option():
    corpus = _corpus()
    table = slices.extract(_attention(corpus), corpus, n_random=30, seed=0, no_overlap=True).table
    att = table[table["kind"] == "attention"].set_index("answer_id")
    rnd = table[table["kind"] == "random"]
    s_att = rnd["answer_id"].map(att["start_s"])
    e_att = rnd["answer_id"].map(att["end_s"])
    assert not ((rnd["start_s"] < e_att - 1e-9) & (rnd["end_s"] > s_att + 1e-9)).any()
    overlapping = slices.extract(_attention(corpus), corpus, n_random=30, seed=0).table
    r2 = overlapping[overlapping["kind"] == "random"]
    assert ((r2["start_s"] < r2["answer_id"].map(att["end_s"])) &
            (r2["end_s"] > r2["answer_id"].map(att["start_s"]))).any()


def test_skipped_answers_are_reported_with_reasons():
    corpus = _corpus(n_candidates=6)
    att = _attention(corpus)
    att.loc[att["answer_id"] == "c1-q1", "weight"] = 1.0                      # flat
    att = att[att["answer_id"] != "c2-q1"]                                    # no attention
    frames = corpus.frames.copy()
    frames.loc[frames["answer_id"] == "c3-q1", "success"] = False             # no face
    short = (frames["answer_id"] == "c4-q1") & (frames["time_s"] > 0.3)
    frames = frames[~short].reset_index(drop=True)                            # too short
    att = att[~((att["answer_id"] == "c4-q1") & (att["time_s"] > 0.3))]
    corpus = corpus_mod.Corpus(corpus.manifest, frames, corpus.meta)
    with pytest.warns(UserWarning, match=r"4 of 6 answers have no slices"):
        result = slices.extract(att, corpus)
    reasons = result.skipped.set_index("answer_id")["reason"].to_dict()
    assert reasons == {"c1-q1": "flat attention", "c2-q1": "no attention", "c3-q1": "no success frames",
                       "c4-q1": "too short"}
    assert set(result.table["answer_id"]) == {"c0-q1", "c5-q1"}
    assert "4 answers skipped" in repr(result)


def test_frames_without_a_face_carry_no_weight():
    corpus = _corpus(n_candidates=2, questions=(1,))
    frames = corpus.frames.copy()
    lost = (frames["answer_id"] == "c0-q1") & frames["time_s"].between(10, 15)
    frames.loc[lost, "success"] = False
    corpus = corpus_mod.Corpus(corpus.manifest, frames, corpus.meta)
    # Flat attention on measured frames, 0 on the lost ones (as a network masks them).
    # The other answer has a peak.
    weight = np.where(lost, 0.0, 1.0)
    other = (frames["answer_id"] == "c1-q1").to_numpy()
    weight[other] = _triangle(frames.loc[other, "time_s"].to_numpy(), 11.0, 1.0, 3.0)
    att = frames[["answer_id", "time_s"]].assign(weight=weight)
    with pytest.warns(UserWarning, match="1 of 2 answers"):
        result = slices.extract(att, corpus)
    assert result.skipped[["answer_id", "reason"]].values.tolist() == [["c0-q1", "flat attention"]]


def test_no_room_for_random_slices_is_reported():
    corpus = _corpus(n_candidates=1, duration=3.0, questions=(1,))
    t = _times(3.0)
    att = pd.DataFrame({"answer_id": "c0-q1", "time_s": t, "weight": _triangle(t, 1.5, 5.0, 2.0)})
    with pytest.warns(UserWarning, match="no room"):
        result = slices.extract(att, corpus, no_overlap=True)
    assert result.skipped["reason"].tolist() == ["no room for random slices"]


def test_extract_rejects_bad_input():
    corpus = _corpus()
    att = _attention(corpus)
    with pytest.raises(ValueError, match="missing column.*weight"):
        slices.extract(att.drop(columns="weight"), corpus)
    with pytest.raises(TypeError, match="unknown slice-rule option"):
        slices.extract(att, corpus, smoothing=1.0)
    with pytest.raises(ValueError, match="no answer to question 7"):
        slices.extract(att, corpus, question=7)


# --------------------------------------------------------------------------- features

def _feature_corpus():
    t = _times(1.9)  # 20 frames, 0.0 ... 1.9 s
    au45 = np.where(np.arange(20) % 2 == 0, 0.9, 1.1)
    au45[5:10] = [2.0, 2.0, 3.0, 3.0, 2.0]
    success = np.ones(20, bool)
    success[15] = False
    au45[15] = 50.0  # a failed frame: must not count
    frames = pd.DataFrame({"answer_id": "a1", "time_s": t, "success": success, "AU45": au45,
                           "AU20": np.linspace(0, 1.9, 20)})
    manifest = pd.DataFrame({"answer_id": ["a1"], "candidate_id": ["c1"], "position_id": ["p"],
                             "question": [1], "label": [0]})
    table = pd.DataFrame({"slice_id": ["s1", "s2"], "answer_id": ["a1", "a1"], "candidate_id": ["c1", "c1"],
                          "kind": ["attention", "random"], "start_s": [0.5, 1.4], "end_s": [0.9, 1.6]})
    return corpus_mod.Corpus(manifest, frames), table, au45, success


def test_features_known_values():
    corpus, table, au45, success = _feature_corpus()
    f = slices.features(corpus, table).set_index("slice_id")
    answer_mean = au45[success].mean()
    sl = au45[5:10]
    assert f.loc["s1", "n_frames"] == 5
    assert f.loc["s1", "AU45_delta"] == pytest.approx(sl.mean() - answer_mean)
    assert f.loc["s1", "AU45_std"] == pytest.approx(sl.std())
    # Relative threshold: median + 2 x 1.4826 x MAD of the answer's success frames.
    ok = au45[success]
    thr = np.median(ok) + 2 * 1.4826 * np.median(np.abs(ok - np.median(ok)))
    assert f.loc["s1", "AU45_active"] == pytest.approx((sl > thr).mean())
    # s2 covers frames 14, 15 (failed), 16.
    assert f.loc["s2", "n_frames"] == 2
    assert f.loc["s2", "AU45_delta"] == pytest.approx(au45[[14, 16]].mean() - answer_mean)
    assert f.loc["s2", "AU20_std"] == pytest.approx(np.std([1.4, 1.6]))
    assert list(f.columns[:4]) == ["answer_id", "candidate_id", "kind", "n_frames"]
    # Canonical AU order (vocabulary), grouped by statistic.
    assert slices.feature_columns(f) == ["AU20_delta", "AU45_delta", "AU20_std", "AU45_std",
                                         "AU20_active", "AU45_active"]


def test_features_do_not_depend_on_row_order():
    corpus = _corpus()
    table = slices.extract(_attention(corpus), corpus, seed=0).table
    a = slices.features(corpus, table).set_index("slice_id")
    b = slices.features(corpus, table.iloc[::-1]).set_index("slice_id").loc[a.index]
    pd.testing.assert_frame_equal(a, b)
    # Against a direct computation for one slice.
    row = table.iloc[7]
    f = corpus.answer_frames(row["answer_id"])
    inside = f[(f["time_s"] >= row["start_s"]) & (f["time_s"] <= row["end_s"])]
    assert a.loc[row["slice_id"], "AU20_delta"] == pytest.approx(inside["AU20"].mean() - f["AU20"].mean())
    assert a.loc[row["slice_id"], "n_frames"] == len(inside)


def test_features_absolute_thresholds():
    corpus, table, au45, _ = _feature_corpus()
    f = slices.features(corpus, table, threshold=2.5).set_index("slice_id")
    assert f.loc["s1", "AU45_active"] == pytest.approx(0.4)
    f = slices.features(corpus, table, threshold={"AU45": 1.95, "AU20": 100}).set_index("slice_id")
    assert f.loc["s1", "AU45_active"] == pytest.approx(1.0)
    assert f.loc["s1", "AU20_active"] == 0.0
    with pytest.raises(ValueError, match="threshold: no value for"):
        slices.features(corpus, table, threshold={"AU45": 1.0})


def test_features_of_a_slice_without_faces_are_nan_and_warned():
    corpus, table, _, _ = _feature_corpus()
    table = pd.concat([table, table.iloc[[1]].assign(slice_id="s3", start_s=1.5, end_s=1.52)])
    with pytest.warns(UserWarning, match="1 of 3 slices have no success frames"):
        f = slices.features(corpus, table).set_index("slice_id")
    assert f.loc["s3", "n_frames"] == 0 and np.isnan(f.loc["s3", "AU45_delta"])


def test_features_reject_unknown_answers():
    corpus, table, _, _ = _feature_corpus()
    with pytest.raises(ValueError, match="answer_id 'zz' has no frames"):
        slices.features(corpus, table.assign(answer_id="zz"))
    with pytest.raises(ValueError, match="missing column"):
        slices.features(corpus, table.drop(columns="kind"))


# --------------------------------------------------------------------------- saving a slice set

def test_slice_set_save_load_and_fingerprint(tmp_path):
    corpus = _corpus()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sliced = slices.extract(_attention(corpus), corpus, n_random=2, seed=1)
    assert sliced.save(tmp_path / "set") == tmp_path / "set"
    loaded = slices.SliceSet.load(tmp_path / "set")
    pd.testing.assert_frame_equal(loaded.table, sliced.table)
    pd.testing.assert_frame_equal(loaded.skipped, sliced.skipped, check_dtype=False)
    assert loaded.params == json.loads(json.dumps(sliced.params))
    # without a stage key, the fingerprint is a hash of the slices: equal sets, equal fingerprints
    assert loaded.fingerprint == sliced.fingerprint and len(sliced.fingerprint) == 16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = slices.extract(_attention(corpus), corpus, n_random=2, seed=2)
    assert other.fingerprint != sliced.fingerprint
    # a folder written by the stage cache carries its key, which becomes the fingerprint
    (tmp_path / "set" / ".stage-key").write_text("0123456789abcdef\n")
    assert slices.SliceSet.load(tmp_path / "set").fingerprint == "0123456789abcdef"


# --------------------------------------------------------------------------- command line

def _run_folder(run, attention):
    """A run folder as ``python -m toolkit train`` writes it (only what ``slices`` reads matters)."""
    run.mkdir(parents=True)
    (run / "results").mkdir()
    attention.to_parquet(run / "attention.parquet")
    (run / "config.json").write_text("{}")
    pd.DataFrame({"candidate_id": ["c0"], "fold": [0], "label": [0], "score": [0.5]}).to_parquet(
        run / "predictions.parquet")
    (run / "history.csv").write_text("fold,epoch,train_loss\n")
    (run / "results" / "training.csv").write_text("model,metric,value,ci_low,ci_high\nhirenet,auc,0.5,,\n")
    return run


def test_cli_writes_slices(tmp_path, capsys):
    from toolkit import cli

    corpus = _corpus()
    corpus_mod.save(corpus, tmp_path / "corpus")
    run = _run_folder(tmp_path / "run", _attention(corpus))
    # the corpus is recorded relative to the run folder
    (run / "run.json").write_text(json.dumps({"corpus": "../corpus"}))
    assert cli.slices([str(run), "--n-random", "3", "--seed", "5", "--quiet"]) == 0
    assert "slices.parquet" in capsys.readouterr().out
    table = pd.read_parquet(run / "slices.parquet")
    assert list(table.columns[:6]) == list(slices.SLICE_COLUMNS)
    assert (table["kind"] == "random").sum() == 3 * 6
    expected = slices.extract(_attention(corpus), corpus_mod.load(tmp_path / "corpus"), n_random=3, seed=5).table
    pd.testing.assert_frame_equal(table, expected)
    assert pd.read_csv(run / "slices_skipped.csv").empty
    assert not list(run.glob(".*.tmp"))
    # another seed gives other random slices, the same attention slices
    assert cli.slices([str(run), "--n-random", "3", "--seed", "6", "--quiet"]) == 0
    seed6 = pd.read_parquet(run / "slices.parquet")
    pd.testing.assert_frame_equal(seed6[seed6["kind"] == "attention"], expected[expected["kind"] == "attention"])
    assert not seed6.loc[seed6["kind"] == "random", "start_s"].equals(expected.loc[expected["kind"] == "random",
                                                                                     "start_s"])


def test_cli_takes_the_corpus_option_and_warns_on_skipped_answers(tmp_path, capsys):
    from toolkit.__main__ import main

    corpus = _corpus()
    corpus_mod.save(corpus, tmp_path / "corpus")
    attention = _attention(corpus)
    flat = attention["answer_id"] == "c0-q1"
    attention.loc[flat, "weight"] = 1.0  # no peak: no slice for this answer
    run = _run_folder(tmp_path / "run", attention)
    assert main(["slices", str(run), "--corpus", str(tmp_path / "corpus"), "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["warning: 1 answers got no slice; see slices_skipped.csv"]
    skipped = pd.read_csv(run / "slices_skipped.csv")
    assert skipped["answer_id"].tolist() == ["c0-q1"] and skipped["reason"].tolist() == ["flat attention"]
    table = pd.read_parquet(run / "slices.parquet")
    assert "c0-q1" not in set(table["answer_id"]) and (table["kind"] == "attention").sum() == 5


def test_cli_errors(tmp_path, capsys):
    from toolkit import cli
    from toolkit.__main__ import main

    with pytest.raises(FileNotFoundError, match="not a complete run folder .*missing config.json"):
        cli.slices([str(tmp_path)])
    run = _run_folder(tmp_path / "run", pd.DataFrame({"answer_id": ["a"], "time_s": [0.0], "weight": [1.0]}))
    with pytest.raises(FileNotFoundError, match="run.json is missing; give the corpus with --corpus"):
        cli.slices([str(run)])
    (run / "run.json").write_text(json.dumps({"corpus": None}))
    with pytest.raises(ValueError, match="no corpus recorded; give the corpus with --corpus"):
        cli.slices([str(run)])
    assert main(["slices", str(run)]) == 1
    assert capsys.readouterr().err.startswith("error: ")
