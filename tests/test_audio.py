"""Tests of toolkit.audio (openSMILE eGeMAPSv02 descriptors of a video's sound) and of the voice in extract()."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from toolkit import audio as au
from toolkit import extract as ex

RATE = 16000
TONE_HZ = 150.0
TONE_SEMITONES = 12 * np.log2(TONE_HZ / 27.5)  # openSMILE's F0 scale: semitones above 27.5 Hz


def _sample(name: str) -> Path:
    try:
        return tk.datasets.sample(name)
    except FileNotFoundError as err:
        pytest.skip(f"sample video unavailable: {err}")


def _tone(seconds: float, hz: float = TONE_HZ, seed: int = 0) -> np.ndarray:
    """A harmonic tone (three partials) with a little noise, as a voice-like periodic sound."""
    t = np.arange(int(seconds * RATE)) / RATE
    wave = sum(a * np.sin(2 * np.pi * k * hz * t) for k, a in ((1, 0.3), (2, 0.2), (3, 0.1)))
    return (wave + 0.001 * np.random.default_rng(seed).normal(size=t.size)).astype(np.float32)


def _silent_video(path: Path, seconds: float = 2.0, fps: int = 10) -> Path:
    """A small video without a sound track (OpenCV writes pictures only)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 64))
    for i in range(int(seconds * fps)):
        frame = np.full((64, 64, 3), 40 + 5 * i, np.uint8)
        writer.write(frame)
    writer.release()
    assert path.stat().st_size > 0
    return path


@pytest.fixture(scope="module")
def tone_table():
    """A 150 Hz tone from 0 to 1 s and from 2 to 3 s, silence (with faint noise) between."""
    signal = np.concatenate([_tone(1.0, seed=0), np.zeros(RATE, np.float32), _tone(1.0, seed=1)])
    signal[RATE:2 * RATE] = 1e-4 * np.random.default_rng(2).normal(size=RATE)
    return signal, au.descriptors(signal, RATE)


# --------------------------------------------------------------------------- descriptors of a signal

def test_descriptor_names_are_opensmiles():
    assert au.DESCRIPTORS == tuple(au._smile().feature_names)
    assert len(au.DESCRIPTORS) == 25 and au.VOICING in au.DESCRIPTORS
    assert au.COLUMNS[:2] == ("time_s", "voiced") and au.AUDIO_FPS == 100.0


def test_tone_is_voiced_and_silence_is_not(tone_table):
    _, table = tone_table
    assert list(table.columns) == list(au.COLUMNS)
    assert table["time_s"].dtype == np.float64 and table["voiced"].dtype == bool
    assert all(table[c].dtype == np.float32 for c in au.DESCRIPTORS)
    t = table["time_s"]
    tone = ((t > 0.1) & (t < 0.9)) | ((t > 2.1) & (t < 2.9))
    silence = (t > 1.1) & (t < 1.9)
    assert tone.sum() > 150 and silence.sum() > 70
    assert table.loc[tone, "voiced"].all()
    assert not table.loc[silence, "voiced"].any()
    f0 = table.loc[tone, au.VOICING]
    assert abs(f0.median() - TONE_SEMITONES) < 0.2  # 29.37 semitones above 27.5 Hz
    assert (f0 - TONE_SEMITONES).abs().max() < 0.5
    assert (table.loc[silence, au.VOICING] == 0).all()
    assert table.loc[tone, "Loudness_sma3"].min() > 10 * table.loc[silence, "Loudness_sma3"].max()


def test_time_is_the_frame_centre_every_10_ms(tone_table):
    signal, table = tone_table
    assert table["time_s"].iloc[0] == pytest.approx(0.01)
    assert np.allclose(np.diff(table["time_s"]), 0.01, rtol=0, atol=1e-9)
    # openSMILE's own index, (start + end) / 2, on every frame but the last (whose end it stretches
    # to the end of the signal)
    index = au._smile().process_signal(signal, RATE).index
    centre = ((index.get_level_values("start") + index.get_level_values("end")).total_seconds() / 2).to_numpy()
    assert len(index) == len(table)
    assert np.allclose(table["time_s"].to_numpy()[:-1], centre[:-1], rtol=0, atol=1e-9)
    assert index.get_level_values("end")[-1].total_seconds() == pytest.approx(len(signal) / RATE)


