"""Tests of the simulated voice (toolkit.simulate with voice=True): audio.parquet and prosodic moments."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from toolkit import corpus as corpus_mod
from toolkit import salience as salience_mod
from toolkit import simulate as sim
from toolkit import slices as slices_mod
from toolkit.vocabulary import AUS

MID = dict(n_positions=40)  # ~320 candidates of the tiny preset: enough to see rates by quality
NZ = [c for c in sim.VOICE_DESCRIPTORS if c.endswith("_sma3nz")]
F0 = "F0semitoneFrom27.5Hz_sma3nz"
# The face of simulate("tiny", seed=0), digested as the simulator gave it before it had a voice.
TINY_FACE_DIGEST = "ce515c9d6269e292dbdd5e241eeaa7e5078af5ab874c356e4b84b49abdaa9385"


@pytest.fixture(scope="module")
def tiny():
    return sim.simulate("tiny", seed=0)


@pytest.fixture(scope="module")
def tiny_voice():
    return sim.simulate("tiny", seed=0, voice=True)


@pytest.fixture(scope="module")
def mid():
    return sim.simulate("tiny", seed=7, voice=True, **MID)


@pytest.fixture(scope="module")
def mid_null():
    return sim.simulate(sim.effect_zero_twin(sim.make_config("tiny", voice=True)), seed=7, **MID)


def _face_digest(c) -> str:
    h = hashlib.sha256()
    f = c.frames
    h.update(np.ascontiguousarray(f[list(AUS)].to_numpy(np.float32)).tobytes())
    h.update(f["success"].to_numpy(bool).tobytes())
    h.update(f["time_s"].to_numpy(np.float64).tobytes())
    h.update("".join(f["answer_id"].astype(str).unique()).encode())
    e = c.episodes
    if "modality" in e.columns:
        e = e[e["modality"] == "face"]
    h.update(e[["answer_id", "kind", "start_s", "end_s", "linked"]].to_csv(index=False).encode())
    h.update(c.manifest.to_csv(index=False).encode())
    return h.hexdigest()


def _voice_episodes(c) -> pd.DataFrame:
    return c.episodes[c.episodes["modality"] == "voice"].reset_index(drop=True)


def _voice_rates(c) -> tuple[pd.DataFrame, pd.Series]:
    """Per candidate and voice kind: rate per minute, with the candidates' label and latent quality."""
    rates = sim.moment_rates(c, "voice").pivot_table(index="candidate_id", columns="kind", values="rate_per_min")
    plan = sim.plan(sim.SimulationConfig.from_dict(c.meta["config"]), seed=c.meta["seed"]).set_index("candidate_id")
    return rates, plan.loc[rates.index, ["label", "quality"]]


