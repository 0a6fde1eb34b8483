"""Tests of the simulated interview corpus (toolkit.simulate)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.signal import find_peaks
from scipy.stats import mannwhitneyu
from sklearn.metrics import roc_auc_score

from toolkit import cli
from toolkit import corpus as corpus_mod
from toolkit import simulate as sim
from toolkit.vocabulary import AUS

MID = dict(n_positions=40)  # ~320 candidates of the tiny preset: enough to see rates by label


@pytest.fixture(scope="module")
def tiny():
    return sim.simulate("tiny", seed=0)


@pytest.fixture(scope="module")
def mid():
    return sim.simulate("tiny", seed=7, **MID)


@pytest.fixture(scope="module")
def mid_null():
    return sim.simulate(sim.effect_zero_twin("tiny"), seed=7, **MID)


def _frame_hash(frames: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frames, index=False).to_numpy()


def _moment_stat(corpus) -> tuple[pd.Series, pd.DataFrame]:
    """Per candidate: label, and counts of planted moments by kind (per minute of answers)."""
    m = corpus.manifest
    y = corpus.candidates.set_index("candidate_id")["label"]
    minutes = m.groupby("candidate_id")["duration_s"].sum().reindex(y.index) / 60
    e = corpus.episodes.merge(m[["answer_id", "candidate_id"]], on="answer_id")
    counts = (e.pivot_table(index="candidate_id", columns="kind", values="start_s", aggfunc="count")
              .reindex(index=y.index, columns=list(sim.KINDS)).fillna(0))
    return y, counts.div(minutes, axis=0)


# --------------------------------------------------------------------------- structure

def test_tiny_structure(tiny):
    m, f = tiny.manifest, tiny.frames
    assert list(m.columns[:6]) == ["answer_id", "candidate_id", "position_id", "question", "label", "duration_s"]
    assert "gender" in m.columns and set(m["gender"]) == {"female", "male"}
    assert m["position_id"].nunique() == 6
    assert m.groupby("candidate_id")["question"].apply(lambda q: sorted(q) == [1, 2, 3, 4, 5]).all()
    assert list(f.columns) == ["answer_id", "time_s", "success", *AUS]
    assert all(f[au].dtype == np.float32 for au in AUS)
    assert tiny.meta["source"] == "simulated" and tiny.meta["frame_rate"] == 10.0
    assert tiny.meta["preset"] == "tiny" and tiny.meta["seed"] == 0
    assert tiny.meta["config"]["effect"] == sim.PRESETS["tiny"].effect
    # frames per answer match duration_s at the frame rate
    n = f.groupby("answer_id", sort=False).size().reindex(m["answer_id"]).to_numpy()
    np.testing.assert_array_equal(n, np.round(m["duration_s"].to_numpy() * 10).astype(int))
    corpus_mod.validate(tiny)  # raises on any contract breach


def test_au_values_like_tracker_output(tiny):
    f = tiny.frames
    x = f[list(AUS)].to_numpy()
    ok = f["success"].to_numpy()
    assert 0.97 < ok.mean() < 1.0, "rare tracking failures"
    assert np.isnan(x[~ok]).all() and np.isfinite(x[ok]).all()
    assert x[ok].min() >= 0 and x[ok].max() <= 5
    # autocorrelated: consecutive frames are close compared with the spread of an AU
    au07 = f.loc[ok, "AU07"].to_numpy()
    r = np.corrcoef(au07[1:], au07[:-1])[0, 1]
    assert r > 0.6
    # the mouth moves with speech: AU25 varies much more than a quiet AU such as AU15
    assert f["AU25"].std() > 2 * f["AU15"].std()


def test_labels_and_prevalence_by_position():
    candidates = sim.plan("book", seed=0)
    assert 300 <= len(candidates) <= 500 and candidates["position_id"].nunique() == 40
    rate = candidates["label"].mean()
    assert 0.28 < rate < 0.42
    by_position = candidates.groupby("position_id")["label"].mean()
    assert by_position.std() > 0.05, "prevalence varies by position"
    # the latent quality drives the label
    assert roc_auc_score(candidates["label"], candidates["quality"]) > 0.8


def test_durations(tiny):
    book = sim.plan("book", seed=0)
    config = sim.PRESETS["book"]
    per_answer = book["duration_s"] / config.n_questions
    assert 35 < per_answer.median() < 65
    d = tiny.manifest["duration_s"]
    lo, hi = sim.PRESETS["tiny"].duration_range_s
    assert d.min() >= lo and d.max() <= hi + 0.05
    assert d.mean() > d.median(), "skewed to the right"


def test_book_size_fits_the_budget():
    book = sim.plan("book", seed=0)
    frames = book["duration_s"].sum() * sim.PRESETS["book"].frame_rate
    assert 700_000 < frames <= 1_200_000


def test_paper_preset_sizes():
    config = sim.PRESETS["paper"]
    assert config.n_positions == 475 and config.n_questions == 5
    candidates = sim.plan("paper", seed=0)  # the plan only: no frames are generated
    assert len(candidates) == 7095
    assert candidates["position_id"].nunique() == 475
    assert 500 < candidates["duration_s"].sum() / 3600 < 620, "about the paper's 558 hours"
    twin = sim.plan(sim.effect_zero_twin("paper"), seed=0)
    pd.testing.assert_frame_equal(twin, candidates)


def test_config_round_trip(tiny):
    config = sim.SimulationConfig.from_dict(tiny.meta["config"])
    assert config == sim.PRESETS["tiny"]


# --------------------------------------------------------------------------- reproducibility

def test_same_seed_same_bytes_other_seed_differs(tiny):
    again = sim.simulate("tiny", seed=0)
    np.testing.assert_array_equal(_frame_hash(again.frames), _frame_hash(tiny.frames))
    pd.testing.assert_frame_equal(again.episodes, tiny.episodes)
    other = sim.simulate("tiny", seed=1)
    assert not other.manifest["duration_s"].equals(tiny.manifest["duration_s"])
    n = min(len(other.frames), len(tiny.frames))
    assert not np.array_equal(other.frames["AU12"].to_numpy()[:n], tiny.frames["AU12"].to_numpy()[:n])


def test_write_equals_simulate_and_loads(tmp_path, tiny):
    out = sim.write(tmp_path / "corpus", preset="tiny", seed=0, progress=False, chunk_frames=5_000)
    parts = sorted((out / "frames.parquet").glob("*.parquet"))
    assert len(parts) > 3, "small chunks give several part files"
    assert {p.name for p in out.iterdir()} == {"manifest.csv", "frames.parquet", "corpus.json", "episodes.csv"}
    loaded = corpus_mod.load(out)
    pd.testing.assert_frame_equal(loaded.frames, tiny.frames)
    pd.testing.assert_frame_equal(loaded.manifest, tiny.manifest)
    pd.testing.assert_frame_equal(loaded.episodes, tiny.episodes)
    assert loaded.meta == tiny.meta
    # writing again replaces the corpus; no temporary folder is left beside it
    sim.write(out, preset="tiny", seed=0, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["corpus"]
    pd.testing.assert_frame_equal(corpus_mod.load(out).frames, tiny.frames)


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = sim._chunk

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sim, "_chunk", failing)
    with pytest.raises(KeyboardInterrupt):
        sim.write(tmp_path / "corpus", preset="tiny", seed=0, progress=False, chunk_frames=5_000)
    assert list(tmp_path.iterdir()) == []


def test_write_refuses_a_folder_that_is_not_a_corpus(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a corpus folder"):
        sim.write(tmp_path, preset="tiny", progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"


# --------------------------------------------------------------------------- planted moments

def test_episodes_inside_answers_and_durations(tiny):
    e = tiny.episodes.merge(tiny.manifest[["answer_id", "duration_s"]], on="answer_id")
    length = e["end_s"] - e["start_s"]
    assert length.min() >= 0.5 - 1e-9 and length.max() <= 4.0 + 1e-9
    assert (e["start_s"] >= 0).all() and (e["end_s"] <= e["duration_s"] + 1e-9).all()
    assert set(e["kind"]) == set(sim.KINDS)
    assert (e["linked"] == e["kind"].isin(sim.LINKED_KINDS)).all()
    # moments of one answer never overlap
    for _, g in e.sort_values("start_s").groupby("answer_id"):
        assert (g["start_s"].to_numpy()[1:] >= g["end_s"].to_numpy()[:-1]).all()


def test_moments_show_in_their_aus(tiny):
    """Each planted kind raises its own AUs above the answer's usual level."""
    inside = {}
    for kind in sim.KINDS:
        rows = []
        for e in tiny.episodes[tiny.episodes["kind"] == kind].itertuples():
            a = tiny.answer_frames(e.answer_id)
            mid = (e.start_s + e.end_s) / 2
            rows.append(a.loc[(a["time_s"] - mid).abs() <= 0.25, list(AUS)].mean() - a[list(AUS)].median())
        inside[kind] = pd.concat(rows, axis=1).mean(axis=1)
    assert inside["anxiety"][["AU20", "AU23", "AU45"]].min() > 1.0
    assert inside["anxiety"]["AU26"] < 0
    assert inside["positive"][["AU06", "AU12"]].min() > 1.0
    assert inside["distractor"][["AU01", "AU04"]].min() > 0.4  # half coughs, half glances


