"""Tests of toolkit.corpus: the validation messages, save/load, atomic writes, parquet parts."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from toolkit import corpus
from toolkit.corpus import Corpus, CorpusError


# --------------------------------------------------------------------------- a small corpus by hand

def _manifest() -> pd.DataFrame:
    return pd.DataFrame({
        "answer_id": ["a_q1", "a_q2", "b_q1", "b_q2"],
        "candidate_id": ["a", "a", "b", "b"],
        "position_id": ["sales", "sales", "sales", "sales"],
        "question": [1, 2, 1, 2],
        "label": [1, 1, 0, 0],
        "gender": ["f", "f", "m", "m"],
    })


def _frames() -> pd.DataFrame:
    n = 5
    ids = np.repeat(["a_q1", "a_q2", "b_q1", "b_q2"], n)
    time = np.tile(np.arange(n) / 10.0, 4)
    return pd.DataFrame({
        "answer_id": ids,
        "time_s": time,
        "success": np.tile([True, True, False, True, True], 4),
        "AU12": np.where(np.tile([True, True, False, True, True], 4), np.arange(4 * n) / 10, np.nan).astype(np.float32),
        "AU45": np.linspace(0, 1, 4 * n).astype(np.float32),
        "pose_Rx": np.zeros(4 * n),
    })


def _episodes() -> pd.DataFrame:
    return pd.DataFrame({"answer_id": ["a_q1", "b_q2"], "kind": ["anxiety", "positive"],
                         "start_s": [0.1, 0.0], "end_s": [0.3, 0.2]})


def _corpus(manifest=None, frames=None, episodes=None) -> Corpus:
    return Corpus(_manifest() if manifest is None else manifest, _frames() if frames is None else frames,
                  {"source": "test", "frame_rate": 10.0}, episodes)


@pytest.fixture
def saved(tmp_path):
    return corpus.save(_corpus(episodes=_episodes()), tmp_path / "corpus")


def _loc(file, row=None, column=None):
    """The regex for the place a message names: file, row (1-based) and column."""
    text = re.escape(file)
    if row is not None:
        text += re.escape(f", row {row}") + (re.escape(f" (line {row + 1})") if file.endswith(".csv") else "")
    if column is not None:
        text += re.escape(f", column '{column}'")
    return text


# --------------------------------------------------------------------------- manifest errors

def test_valid_corpus_passes():
    checked = corpus.validate(_corpus(episodes=_episodes()))
    assert checked.manifest["answer_id"].tolist() == ["a_q1", "a_q2", "b_q1", "b_q2"]
    assert checked.frames["success"].dtype == bool
    # NaN features on success=False frames are accepted
    assert checked.frames.loc[~checked.frames["success"], "AU12"].isna().all()


def test_missing_required_column():
    with pytest.raises(CorpusError, match=_loc("manifest.csv") + r": missing required column\(s\) 'label'"):
        corpus.validate(_corpus(manifest=_manifest().drop(columns=["label"])))
    with pytest.raises(CorpusError, match=_loc("frames.parquet") + r": missing required column\(s\) 'success'"):
        corpus.validate(_corpus(frames=_frames().drop(columns=["success"])))


def test_duplicate_answer_id():
    m = _manifest()
    m.loc[2, "answer_id"] = "a_q1"
    with pytest.raises(CorpusError, match=_loc("manifest.csv", 3, "answer_id") + r": duplicate answer_id 'a_q1' "
                                          r"\(first at row 1\)"):
        corpus.validate_manifest(m)


@pytest.mark.parametrize("bad", [2, -1, "yes"])
def test_label_not_0_1(bad):
    m = _manifest().astype({"label": object})
    m.loc[3, "label"] = bad
    m.loc[2, "label"] = bad  # keep candidate b consistent so the value check is the one that fails
    with pytest.raises(CorpusError, match=_loc("manifest.csv", 3, "label") + f": expected 0 or 1, got {bad!r}"):
        corpus.validate_manifest(m)


def test_labels_differ_within_candidate():
    m = _manifest()
    m.loc[3, "label"] = 1
    with pytest.raises(CorpusError, match=_loc("manifest.csv", 4, "label") + r": candidate 'b' has label 1 here but 0 on row 3"):
        corpus.validate_manifest(m)


def test_question_not_integer():
    m = _manifest().astype({"question": object})
    m.loc[1, "question"] = "second"
    with pytest.raises(CorpusError, match=_loc("manifest.csv", 2, "question") + r": expected a 1-based integer"):
        corpus.validate_manifest(m)


def test_empty_id():
    m = _manifest()
    m.loc[1, "candidate_id"] = " "
    with pytest.raises(CorpusError, match=_loc("manifest.csv", 2, "candidate_id") + ": empty value"):
        corpus.validate_manifest(m)


@pytest.mark.parametrize("video", ["/data/videos/a_q2.mp4", "../videos/a_q2.mp4", "videos/../../a_q2.mp4"])
def test_video_outside_corpus_folder(video, tmp_path):
    m = _manifest().assign(video=["videos/a_q1.mp4", video, "", "videos/b_q2.mp4"])
    with pytest.raises(CorpusError, match=_loc("manifest.csv", 2, "video") + f": {re.escape(repr(video))} lies "
                                          f"outside the corpus folder"):
        corpus.validate_manifest(m, root=tmp_path)


def test_video_inside_corpus_folder_accepted(tmp_path):
    m = _manifest().assign(video=["videos/a_q1.mp4", "./a_q2.mp4", "", "videos/b_q2.mp4"])
    assert corpus.validate_manifest(m, root=tmp_path)["video"].tolist()[0] == "videos/a_q1.mp4"


def test_empty_corpus():
    with pytest.raises(CorpusError, match=_loc("manifest.csv") + r": the corpus is empty \(no answers\)"):
        corpus.validate(_corpus(manifest=_manifest().iloc[:0]))


# --------------------------------------------------------------------------- frames errors

def test_frames_of_unknown_answer():
    f = _frames()
    f.loc[7, "answer_id"] = "c_q1"
    with pytest.raises(CorpusError, match=_loc("frames.parquet", 8, "answer_id") + r": frames of unknown answer "
                                          r"'c_q1' \(not in manifest\.csv\)"):
        corpus.validate(_corpus(frames=f))


def test_time_not_increasing():
    f = _frames()
    f.loc[8, "time_s"] = f.loc[7, "time_s"]
    with pytest.raises(CorpusError, match=_loc("frames.parquet", 9, "time_s") + r": time_s does not increase "
                                          r"within answer 'a_q2' \(0\.2 then 0\.2\)"):
        corpus.validate(_corpus(frames=f))
    f = _frames()
    f.loc[3, "time_s"] = np.inf
    with pytest.raises(CorpusError, match=_loc("frames.parquet", 4, "time_s") + ": not a finite number"):
        corpus.validate(_corpus(frames=f))


def test_frames_not_contiguous():
    f = _frames()
    f = pd.concat([f.iloc[:3], f.iloc[5:10], f.iloc[3:5], f.iloc[10:]], ignore_index=True)
    with pytest.raises(CorpusError, match=_loc("frames.parquet", 9, "answer_id") + r": the frames of answer 'a_q1' "
                                          r"are not contiguous"):
        corpus.validate(_corpus(frames=f))


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_feature_on_success_frame(value):
    f = _frames()
    f.loc[11, "AU45"] = value
    with pytest.raises(CorpusError, match=_loc("frames.parquet", 12, "AU45") + f": non-finite value {value} on a "
                                          f"frame where success is true"):
        corpus.validate(_corpus(frames=f))
    f = _frames()
    f.loc[12, ["AU12", "AU45", "pose_Rx"]] = np.nan  # row 12 is a success=False frame: accepted
    assert not f.loc[12, "success"]
    corpus.validate(_corpus(frames=f))


def test_success_not_boolean():
    f = _frames().astype({"success": object})
    f.loc[6, "success"] = "maybe"
    with pytest.raises(CorpusError, match=_loc("frames.parquet", 7, "success") + ": expected a boolean"):
        corpus.validate(_corpus(frames=f))
    f = _frames().astype({"success": int})
    assert corpus.validate(_corpus(frames=f)).frames["success"].dtype == bool


def test_frames_sorted_in_manifest_order():
    f = _frames()
    shuffled = pd.concat([f.iloc[10:], f.iloc[:10]], ignore_index=True)
    checked = corpus.validate(_corpus(frames=shuffled))
    pd.testing.assert_frame_equal(checked.frames, corpus.validate(_corpus()).frames)


def test_episodes_errors():
    e = _episodes()
    e.loc[1, "end_s"] = 0.0
    with pytest.raises(CorpusError, match=_loc("episodes.csv", 2, "end_s") + ": end_s must be after start_s"):
        corpus.validate(_corpus(episodes=e))
    e = _episodes()
    e.loc[0, "answer_id"] = "zz"
    with pytest.raises(CorpusError, match=_loc("episodes.csv", 1, "answer_id") + ": unknown answer 'zz'"):
        corpus.validate(_corpus(episodes=e))


# --------------------------------------------------------------------------- load / save

def test_save_load_round_trip(saved):
    loaded = corpus.load(saved)
    expected = corpus.validate(_corpus(episodes=_episodes()))
    pd.testing.assert_frame_equal(loaded.manifest, expected.manifest)
    pd.testing.assert_frame_equal(loaded.frames, expected.frames)
    pd.testing.assert_frame_equal(loaded.episodes, expected.episodes)
    assert loaded.meta["source"] == "test" and loaded.meta["toolkit_version"]
    assert loaded.frame_rate == 10.0 and loaded.path == saved
    assert loaded.aus == ["AU12", "AU45"] and loaded.features == ["AU12", "AU45", "pose_Rx"]
    assert loaded.candidates["candidate_id"].tolist() == ["a", "b"]
    ids = [answer_id for answer_id, *_ in loaded.iter_answers()]
    assert ids == ["a_q1", "a_q2", "b_q1", "b_q2"]


def test_load_reports_file_row_column(saved):
    m = pd.read_csv(saved / "manifest.csv")
    m.loc[1, "label"] = 7
    m.to_csv(saved / "manifest.csv", index=False)
    with pytest.raises(CorpusError, match=_loc("manifest.csv", 2, "label") + r": expected 0 or 1, got 7$"):
        corpus.load(saved)


def test_load_missing_parts(tmp_path, saved):
    with pytest.raises(CorpusError, match="no such corpus folder"):
        corpus.load(tmp_path / "nowhere")
    (saved / "frames.parquet").unlink()
    with pytest.raises(CorpusError, match="frames.parquet is missing"):
        corpus.load(saved)
    (saved / "manifest.csv").write_text("")
    with pytest.raises(CorpusError, match="manifest.csv: the file is empty"):
        corpus.load(saved)
    (saved / "manifest.csv").unlink()
    with pytest.raises(CorpusError, match="manifest.csv is missing"):
        corpus.load(saved)


def test_atomic_write_failure_keeps_previous_file(saved, monkeypatch):
    before = (saved / "frames.parquet").read_bytes()
    manifest_before = (saved / "manifest.csv").read_bytes()

    def broken_to_parquet(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"PAR1 half-written")  # part of the file, then the crash
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken_to_parquet)
    changed = _corpus()
    changed.frames["AU45"] = np.float32(0.5)
    with pytest.raises(OSError, match="disk full"):
        corpus.save(changed, saved)
    monkeypatch.undo()
    assert (saved / "frames.parquet").read_bytes() == before
    assert (saved / "manifest.csv").read_bytes() == manifest_before
    assert not list(saved.glob(".*.tmp"))  # no temporary file left behind
    # corpus.json is written last, so the interrupted overwrite is flagged, not mistaken for complete
    with pytest.raises(CorpusError, match="corpus.json is missing, so the folder is incomplete"):
        corpus.load(saved)


def test_frames_folder_of_parquet_parts(tmp_path, saved):
    frames = pd.read_parquet(saved / "frames.parquet")
    (saved / "frames.parquet").unlink()
    (saved / "frames.parquet").mkdir()
    frames.iloc[:10].to_parquet(saved / "frames.parquet" / "part-000.parquet", index=False)
    frames.iloc[10:].to_parquet(saved / "frames.parquet" / "part-001.parquet", index=False)
    loaded = corpus.load(saved)
    pd.testing.assert_frame_equal(loaded.frames, corpus.validate(_corpus()).frames)
    (saved / "frames.parquet" / "part-001.parquet").write_bytes(b"not parquet")
    with pytest.raises(CorpusError, match=r"frames\.parquet/part-001\.parquet: cannot be read as parquet"):
        corpus.load(saved)
    for part in (saved / "frames.parquet").iterdir():
        part.unlink()
    with pytest.raises(CorpusError, match=r"frames\.parquet/: the folder holds no parquet files"):
        corpus.load(saved)


def test_invalid_corpus_json(saved):
    (saved / "corpus.json").write_text("{not json")
    with pytest.raises(CorpusError, match="corpus.json: invalid JSON"):
        corpus.load(saved)


def test_text_in_an_au_column_is_refused():
    f = _frames().astype({"AU45": object})
    f.loc[3, "AU45"] = "closed"
    with pytest.raises(CorpusError, match=_loc("frames.parquet", None, "AU45") + r": expected numbers"):
        corpus.validate_frames(f, _manifest()["answer_id"])


def test_integer_au_columns_become_float_features():
    f = _frames()
    f["AU12"] = np.arange(len(f)) % 3
    checked = corpus.validate_frames(f, _manifest()["answer_id"])
    assert checked["AU12"].dtype == np.float32
    assert "AU12" in Corpus(_manifest(), checked).features


def test_a_folder_without_corpus_json_is_refused(saved):
    (saved / "corpus.json").unlink()
    with pytest.raises(CorpusError, match="corpus.json is missing"):
        corpus.load(saved)