def _runs(mask: np.ndarray, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of equal ``mask`` values within answers: (value, length in frames) per run."""
    brk = np.r_[True, (mask[1:] != mask[:-1]) | (answers[1:] != answers[:-1])]
    start = np.flatnonzero(brk)
    return mask[start], np.diff(np.r_[start, len(mask)])


# --------------------------------------------------------------------------- the face stays as it was

def test_voice_off_leaves_the_corpus_as_before(tiny):
    assert _face_digest(tiny) == TINY_FACE_DIGEST
    assert tiny.audio is None
    assert list(tiny.episodes.columns) == ["answer_id", "kind", "start_s", "end_s", "linked"]
    assert "audio_fps" not in tiny.meta and "voice" not in tiny.meta
    assert not {"voice", "audio_fps", "voice_effect"} & set(tiny.meta["config"])


def test_voice_on_keeps_the_face(tiny, tiny_voice):
    assert _face_digest(tiny_voice) == TINY_FACE_DIGEST
    pd.testing.assert_frame_equal(tiny_voice.frames, tiny.frames)
    pd.testing.assert_frame_equal(tiny_voice.manifest, tiny.manifest)
    face = tiny_voice.episodes[tiny_voice.episodes["modality"] == "face"].drop(columns="modality")
    pd.testing.assert_frame_equal(face.reset_index(drop=True), tiny.episodes)
    same = {k: v for k, v in tiny_voice.meta.items() if k not in ("audio_fps", "voice", "config")}
    assert same == {k: v for k, v in tiny.meta.items() if k != "config"}


def test_config_fields_and_round_trip(tiny_voice):
    config = sim.SimulationConfig.from_dict(tiny_voice.meta["config"])
    assert config == sim.make_config("tiny", voice=True)
    assert (config.voice, config.audio_fps, config.voice_effect) == (True, 20.0, None)
    assert config.voice_link == config.effect
    other = sim.make_config("tiny", voice=True, audio_fps=50.0, voice_effect=0.4)
    assert sim.SimulationConfig.from_dict(other.to_dict()) == other
    assert other.voice_link == 0.4
    # a config that differs only in its voice fields keeps them, even with the voice off
    quiet = sim.make_config("tiny", audio_fps=40.0)
    assert sim.SimulationConfig.from_dict(quiet.to_dict()) == quiet
    assert {k: v for k, v in sim.PRESETS["book"].to_dict().items()} == sim.make_config("book").to_dict()


def test_effect_zero_twin_cuts_the_voice_link_too():
    twin = sim.effect_zero_twin(sim.make_config("tiny", voice=True))
    assert twin.effect == 0 and twin.voice_effect is None and twin.voice_link == 0
    twin = sim.effect_zero_twin(sim.make_config("tiny", voice=True, voice_effect=0.5))
    assert twin.effect == 0 and twin.voice_effect == 0 and twin.voice_link == 0
    assert sim.effect_zero_twin("tiny") == sim.make_config("tiny", effect=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(audio_fps=0.0), r"audio_fps: must be a positive number"),
    (dict(audio_fps=float("nan")), r"audio_fps: must be a positive number"),
    (dict(voice_effect=-0.5), r"voice_effect: must be None \(the same as effect\) or a finite number >= 0"),
    (dict(voice="yes"), r"voice: must be True or False"),
])
def test_bad_voice_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sim.simulate("tiny", seed=0, n_positions=1, **kwargs)


# --------------------------------------------------------------------------- audio.parquet

def test_audio_structure(tiny_voice):
    a, m = tiny_voice.audio, tiny_voice.manifest
    assert list(a.columns) == ["answer_id", "time_s", "voiced", *sim.VOICE_DESCRIPTORS]
    assert a["voiced"].dtype == bool
    assert all(a[c].dtype == np.float32 for c in sim.VOICE_DESCRIPTORS)
    assert np.isfinite(a[list(sim.VOICE_DESCRIPTORS)].to_numpy()).all()
    # one frame per 1/20 s of every answer, time_s at the frame centres
    n = a.groupby("answer_id", sort=False).size().reindex(m["answer_id"]).to_numpy()
    np.testing.assert_array_equal(n, np.round(m["duration_s"].to_numpy() * 20).astype(int))
    index = a.groupby("answer_id", sort=False).cumcount().to_numpy()
    np.testing.assert_allclose(a["time_s"].to_numpy(), (index + 0.5) / 20)
    meta = tiny_voice.meta
    assert meta["audio_fps"] == 20.0 and tiny_voice.audio_rate == 20.0
    assert meta["voice"]["effect"] == 1.0 and meta["voice"]["kinds"] == list(sim.VOICE_KINDS)
    assert meta["voice"]["descriptors"] == list(sim.VOICE_DESCRIPTORS)
    corpus_mod.validate(tiny_voice)  # raises on any contract breach


def test_other_audio_rate():
    c = sim.simulate("tiny", seed=0, voice=True, audio_fps=50.0, n_positions=1)
    n = c.audio.groupby("answer_id", sort=False).size().reindex(c.manifest["answer_id"]).to_numpy()
    np.testing.assert_array_equal(n, np.round(c.manifest["duration_s"].to_numpy() * 50).astype(int))
    assert c.audio_rate == 50.0 and c.modality("voice").frame_rate == 50.0


def test_audio_round_trips_through_save_and_load(tmp_path, tiny_voice):
    corpus_mod.save(tiny_voice, tmp_path / "saved")
    assert (tmp_path / "saved" / "audio.parquet").is_file()
    loaded = corpus_mod.load(tmp_path / "saved")
    pd.testing.assert_frame_equal(loaded.audio, tiny_voice.audio)
    pd.testing.assert_frame_equal(loaded.episodes, tiny_voice.episodes)
    pd.testing.assert_frame_equal(corpus_mod.validate_audio(loaded.audio, loaded.manifest["answer_id"]),
                                  tiny_voice.audio)


def test_write_equals_simulate_with_a_voice(tmp_path, tiny_voice):
    out = sim.write(tmp_path / "corpus", preset="tiny", seed=0, voice=True, progress=False, chunk_frames=5_000)
    assert {p.name for p in out.iterdir()} == {"manifest.csv", "frames.parquet", "audio.parquet", "corpus.json",
                                               "episodes.csv"}
    assert len(list((out / "audio.parquet").glob("*.parquet"))) > 3, "one audio part per chunk"
    loaded = corpus_mod.load(out)
    pd.testing.assert_frame_equal(loaded.audio, tiny_voice.audio)
    pd.testing.assert_frame_equal(loaded.frames, tiny_voice.frames)
    pd.testing.assert_frame_equal(loaded.episodes, tiny_voice.episodes)
    assert loaded.meta == tiny_voice.meta


def test_same_seed_same_bytes(tmp_path, tiny_voice):
    again = sim.simulate("tiny", seed=0, voice=True)
    pd.testing.assert_frame_equal(again.audio, tiny_voice.audio)
    folders = [sim.write(tmp_path / name, preset="tiny", seed=0, voice=True, progress=False, n_positions=2)
               for name in ("a", "b")]
    files = sorted(p.relative_to(folders[0]) for p in folders[0].rglob("*") if p.is_file())
    assert {str(f) for f in files} == {"manifest.csv", "corpus.json", "episodes.csv",
                                       "frames.parquet/part-00000.parquet", "audio.parquet/part-00000.parquet"}
    for name in files:
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes(), name
    other = sim.simulate("tiny", seed=1, voice=True, n_positions=1)
    n = min(len(other.audio), len(tiny_voice.audio))
    assert not np.array_equal(other.audio[F0].to_numpy()[:n], tiny_voice.audio[F0].to_numpy()[:n])


def test_sma3nz_descriptors_are_zero_exactly_on_unvoiced_frames(tiny_voice):
    a = tiny_voice.audio
    voiced = a["voiced"].to_numpy()
    assert 0.5 < voiced.mean() < 0.8
    for column in NZ:
        values = a[column].to_numpy()
        assert (values[~voiced] == 0).all(), column
    for column in (F0, "jitterLocal_sma3nz", "shimmerLocaldB_sma3nz"):
        assert (a.loc[voiced, column] > 0).all(), column
    assert (a.loc[voiced, "HNRdBACF_sma3nz"] != 0).mean() > 0.999
    for column in ("Loudness_sma3", "spectralFlux_sma3"):  # not *nz: measured on every frame
        assert (a.loc[~voiced, column] > 0).all(), column


# --------------------------------------------------------------------------- realistic prosody

def test_speech_runs_and_pauses(tiny_voice):
    a = tiny_voice.audio
    loud = a["Loudness_sma3"].to_numpy()
    usual = a["answer_id"].map(a[a["voiced"]].groupby("answer_id")["Loudness_sma3"].median()).to_numpy()
    silent = ~a["voiced"].to_numpy() & (loud < 0.3 * usual)
    assert 0.1 < silent.mean() < 0.3, "pauses take a share of the answer"
    value, length = _runs(silent, a["answer_id"].to_numpy())
    pauses, runs = length[value] / 20, length[~value] / 20
    assert 0.2 <= np.median(pauses) <= 0.8 and np.quantile(pauses, 0.9) <= 1.2
    assert 1.0 <= np.median(runs) <= 4.0 and np.quantile(runs, 0.9) <= 5.0


def test_syllables_modulate_loudness(tiny_voice):
    """Inside speech the loudness rises and falls with syllables, 3.5-5 a second: visible at 20 fps."""
    a = tiny_voice.audio
    spectra = []
    for _, g in a.groupby("answer_id", sort=False):
        x = g["Loudness_sma3"].to_numpy(np.float64)
        if len(x) >= 256:
            x = x[:256] - x[:256].mean()
            spectra.append(np.abs(np.fft.rfft(x * np.hanning(256))) ** 2)
    power = np.mean(spectra, axis=0)
    freq = np.fft.rfftfreq(256, 1 / 20)
    band = (freq > 1.5) & (freq < 9.5)
    peak = freq[band][np.argmax(power[band])]
    assert 3.0 <= peak <= 5.5, peak


def test_pitch_registers_contours_and_declination(tiny_voice):
    a = tiny_voice.audio
    voiced = a[a["voiced"]]
    candidate = voiced["answer_id"].str.split("-").str[0]
    median = voiced.groupby(candidate)[F0].median()
    low, high = median[median < 28], median[median >= 28]
    assert len(low) > 10 and len(high) > 10, "lower and higher voices"
    assert low.between(19.0, 25.0).all() and high.between(30.5, 37.5).all()
    spread = voiced.groupby("answer_id")[F0].std()
    assert 1.0 < spread.median() < 4.0, "small contours around the speaker's level"
    # declination: pitch falls from the start to the end of each utterance (a run of voiced speech)
    loud = a["Loudness_sma3"].to_numpy()
    usual = a["answer_id"].map(voiced.groupby("answer_id")["Loudness_sma3"].median()).to_numpy()
    speaking = ~(~a["voiced"].to_numpy() & (loud < 0.3 * usual))
    value, length = _runs(speaking, a["answer_id"].to_numpy())
    starts = np.r_[0, np.cumsum(length)[:-1]]
    f0, is_voiced = a[F0].to_numpy(), a["voiced"].to_numpy()
    falls = []
    for s, n in zip(starts[value & (length >= 30)], length[value & (length >= 30)]):
        third = n // 3
        head, tail = f0[s:s + third][is_voiced[s:s + third]], f0[s + n - third:s + n][is_voiced[s + n - third:s + n]]
        if len(head) and len(tail):
            falls.append(head.mean() - tail.mean())
    assert len(falls) > 100
    assert np.mean(falls) > 0.8


def test_voice_quality_ranges(tiny_voice):
    voiced = tiny_voice.audio[tiny_voice.audio["voiced"]]
    for column, (low, high) in {"jitterLocal_sma3nz": (0.01, 0.04), "shimmerLocaldB_sma3nz": (0.5, 2.0),
                                "HNRdBACF_sma3nz": (2.0, 12.0)}.items():
        q05, q50, q95 = np.quantile(voiced[column], [0.05, 0.5, 0.95])
        assert low <= q50 <= high, column
        assert low / 2 <= q05 and q95 <= high * 1.5, (column, q05, q95)


# --------------------------------------------------------------------------- prosodic moments

def test_voice_episodes_carry_their_modality(tiny_voice):
    e = tiny_voice.episodes
    assert list(e.columns) == ["answer_id", "kind", "start_s", "end_s", "linked", "modality"]
    assert set(e["modality"]) == {"face", "voice"}
    first_voice = int(np.flatnonzero(e["modality"] == "voice")[0])
    assert (e["modality"].iloc[:first_voice] == "face").all() and (e["modality"].iloc[first_voice:] == "voice").all()
    voice = _voice_episodes(tiny_voice).merge(tiny_voice.manifest[["answer_id", "duration_s"]], on="answer_id")
    assert set(voice["kind"]) == set(sim.VOICE_KINDS)
    assert (voice["linked"] == voice["kind"].isin(sim.VOICE_LINKED_KINDS)).all()
    length = voice["end_s"] - voice["start_s"]
    assert length.min() >= 0.5 - 1e-9 and length.max() <= 4.0 + 1e-9
    assert (voice["start_s"] >= 0).all() and (voice["end_s"] <= voice["duration_s"] + 1e-9).all()
    for _, g in voice.sort_values("start_s").groupby("answer_id"):
        assert (g["start_s"].to_numpy()[1:] >= g["end_s"].to_numpy()[:-1]).all()
    assert set(corpus_mod.planted(tiny_voice.modality("voice"))["kind"]) == set(sim.VOICE_KINDS)
    assert set(corpus_mod.planted(tiny_voice)["kind"]) == set(sim.KINDS)


def test_voice_moments_share_the_positional_profile():
    c = sim.simulate("tiny", seed=3, voice=True, moment_profile="middle", n_positions=3, duration_median_s=60.0,
                     duration_range_s=(20.0, 180.0))
    e = _voice_episodes(c).merge(c.manifest[["answer_id", "duration_s"]], on="answer_id")
    centre = (e["start_s"] + e["end_s"]) / 2 / e["duration_s"]
    assert ((centre < 0.2) | (centre > 0.8)).mean() < 0.15


def test_voice_moments_show_in_their_descriptors(tiny_voice):
    """Each kind changes the voice the way it says, compared with the answer's usual."""
    a = tiny_voice.audio.assign(voiced=tiny_voice.audio["voiced"].astype(float))
    columns = ["voiced", "Loudness_sma3", F0, "spectralFlux_sma3"]
    usual = a.groupby("answer_id")[columns].median()
    deviation = {}
    for kind in sim.VOICE_KINDS:
        rows = []
        for e in _voice_episodes(tiny_voice).query("kind == @kind").itertuples():
            g = a[a["answer_id"] == e.answer_id]
            core = g[(g["time_s"] > e.start_s + 0.25) & (g["time_s"] < e.end_s - 0.25)]
            rows.append(core[columns].mean() - usual.loc[e.answer_id])
        deviation[kind] = pd.concat(rows, axis=1).mean(axis=1)
    assert deviation["hesitation"]["Loudness_sma3"] < -0.2 and deviation["hesitation"][F0] < -5
    assert deviation["lively"]["Loudness_sma3"] > 0.3 and deviation["lively"]["spectralFlux_sma3"] > 0.3
    assert deviation["distractor"]["Loudness_sma3"] > 0.2 and deviation["distractor"]["spectralFlux_sma3"] > 0.3
    # lively pitch swings widely: the spread of F0 inside lively moments exceeds the answers' own
    voiced = a[a["voiced"] > 0]
    inside = []
    for e in _voice_episodes(tiny_voice).query("kind == 'lively'").itertuples():
        g = voiced[(voiced["answer_id"] == e.answer_id) & voiced["time_s"].between(e.start_s, e.end_s)]
        inside.append(g[F0].std())
    assert np.nanmedian(inside) > 1.5 * voiced.groupby("answer_id")[F0].std().median()


def test_voice_moments_follow_the_latent_quality(mid):
    rates, who = _voice_rates(mid)
    assert spearmanr(who["quality"], rates["hesitation"])[0] < -0.45
    assert spearmanr(who["quality"], rates["lively"])[0] > 0.45
    assert roc_auc_score(who["label"], rates["lively"] - rates["hesitation"]) > 0.75
    assert rates.loc[who["label"] == 0, "hesitation"].mean() > 2.5 * rates.loc[who["label"] == 1, "hesitation"].mean()
    # distractors do not depend on quality, hence not on the label
    assert abs(spearmanr(who["quality"], rates["distractor"])[0]) < 0.12
    assert abs(roc_auc_score(who["label"], rates["distractor"]) - 0.5) < 0.08


def test_voice_effect_zero_means_no_link(mid, mid_null):
    for corpus in (mid_null, sim.simulate("tiny", seed=7, voice=True, voice_effect=0.0, **MID)):
        rates, who = _voice_rates(corpus)
        for kind in sim.VOICE_KINDS:
            assert abs(spearmanr(who["quality"], rates[kind])[0]) < 0.12, kind
            assert abs(roc_auc_score(who["label"], rates[kind]) - 0.5) < 0.08, kind
    # voice_effect 0 leaves the face's link alone
    face = sim.moment_rates(sim.simulate("tiny", seed=7, voice=True, voice_effect=0.0, n_positions=10), "face")
    assert set(face["kind"]) == set(sim.KINDS)
    # the twin keeps the speech and the distractors: answers without linked voice moments are identical
    linked = set(_voice_episodes(mid).query("linked")["answer_id"]) | set(
        _voice_episodes(mid_null).query("linked")["answer_id"])
    quiet = [a for a in mid.manifest["answer_id"] if a not in linked][:10]
    assert len(quiet) == 10
    for audio in (mid.audio, mid_null.audio):
        assert audio["answer_id"].isin(quiet).sum() > 0
    pd.testing.assert_frame_equal(mid.audio[mid.audio["answer_id"].isin(quiet)].reset_index(drop=True),
                                  mid_null.audio[mid_null.audio["answer_id"].isin(quiet)].reset_index(drop=True))


def test_moment_rates_by_modality(tiny, tiny_voice):
    n = tiny_voice.manifest["candidate_id"].nunique()
    face = sim.moment_rates(tiny_voice)
    pd.testing.assert_frame_equal(face, sim.moment_rates(tiny))
    voice = sim.moment_rates(tiny_voice, "voice")
    assert len(voice) == 3 * n and set(voice["kind"]) == set(sim.VOICE_KINDS)
    assert (voice["linked"] == voice["kind"].isin(sim.VOICE_LINKED_KINDS)).all()
    counts = _voice_episodes(tiny_voice)["kind"].value_counts().to_dict()
    assert voice.groupby("kind")["count"].sum().to_dict() == counts
    pd.testing.assert_frame_equal(sim.moment_rates(tiny_voice.modality("voice")), voice)
    with pytest.raises(ValueError, match="the corpus has no voice episodes"):
        sim.moment_rates(tiny, "voice")
    with pytest.raises(ValueError, match="modality must be 'face' or 'voice'"):
        sim.moment_rates(tiny_voice, "gesture")


def test_linked_and_distractor_voice_moments_are_equally_salient(mid):
    """The label-free salience score deviates as much inside linked as inside distractor moments."""
    voice = mid.modality("voice")
    w = salience_mod.salience(voice)
    relative = w["weight"] * w.groupby("answer_id")["weight"].transform("size")  # 1 = the answer's uniform level
    e = _voice_episodes(mid)
    answer = w["answer_id"].to_numpy()
    order = {a: i for i, a in enumerate(pd.unique(answer))}
    first = np.r_[0, np.flatnonzero(answer[1:] != answer[:-1]) + 1]
    inside = []
    for row in e.itertuples():
        start = first[order[row.answer_id]]
        i0, i1 = start + int(np.ceil(row.start_s * 20 - 0.5)), start + int(np.floor(row.end_s * 20 - 0.5))
        inside.append(relative.iloc[i0:i1 + 1].mean())
    e["salience"] = inside
    linked = e.loc[e["linked"], "salience"].mean()
    distractor = e.loc[~e["linked"], "salience"].mean()
    assert linked > 1.5 and distractor > 1.5, "planted moments stand out from the usual"
    assert 0.85 < linked / distractor < 1.15, (linked, distractor)


# --------------------------------------------------------------------------- the voice as a corpus

def test_voice_modality_feeds_the_stages(tiny_voice):
    voice = tiny_voice.modality("voice")
    assert voice.features == ["voiced", *sim.VOICE_DESCRIPTORS]
    assert voice.frame_rate == 20.0 and voice.meta["modality"] == "voice"
    assert voice.frames["success"].all()
    assert len(voice.frames) == len(tiny_voice.audio)
    corpus_mod.validate(voice)
    w = salience_mod.salience(voice)
    assert np.isfinite(w["weight"]).all()
    slices = slices_mod.extract(w, voice, question=1, n_random=2, seed=0)
    table = slices.table
    assert (table["kind"] == "attention").sum() > 0.9 * (voice.manifest["question"] == 1).sum()
    features = slices_mod.features(voice, slices)
    columns = slices_mod.feature_columns(features)
    assert f"{F0}_delta" in columns and "Loudness_sma3_delta" in columns