@pytest.mark.parametrize("profile, low, high", [("ends", 0.6, 1.0), ("uniform", 0.25, 0.5), ("middle", 0.0, 0.15)])
def test_positional_profile(profile, low, high):
    # answers of about a minute, as in the book (in very short answers moments fill the ends)
    c = sim.simulate("tiny", seed=3, moment_profile=profile, n_positions=3, duration_median_s=60.0,
                     duration_range_s=(20.0, 180.0))
    e = c.episodes.merge(c.manifest[["answer_id", "duration_s"]], on="answer_id")
    centre = (e["start_s"] + e["end_s"]) / 2 / e["duration_s"]
    share_at_ends = ((centre < 0.2) | (centre > 0.8)).mean()
    assert low <= share_at_ends <= high, share_at_ends


def test_effect_links_moments_to_the_label(mid):
    y, rates = _moment_stat(mid)
    stat = np.log((rates["positive"] + 0.1) / (rates["anxiety"] + 0.1))
    assert roc_auc_score(y, stat) > 0.72
    assert mannwhitneyu(stat[y == 1], stat[y == 0]).pvalue < 1e-6
    assert rates.loc[y == 0, "anxiety"].mean() > 2 * rates.loc[y == 1, "anxiety"].mean()
    # distractors do not depend on the label
    assert abs(roc_auc_score(y, rates["distractor"]) - 0.5) < 0.08