def test_chunks_give_the_frames_of_the_whole_signal():
    rng = np.random.default_rng(3)
    t = np.arange(7 * RATE) / RATE
    pitch = 110 + 60 * np.sin(2 * np.pi * 0.3 * t)  # a gliding pitch, loudness bursts, noise
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    signal = (0.6 * (np.sin(phase) + 0.5 * np.sin(2 * phase)) * (0.5 + 0.5 * np.sin(2 * np.pi * 1.7 * t)) ** 2
              + 0.01 * rng.normal(size=t.size)).astype(np.float32)
    whole = au._table([au._run(signal, RATE)], RATE)
    assert whole["voiced"].mean() > 0.3
    # 1.37 s chunks (not a divisor of the length), fed as blocks of odd sizes as a decoder would
    blocks = np.split(signal, np.cumsum(rng.integers(1, 5000, size=60)))
    chunked = au._table(list(au._chunks(blocks, RATE, chunk_s=1.37)), RATE)
    pd.testing.assert_frame_equal(chunked, whole)
    pd.testing.assert_frame_equal(au.descriptors(signal, RATE), whole)  # default 60 s chunks: one chunk here
    # too little context changes frames next to the chunk edges: the 1 s context is needed, not decoration
    thin = au._table(list(au._chunks([signal], RATE, chunk_s=1.37, context_s=0.05)), RATE)
    assert len(thin) != len(whole) or not np.array_equal(thin.to_numpy(), whole.to_numpy())


def test_unbroken_voice_across_a_chunk_end_changes_only_jitter_and_shimmer():
    """Sound voiced for 12 s without a break (no unvoiced frame to end a chunk at): how close chunks come."""
    rng = np.random.default_rng(4)
    t = np.arange(12 * RATE) / RATE
    phase = 2 * np.pi * np.cumsum(120 + 30 * np.sin(2 * np.pi * 0.2 * t)) / RATE
    signal = (0.4 * (np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase))
              * (0.8 + 0.2 * np.sin(2 * np.pi * 0.5 * t)) + 0.01 * rng.normal(size=t.size)).astype(np.float32)
    whole = au._table([au._run(signal, RATE)], RATE)
    chunked = au._table(list(au._chunks([signal], RATE, chunk_s=2.0)), RATE)
    assert whole["voiced"].all() and len(chunked) == len(whole)
    changed = {"jitterLocal_sma3nz", "shimmerLocaldB_sma3nz"}
    others = [c for c in au.COLUMNS if c not in changed]
    pd.testing.assert_frame_equal(chunked[others], whole[others])
    first = whole["time_s"] < 2.0  # the first chunk starts where the signal does: identical
    pd.testing.assert_frame_equal(chunked[first], whole[first])
    for column in changed:
        a, b = whole.loc[~first, column].to_numpy(), chunked.loc[~first, column].to_numpy()
        assert abs(b.mean() / a.mean() - 1) < 0.05 and np.corrcoef(a, b)[0, 1] > 0.3


def test_samples_outside_the_range_are_clipped_not_wrapped():
    loud = 3 * _tone(1.0)
    table = au.descriptors(loud, RATE)
    pd.testing.assert_frame_equal(table, au.descriptors(np.clip(loud, -1.0, 32767 / 32768), RATE))
    middle = table[(table["time_s"] > 0.1) & (table["time_s"] < 0.9)]
    assert middle["voiced"].all() and abs(middle[au.VOICING].median() - TONE_SEMITONES) < 0.3