def test_null_world_has_no_link(mid_null):
    y, rates = _moment_stat(mid_null)
    # the same kinds are marked, so the same measures apply to the null twin
    assert (mid_null.episodes["linked"] == mid_null.episodes["kind"].isin(sim.LINKED_KINDS)).all()
    assert mid_null.meta["config"]["effect"] == 0.0
    for kind in sim.KINDS:
        assert mannwhitneyu(rates.loc[y == 1, kind], rates.loc[y == 0, kind]).pvalue > 0.01, kind
        assert abs(roc_auc_score(y, rates[kind]) - 0.5) < 0.08, kind


def test_effect_zero_twin_keeps_everything_but_linked_moments(mid, mid_null):
    assert sim.effect_zero_twin("tiny") == sim.make_config("tiny", effect=0)
    pd.testing.assert_frame_equal(mid.manifest, mid_null.manifest)
    # the same distractors (counts drawn from their own stream; a rare one finds no room)
    distractors = [c.episodes[c.episodes["kind"] == "distractor"] for c in (mid, mid_null)]
    per_answer = [d.groupby("answer_id").size().reindex(mid.manifest["answer_id"], fill_value=0)
                  for d in distractors]
    assert (per_answer[0] == per_answer[1]).mean() > 0.99
    # the same mean rate of linked moments in both worlds
    n = [c.episodes["linked"].sum() for c in (mid, mid_null)]
    assert abs(n[0] - n[1]) / n[1] < 0.15
    # an answer without linked moments in either world has the same frames
    linked = set(mid.episodes.loc[mid.episodes["linked"], "answer_id"])
    linked |= set(mid_null.episodes.loc[mid_null.episodes["linked"], "answer_id"])
    quiet = [a for a in mid.manifest["answer_id"] if a not in linked]
    assert len(quiet) > 10
    for answer_id in quiet[:10]:
        pd.testing.assert_frame_equal(mid.answer_frames(answer_id), mid_null.answer_frames(answer_id))
    same = [d[d["answer_id"].isin(quiet)].reset_index(drop=True) for d in distractors]
    pd.testing.assert_frame_equal(same[0], same[1])


def test_answer_means_do_not_separate_labels_much(mid):
    """The link lives in short moments, not in answer-level averages."""
    m = mid.manifest
    means = mid.frames.groupby("answer_id")[list(AUS)].mean().reindex(m["answer_id"])
    mean_dev = max(abs(roc_auc_score(m["label"], means[au]) - 0.5) for au in AUS)
    y, rates = _moment_stat(mid)
    moment_dev = abs(roc_auc_score(y, np.log((rates["positive"] + 0.1) / (rates["anxiety"] + 0.1))) - 0.5)
    assert mean_dev < 0.15
    assert moment_dev > 2 * mean_dev
    # outside planted moments, the AU levels do not depend on the label at all (baselines)
    f = mid.frames.merge(m[["answer_id", "candidate_id"]], on="answer_id")
    f = f.merge(mid.episodes[["answer_id", "start_s", "end_s"]], on="answer_id", how="left")
    inside = (f["time_s"] >= f["start_s"] - 0.5) & (f["time_s"] <= f["end_s"] + 0.5)
    touched = inside.groupby([f["answer_id"], f["time_s"]]).transform("any")
    outside = f[~touched].drop_duplicates(["answer_id", "time_s"])
    base = outside.groupby("candidate_id")[["AU06", "AU12", "AU20", "AU23", "AU45"]].median().reindex(y.index)
    for au in base.columns:
        assert abs(roc_auc_score(y, base[au]) - 0.5) < 0.1, au


def test_blink_rate():
    c = sim.simulate("tiny", seed=5, anxiety_rate=0.0)
    blinks, minutes = 0, 0.0
    for _, time_s, x, _ in c.iter_answers(["AU45"]):
        au45 = np.nan_to_num(x[:, 0])
        peaks, _ = find_peaks(au45, height=np.median(au45) + 0.8)
        blinks += len(peaks)
        minutes += len(time_s) / c.frame_rate / 60
    assert 10 <= blinks / minutes <= 25


def test_attribute_and_bias():
    fair = sim.plan("book", seed=2)
    biased = sim.plan("book", seed=2, bias=1.5)
    assert (fair["gender"] == biased["gender"]).all()

    def gap(t):
        return t.loc[t["gender"] == "male", "label"].mean() - t.loc[t["gender"] == "female", "label"].mean()

    assert abs(gap(fair)) < 0.1
    assert gap(biased) > 0.3
    assert 0.25 < biased["label"].mean() < 0.5, "prevalence about kept"
    none = sim.simulate("tiny", seed=0, attribute=None, n_positions=2)
    assert "gender" not in none.manifest.columns
    with pytest.raises(ValueError, match="bias and style need a sensitive attribute"):
        sim.simulate("tiny", seed=0, attribute=None, bias=1.0)