def test_short_signals_give_no_frame():
    for n in (0, 100, 700):
        table = au.descriptors(np.zeros(n, np.float32), RATE)
        assert list(table.columns) == list(au.COLUMNS) and len(table) == 0
    assert len(au.descriptors(np.zeros(RATE // 10, np.float32), RATE)) == 6


@pytest.mark.parametrize("signal, rate, message", [
    (np.zeros((2, 100), np.float32), RATE, r"signal must be 1-D \(mono samples\), got shape \(2, 100\)"),
    (np.array(["a", "b"]), RATE, "signal must hold numbers .* got dtype <U1"),
    (np.array([0.0, np.nan, 0.0]), RATE, "non-finite sample at index 1"),
    (np.zeros(100), 22050, r"multiple of 100 .* got 22050"),
    (np.zeros(100), 0, "at least 1000, got 0"),
    (np.zeros(100), 16000.5, "got 16000.5"),
    (np.zeros(100), True, "got True"),
])
def test_bad_signals_and_rates(signal, rate, message):
    with pytest.raises(ValueError, match=message):
        au.descriptors(signal, rate)


# --------------------------------------------------------------------------- sound of a video

def _video_duration(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return float(video.duration * video.time_base)


def test_sound_of_a_video_lasts_as_long_as_the_video():
    video = _sample("WolfgangLanger_Pexels.mp4")  # 19.685 s of picture, AAC 48 kHz stereo sound
    signal, rate = au.read_sound(video)
    duration = _video_duration(video)
    assert rate == RATE and signal.dtype == np.float32 and signal.ndim == 1
    assert abs(signal.size / rate - duration) < 0.03
    table = au.extract_audio(video)
    assert list(table.columns) == list(au.COLUMNS)
    assert table.attrs["sound_start_s"] == 0 and abs(table.attrs["sound_duration_s"] - duration) < 0.03
    assert abs(table["time_s"].iloc[-1] - duration) < 0.06 and table["time_s"].iloc[0] == pytest.approx(0.01)
    assert np.allclose(np.diff(table["time_s"]), 0.01, atol=1e-9)
    assert len(table) == pytest.approx(duration * au.AUDIO_FPS, abs=6)
    # the clip's sound track is digital silence: no sample, no voiced frame
    assert np.abs(signal).max() == 0 and not table["voiced"].any()
    pd.testing.assert_frame_equal(table, au.descriptors(signal, rate))  # streamed = decoded, then described


def test_a_sound_track_that_starts_late_is_placed_on_the_video_clock():
    # face_noface.mov's sound (the same as no_face.mp4's) starts 2.43 s after its picture
    late, plain = au.extract_audio(_sample("face_noface.mov")), au.extract_audio(_sample("no_face.mp4"))
    assert late.attrs["sound_start_s"] == pytest.approx(26791 / 11025)  # the stream's start, 2.430 s
    assert plain.attrs["sound_start_s"] == 0
    assert np.array_equal(late[list(au.DESCRIPTORS)].to_numpy(), plain[list(au.DESCRIPTORS)].to_numpy())
    assert np.allclose(late["time_s"] - plain["time_s"], 26791 / 11025, atol=1e-9)
    assert abs(late["time_s"].iloc[-1] - _video_duration(_sample("face_noface.mov"))) < 0.06
    assert 0.2 < plain["voiced"].mean() < 0.5  # the animation's soundtrack has voiced stretches
    # real sound in chunks of 0.7 s: the same frames as in one pass
    signal, rate = au.read_sound(_sample("no_face.mp4"))
    whole = au._table([au._run(signal, rate)], rate)
    pd.testing.assert_frame_equal(au._table(list(au._chunks([signal], rate, chunk_s=0.7)), rate), whole)
    pd.testing.assert_frame_equal(plain, whole)


def test_video_without_sound(tmp_path):
    video = _silent_video(tmp_path / "mute.mp4")
    with pytest.raises(au.NoSoundError, match=r"mute\.mp4: no sound track \(the file has no audio stream; its "
                                              r"streams: video\)"):
        au.extract_audio(video)
    with pytest.raises(au.NoSoundError, match="mute.mp4: no sound track"):
        au.read_sound(video)
    assert issubclass(au.NoSoundError, au.SoundError) and issubclass(au.SoundError, ex.ExtractionError)


@pytest.mark.parametrize("content, message", [
    (None, r"bad\.mp4: file not found"),
    (b"", r"bad\.mp4: empty file \(0 bytes\)"),
    ("random", r"bad\.mp4: cannot be opened as a video \(corrupt or not a video file"),
    ("folder", r"bad\.mp4: is a folder, not a video file"),
])
def test_unreadable_files(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    if content == "random":
        path.write_bytes(np.random.default_rng(0).bytes(50_000))
    elif content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(au.SoundError, match=message):
        au.extract_audio(path)
    with pytest.raises(au.SoundError, match=message):
        au.read_sound(path)


def test_bad_rate_for_a_video():
    with pytest.raises(ValueError, match="multiple of 100"):
        au.read_sound("whatever.mp4", rate=44101)
    with pytest.raises(ValueError, match="multiple of 100"):
        au.extract_audio("whatever.mp4", rate=8001)


def test_extractor_info():
    import opensmile

    assert au.extractor_info() == {"name": "opensmile", "opensmile_version": opensmile.__version__,
                                   "feature_set": "eGeMAPSv02", "level": "lld", "sample_rate": 16000}


# --------------------------------------------------------------------------- the voice in extract()

@pytest.fixture(scope="module")
def model():
    try:
        return ex.model_path(download=False)
    except Exception as err:  # noqa: BLE001 - no model file: the batch tests cannot run
        pytest.skip(f"face_landmarker.task unavailable: {err}")


@pytest.fixture()
def mixed_batch(tmp_path, model):
    """Two answers: one video with sound (single_face.mp4), one without (written by OpenCV)."""
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "talk.mp4").symlink_to(_sample("single_face.mp4"))
    _silent_video(tmp_path / "videos" / "mute.mp4")
    manifest = pd.DataFrame({"answer_id": ["talk", "mute/1"], "candidate_id": ["c0", "c1"], "position_id": "p",
                             "question": 1, "label": [0, 1], "video": ["videos/talk.mp4", "videos/mute.mp4"]})
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    return tmp_path / "manifest.csv"


def test_a_video_without_sound_keeps_its_face(mixed_batch):
    out = ex.extract(mixed_batch, mixed_batch.parent / "out", rate=2, progress=False)  # not keep_going: not fatal
    failures = pd.read_csv(out / "failures.csv")
    assert list(failures.columns) == ["answer_id", "video", "modality", "reason"]
    assert failures[["answer_id", "video", "modality"]].values.tolist() == [["mute/1", "videos/mute.mp4", "voice"]]
    assert failures["reason"][0].startswith("NoSoundError: no sound track (the file has no audio stream")
    corpus = tk.corpus.load(out)
    assert list(corpus.manifest["answer_id"]) == ["talk", "mute/1"]
    assert set(corpus.frames["answer_id"]) == {"talk", "mute/1"}
    assert set(corpus.audio["answer_id"]) == {"talk"}
    assert list(corpus.audio.columns) == ["answer_id"] + list(au.COLUMNS)
    talk = corpus.audio[corpus.audio["answer_id"] == "talk"]
    assert abs(talk["time_s"].iloc[-1] - 2.4) < 0.06
    pd.testing.assert_frame_equal(talk.drop(columns="answer_id").reset_index(drop=True),
                                  au.extract_audio(_sample("single_face.mp4")))
    meta = json.loads((out / "corpus.json").read_text())
    assert meta["failed"] == 0 and meta["audio_failed"] == 1 and meta["audio_fps"] == 100.0
    assert meta["audio_extractor"] == au.extractor_info()
    assert set(meta["voiced_rate"]) == {"talk"}
    assert corpus.audio_rate == 100.0
    assert (out / "parts" / "audio" / "talk.parquet").exists()
    assert not (out / "parts" / "audio" / "mute%2F1.parquet").exists()


def test_resume_skips_done_voices(mixed_batch, monkeypatch):
    out = mixed_batch.parent / "out"
    ex.extract(mixed_batch, out, rate=2, progress=False)
    first = {name: (out / name).read_bytes() for name in ("frames.parquet", "audio.parquet", "failures.csv",
                                                          "corpus.json")}
    calls = []
    real = au.extract_audio

    def counted(path, rate=au.SAMPLE_RATE):
        calls.append(Path(path).name)
        return real(path, rate)

    monkeypatch.setattr(au, "extract_audio", counted)
    ex.extract(mixed_batch, out, rate=2, progress=False)
    assert calls == ["mute.mp4"]  # the done voice is skipped; the failed one is retried
    (out / "parts" / "audio" / "talk.parquet").unlink()
    ex.extract(mixed_batch, out, rate=2, progress=False)
    assert calls == ["mute.mp4", "single_face.mp4", "mute.mp4"]  # talk.mp4 links to it
    for name, data in first.items():
        assert (out / name).read_bytes() == data, name


def test_audio_can_be_turned_off_and_on(mixed_batch):
    out = ex.extract(mixed_batch, mixed_batch.parent / "out", rate=2, progress=False, audio=False)
    assert not (out / "audio.parquet").exists() and not (out / "parts" / "audio").exists()
    meta = json.loads((out / "corpus.json").read_text())
    assert "audio_fps" not in meta and "audio_failed" not in meta
    assert pd.read_csv(out / "failures.csv").empty
    assert tk.corpus.load(out).audio is None
    ex.extract(mixed_batch, out, rate=2, progress=False)  # the face parts are reused, the voices added
    assert set(tk.corpus.load(out).audio["answer_id"]) == {"talk"}


def test_voice_parts_made_with_other_settings_are_refused(mixed_batch):
    out = mixed_batch.parent / "out"
    settings = out / "parts" / "audio" / "_settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"name": "opensmile", "feature_set": "eGeMAPSv02", "level": "lld",
                                    "sample_rate": 8000}))
    with pytest.raises(ex.ExtractionError, match=r"parts/audio holds answers extracted with other settings "
                                                 r"\(sample_rate\)"):
        ex.extract(mixed_batch, out, rate=2, progress=False)


def test_no_answer_with_sound_gives_no_audio_table(tmp_path, model):
    _silent_video(tmp_path / "mute.mp4")
    pd.DataFrame({"answer_id": ["m"], "candidate_id": ["c"], "position_id": "p", "question": 1, "label": 0,
                  "video": ["mute.mp4"]}).to_csv(tmp_path / "manifest.csv", index=False)
    out = ex.extract(tmp_path / "manifest.csv", tmp_path / "out", rate=2, progress=False)
    assert not (out / "audio.parquet").exists()
    corpus = tk.corpus.load(out)
    assert corpus.audio is None and corpus.meta["audio_failed"] == 1 and corpus.meta["voiced_rate"] == {}
    assert list(corpus.manifest["answer_id"]) == ["m"]