def test_expression_style_changes_one_group_resting_face_and_nothing_else(tiny):
    styled = sim.simulate("tiny", seed=0, style=0.8)
    pd.testing.assert_frame_equal(styled.manifest, tiny.manifest)  # same labels: style is not quality
    pd.testing.assert_frame_equal(styled.episodes, tiny.episodes)
    gender = styled.manifest.set_index("answer_id")["gender"]
    shift = (styled.frames[list(sim.AUS)] - tiny.frames[list(sim.AUS)]).groupby(
        styled.frames["answer_id"].map(gender)).mean()
    for au in sim.AUS:
        expected = 0.8 if au in sim.STYLE_AUS else 0.0
        assert shift.loc["female", au] == pytest.approx(0.0, abs=1e-6)
        # the shift is added before clipping to the intensity range, so it can come out a little smaller
        assert shift.loc["male", au] == pytest.approx(expected, abs=0.05), au
    assert styled.meta["config"]["style"] == 0.8
    with pytest.raises(ValueError, match="style: must be finite and >= 0"):
        sim.simulate("tiny", seed=0, style=-1.0)


# --------------------------------------------------------------------------- command line and errors

def test_cli_writes_a_valid_corpus(tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli.simulate([str(out), "--preset", "tiny", "--seed", "2", "--effect", "0.5",
                         "--profile", "uniform", "--bias", "0.3", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: 6 positions")
    loaded = corpus_mod.load(out)
    assert loaded.meta["config"]["effect"] == 0.5 and loaded.meta["config"]["moment_profile"] == "uniform"
    assert loaded.meta["config"]["bias"] == 0.3 and loaded.meta["seed"] == 2
    expected = sim.simulate("tiny", seed=2, effect=0.5, moment_profile="uniform", bias=0.3)
    pd.testing.assert_frame_equal(loaded.frames, expected.frames)


def test_cli_through_the_dispatcher(tmp_path, capsys):
    from toolkit.__main__ import main

    assert main(["simulate", str(tmp_path / "x"), "--preset", "nope"]) == 1
    assert "unknown preset 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("kwargs, message", [
    (dict(effect=-1.0), r"effect: must be a finite number >= 0"),
    (dict(moment_profile="edges"), r"moment_profile: must be one of ends, uniform, middle"),
    (dict(preset="huge"), r"unknown preset 'huge'; choose one of tiny, book, paper"),
    (dict(n_candidates=3), r"unknown simulation parameter\(s\) n_candidates"),
    (dict(prevalence=(0.2, 1.2)), r"prevalence"),
    (dict(moment_duration_s=(0.5, 30.0)), r"moment_duration_s: must be positive and shorter"),
    (dict(seed=-3), r"seed must be a non-negative integer"),
])
def test_bad_arguments(kwargs, message):
    kwargs = {"preset": "tiny", **kwargs}
    with pytest.raises(ValueError, match=message):
        sim.simulate(**kwargs)


def test_cli_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="effect: must be a finite number >= 0"):
        cli.simulate([str(tmp_path / "c"), "--preset", "tiny", "--effect", "-0.5", "--quiet"])
    with pytest.raises(ValueError, match="moment_profile: must be one of"):
        cli.simulate([str(tmp_path / "c"), "--preset", "tiny", "--profile", "sideways", "--quiet"])
    with pytest.raises(SystemExit):
        cli.simulate([str(tmp_path / "c"), "--seed", "abc"])
    assert not (tmp_path / "c").exists()


def test_moment_rates(tiny):
    rates = sim.moment_rates(tiny)
    n_candidates = tiny.manifest["candidate_id"].nunique()
    assert len(rates) == 3 * n_candidates
    assert rates.groupby("kind")["count"].sum().to_dict() == tiny.episodes["kind"].value_counts().to_dict()
    one = rates[rates["candidate_id"] == "c00000"].set_index("kind")
    minutes = tiny.manifest.loc[tiny.manifest["candidate_id"] == "c00000", "duration_s"].sum() / 60
    assert one["minutes"].iloc[0] == pytest.approx(minutes)
    assert (one["rate_per_min"] == one["count"] / minutes).all()
    assert (rates["linked"] == rates["kind"].isin(sim.LINKED_KINDS)).all()
    no_truth = corpus_mod.Corpus(tiny.manifest, tiny.frames, tiny.meta, None)
    with pytest.raises(ValueError, match="needs a simulated corpus with episodes"):
        sim.moment_rates(no_truth)
