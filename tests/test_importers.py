"""Tests of toolkit.importers: OpenFace and py-feat CSV files -> frames -> a corpus."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from toolkit import cli, corpus, importers
from toolkit.__main__ import main
from toolkit.corpus import CorpusError
from toolkit.datasets import sample
from toolkit.importers import TrackerFileError
from toolkit.vocabulary import AUS

OF_AUS = [f"{au}_r" for au in AUS]


# --------------------------------------------------------------------------- fixtures

def _openface_csv(path, n=6, success=None, face_id=None, frame=None, timestamp=None):
    """A small OpenFace-like CSV with OpenFace's ', ' separators (leading spaces in headers)."""
    frame = np.arange(1, n + 1) if frame is None else np.asarray(frame)
    timestamp = (frame - 1) / 30.0 if timestamp is None else np.asarray(timestamp)
    success = np.ones(len(frame), int) if success is None else np.asarray(success)
    cols = {"frame": frame}
    if face_id is not None:
        cols["face_id"] = face_id
    cols |= {"timestamp": np.round(timestamp, 6), "confidence": np.where(success == 1, 0.98, 0.02),
             "success": success, "pose_Tx": 10.0 + frame, "pose_Rx": 0.1 * frame,
             "gaze_angle_x": 0.01 * frame, "gaze_angle_y": -0.01 * frame}
    for k, name in enumerate(OF_AUS):
        cols[name] = np.where(success == 1, np.round(0.1 * k + 0.01 * frame, 4), 0.0)
    cols["AU12_c"] = 1
    table = pd.DataFrame(cols)
    lines = [", ".join(table.columns)] + [", ".join(str(v) for v in row) for row in table.itertuples(index=False)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _pyfeat_csv(path, rows):
    """A small py-feat-like CSV; ``rows`` are (frame, width, height, score, au_value or None)."""
    records = []
    for frame, width, height, score, value in rows:
        rec = {"FaceRectX": 10.0, "FaceRectY": 20.0, "FaceRectWidth": width, "FaceRectHeight": height,
               "FaceScore": score, "Pitch": 1.0, "Roll": 2.0, "Yaw": 3.0}
        for au in ("AU01", "AU02", "AU12", "AU43"):
            rec[au] = value
        rec |= {"anger": 0.1, "input": "clip.mp4", "frame": frame}
        records.append(rec)
    pd.DataFrame(records).to_csv(path, index=False)
    return path


def _copy_sample(name, folder, new_name):
    folder.mkdir(parents=True, exist_ok=True)
    return shutil.copy(sample(name), folder / new_name)


def _manifest(ids, candidates, labels):
    return pd.DataFrame({
        "answer_id": ids, "candidate_id": candidates, "position_id": "p1",
        "question": [int(i[-1]) for i in ids], "label": labels,
    })


# --------------------------------------------------------------------------- OpenFace

def test_read_openface_real_sample():
    path = sample("OpenFace_Test.csv")
    frames = importers.read_openface(path)
    raw = pd.read_csv(path, skipinitialspace=True)
    raw.columns = raw.columns.str.strip()
    assert len(frames) == len(raw) == 100
    assert list(frames.columns[:2]) == ["time_s", "success"]
    assert [c for c in frames.columns if c.startswith("AU")] == list(AUS)
    assert not any(c.endswith(("_r", "_c")) or c.startswith(" ") for c in frames.columns)
    np.testing.assert_allclose(frames["time_s"], raw["timestamp"])
    np.testing.assert_allclose(frames["AU12"], raw["AU12_r"], rtol=1e-6)
    np.testing.assert_allclose(frames["pose_Rx"], raw["pose_Rx"], rtol=1e-6)
    assert frames["success"].dtype == bool and frames["success"].all()
    assert frames["AU45"].dtype == np.float32
    assert {"confidence", "pose_Tx", "pose_Rz", "frame"} <= set(frames.columns)


def test_read_openface_fps_rebuilds_time():
    frames = importers.read_openface(sample("OpenFace_Test.csv"), fps=25)
    np.testing.assert_allclose(frames["time_s"], np.arange(100) / 25)
    for reader in (importers.read_openface, importers.read_pyfeat):
        with pytest.raises(ValueError, match="fps must be a positive number of frames per second, got -3"):
            reader(sample("Feat_Test.csv" if reader is importers.read_pyfeat else "OpenFace_Test.csv"), fps=-3)


def test_read_openface_strips_spaces_and_keeps_failures(tmp_path):
    path = _openface_csv(tmp_path / "a.csv", n=6, success=[1, 1, 0, 0, 1, 1])
    assert " AU12_r" in path.read_text().splitlines()[0]
    frames = importers.read_openface(path)
    assert len(frames) == 6  # failure rows kept, not dropped
    assert frames["success"].tolist() == [True, True, False, False, True, True]
    assert frames.loc[~frames["success"], ["AU01", "AU45", "pose_Tx", "gaze_angle_x"]].isna().all().all()
    assert frames.loc[frames["success"], list(AUS)].notna().all().all()
    np.testing.assert_allclose(frames["confidence"], [0.98, 0.98, 0.02, 0.02, 0.98, 0.98], rtol=1e-6)
    np.testing.assert_allclose(frames["AU12"][4], 0.1 * AUS.index("AU12") + 0.05, rtol=1e-6)
    assert {"gaze_angle_x", "gaze_angle_y"} <= set(frames.columns)
    assert "AU12_c" not in frames.columns


@pytest.mark.parametrize("reader", [importers.read_openface, importers.read_pyfeat])
def test_empty_files(tmp_path, reader):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TrackerFileError, match=r"empty\.csv: the file is empty"):
        reader(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("frame, timestamp, success, AU01_r\n")
    with pytest.raises(TrackerFileError, match=r"header\.csv: a header but no data rows"):
        reader(header_only)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothere\.csv: no such file"):
        importers.read_openface(tmp_path / "nothere.csv")


def test_truncated_openface(tmp_path):
    path = _openface_csv(tmp_path / "cut.csv", n=5)
    text = path.read_text()
    path.write_text(text[: len(text) - 60])  # the last line loses its last fields
    with pytest.raises(TrackerFileError, match=r"cut\.csv, row 5 \(line 6\): \d+ fields where the header has \d+; "
                                               r"the file looks truncated"):
        importers.read_openface(path)


def test_garbage_value_names_row_and_column(tmp_path):
    path = _openface_csv(tmp_path / "bad.csv", n=5)
    lines = path.read_text().splitlines()
    header = [h.strip() for h in lines[0].split(",")]
    fields = lines[3].split(", ")
    fields[header.index("AU12_r")] = "x!?"
    lines[3] = ", ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TrackerFileError, match=r"bad\.csv, row 3 \(line 4\), column 'AU12_r': 'x!\?' is not a number"):
        importers.read_openface(path)


def test_openface_without_aus_or_wrong_format(tmp_path):
    path = tmp_path / "noau.csv"
    path.write_text("frame, timestamp, confidence, success, pose_Tx\n1, 0.0, 0.9, 1, 3.0\n")
    with pytest.raises(TrackerFileError, match=r"noau\.csv: no action-unit intensity column"):
        importers.read_openface(path)
    with pytest.raises(TrackerFileError, match=r"Feat_Test\.csv: no 'timestamp' column.*looks like py-feat"):
        importers.read_openface(sample("Feat_Test.csv"))
    with pytest.raises(TrackerFileError, match=r"OpenFace_Test\.csv: no action-unit column.*looks like OpenFace"):
        importers.read_pyfeat(sample("OpenFace_Test.csv"), fps=30)


def test_openface_bad_success_and_time(tmp_path):
    path = _openface_csv(tmp_path / "s.csv", n=4, success=[1, 1, 2, 1])
    with pytest.raises(TrackerFileError, match=r"s\.csv, row 3 \(line 4\), column 'success': expected 0 or 1"):
        importers.read_openface(path)
    path = _openface_csv(tmp_path / "t.csv", n=4, timestamp=[0.0, 0.1, 0.1, 0.2])
    with pytest.raises(TrackerFileError, match=r"t\.csv, row 3 \(line 4\), column 'timestamp': time does not increase"):
        importers.read_openface(path)


def test_openface_several_faces(tmp_path):
    # face 0 tracked on frames 1-3 (2 successes), face 1 on frames 2-6 (4 successes): face 1 wins
    frame = [1, 2, 2, 3, 3, 4, 5, 6]
    face_id = [0, 0, 1, 0, 1, 1, 1, 1]
    success = [1, 1, 1, 0, 1, 1, 0, 1]
    path = _openface_csv(tmp_path / "multi.csv", frame=frame, face_id=face_id, success=success)
    frames = importers.read_openface(path)
    assert frames["frame"].tolist() == [1, 2, 3, 4, 5, 6]  # frame 1 only had face 0: kept as a failure
    assert frames["success"].tolist() == [False, True, True, True, False, True]
    assert np.isnan(frames["AU01"][0])
    assert frames.attrs["faces"] == {"0": 2, "1": 4}
    # a tie (2 successes each) goes to the lowest face_id
    path = _openface_csv(tmp_path / "tie.csv", frame=[1, 1, 2, 2], face_id=[3, 1, 3, 1], success=[1, 1, 1, 1])
    frames = importers.read_openface(path)
    raw = pd.read_csv(path, skipinitialspace=True)
    np.testing.assert_allclose(frames["pose_Tx"], raw.loc[raw["face_id"] == 1, "pose_Tx"])


# --------------------------------------------------------------------------- py-feat

def test_read_pyfeat_old_layout():
    path = sample("Feat_Test.csv")
    raw = pd.read_csv(path)
    frames = importers.read_pyfeat(path, fps=30)
    assert len(frames) == 1 and frames["success"].all() and frames["time_s"].tolist() == [0.0]
    assert "AU43" not in frames.columns
    np.testing.assert_allclose(frames["AU45"], raw["AU43"], rtol=1e-6)
    np.testing.assert_allclose(frames["AU12"], raw["AU12"], rtol=1e-6)
    np.testing.assert_allclose(frames["confidence"], raw["FaceScore"], rtol=1e-6)
    assert [c for c in frames.columns if c in AUS] == list(AUS)
    with pytest.raises(TrackerFileError, match=r"Feat_Test\.csv: cannot derive time.*pass fps="):
        importers.read_pyfeat(path)


def test_read_pyfeat_v2_layout(tmp_path):
    path = sample("pyfeat_v2_output.csv")
    raw = pd.read_csv(path)
    frames = importers.read_pyfeat(path, fps=24)
    assert len(frames) == 40 and frames["success"].all()
    np.testing.assert_allclose(frames["time_s"], raw["frame"] / 24)
    np.testing.assert_allclose(frames["AU26"], raw["AU26"], rtol=1e-6)
    np.testing.assert_allclose(frames["pose_yaw"], raw["Yaw"], rtol=1e-6)
    # the video named in 'input' (001.mp4) found beside the CSV gives the frame rate
    csv_copy = _copy_sample("pyfeat_v2_output.csv", tmp_path, "answer.csv")
    _copy_sample("single_face.mp4", tmp_path, "001.mp4")
    frames = importers.read_pyfeat(csv_copy)
    assert frames.attrs["fps"] == pytest.approx(30.0)
    np.testing.assert_allclose(frames["time_s"], raw["frame"] / 30)


def test_pyfeat_several_faces_and_no_face(tmp_path):
    path = _pyfeat_csv(tmp_path / "faces.csv", [
        (0, 100.0, 100.0, 0.99, 0.1),
        (1, 50.0, 60.0, 0.99, 0.2),      # small face
        (1, 120.0, 110.0, 0.90, 0.3),    # largest box: kept
        (2, np.nan, np.nan, np.nan, None),  # no face found
        (3, 80.0, 50.0, 0.95, 0.4),      # equal boxes: the higher FaceScore wins
        (3, 50.0, 80.0, 0.97, 0.5),
    ])
    frames = importers.read_pyfeat(path, fps=10)
    assert frames["time_s"].tolist() == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert frames["success"].tolist() == [True, True, False, True]
    np.testing.assert_allclose(frames["AU12"].to_numpy()[[0, 1, 3]], [0.1, 0.3, 0.5], rtol=1e-6)
    assert np.isnan(frames["AU12"][2]) and np.isnan(frames["AU45"][2])
    assert frames.attrs["dropped_faces"] == 2


def test_pyfeat_truncated_and_garbage(tmp_path):
    path = _copy_sample("pyfeat_v2_output.csv", tmp_path, "cut.csv")
    text = path.read_text()
    path.write_text(text[: len(text) - 2000])
    with pytest.raises(TrackerFileError, match=r"cut\.csv, row 40 \(line 41\): \d+ fields.*truncated"):
        importers.read_pyfeat(path, fps=30)
    table = pd.read_csv(sample("pyfeat_v2_output.csv"))
    table["AU04"] = table["AU04"].astype(object)
    table.loc[6, "AU04"] = "n/a?"
    table.to_csv(tmp_path / "garbage.csv", index=False)
    message = r"garbage\.csv, row 7 \(line 8\), column 'AU04': 'n/a\?' is not a number"
    with pytest.raises(TrackerFileError, match=message):
        importers.read_pyfeat(tmp_path / "garbage.csv", fps=30)
    table = pd.read_csv(sample("pyfeat_v2_output.csv"))
    table.drop(columns=[c for c in table.columns if c.startswith("AU")]).to_csv(tmp_path / "noau.csv", index=False)
    with pytest.raises(TrackerFileError, match=r"noau\.csv: no action-unit column"):
        importers.read_pyfeat(tmp_path / "noau.csv", fps=30)


# --------------------------------------------------------------------------- resampling

def test_resample_to_10_hz():
    time = np.arange(31) / 30.0  # 30 fps over one second
    success = ~((time > 0.42) & (time < 0.58))  # a tracking gap around 0.5 s
    frames = pd.DataFrame({"answer_id": "a1", "time_s": time, "success": success,
                           "AU12": np.where(success, 2 * time + 1, np.nan), "frame": np.arange(31)})
    out = importers.resample(frames, 10)
    np.testing.assert_allclose(out["time_s"], np.arange(11) / 10)
    expected_success = np.ones(11, bool)
    expected_success[5] = False  # nearest success frames at 0.4 and 0.6: 0.1 s away, more than half a step
    assert out["success"].tolist() == expected_success.tolist()
    np.testing.assert_allclose(out["AU12"][expected_success], 2 * out["time_s"][expected_success] + 1, rtol=1e-6)
    assert np.isnan(out["AU12"][5])
    assert list(out.columns) == ["answer_id", "time_s", "success", "AU12"]
    assert (out["answer_id"] == "a1").all()


def test_resample_grid_and_errors():
    frames = pd.DataFrame({"time_s": [0.05, 0.12, 0.31], "success": [True, True, True], "AU01": [0.0, 0.7, 2.6]})
    out = importers.resample(frames, 10)
    np.testing.assert_allclose(out["time_s"], [0.1, 0.2, 0.3])
    assert out["success"].tolist() == [True, False, True]  # 0.2 is 0.08 s from the nearest frame
    np.testing.assert_allclose(out["AU01"][[0, 2]], [0.5, 2.5], rtol=1e-5)
    with pytest.raises(ValueError, match="rate must be a positive number"):
        importers.resample(frames, 0)
    lost = importers.resample(frames.assign(success=False), 10)
    assert len(lost) == 3 and not lost["success"].any() and lost["AU01"].isna().all()
    with pytest.raises(ValueError, match="one answer at a time"):
        importers.resample(frames.assign(answer_id=["a", "a", "b"]), 10)


# --------------------------------------------------------------------------- corpus import

@pytest.fixture
def openface_folder(tmp_path):
    folder = tmp_path / "openface"
    for name in ("c1_q1.csv", "c1_q2.csv", "c2_q1.csv", "c2_q2.csv"):
        _copy_sample("OpenFace_Test.csv", folder, name)
    manifest = _manifest(["c1_q1", "c1_q2", "c2_q1", "c2_q2"], ["c1", "c1", "c2", "c2"], [1, 1, 0, 0])
    return folder, manifest


def test_import_corpus_end_to_end(openface_folder, tmp_path):
    folder, manifest = openface_folder
    out = importers.import_corpus(folder, manifest, tmp_path / "corpus", progress=False)
    loaded = corpus.load(out)
    assert loaded.manifest["answer_id"].tolist() == ["c1_q1", "c1_q2", "c2_q1", "c2_q2"]
    assert "file" not in loaded.manifest.columns
    assert len(loaded.frames) == 400 and loaded.aus == list(AUS)
    assert loaded.meta["source"] == "openface"
    assert loaded.meta["frame_rate"] == pytest.approx(1000.0)  # the sample's timestamps step by 1 ms
    assert [r["success_rate"] for r in loaded.meta["import"]["files"]] == [1.0] * 4
    assert loaded.meta["answers"] == 4 and loaded.meta["failed"] == 0
    assert loaded.meta["face_found_rate_overall"] == 1.0
    assert len(pd.read_csv(out / "failures.csv")) == 0
    reference = importers.read_openface(sample("OpenFace_Test.csv"))
    np.testing.assert_allclose(loaded.answer_frames("c2_q1")["AU12"], reference["AU12"])


def test_import_corpus_resample_and_file_column(openface_folder, tmp_path):
    folder, manifest = openface_folder
    manifest = manifest.iloc[:2].assign(file=["c2_q2.csv", ""])  # an empty file cell means <answer_id>.csv
    out = importers.import_corpus(folder, manifest, tmp_path / "c10", fps=30, rate=10, progress=False)
    loaded = corpus.load(out)
    assert loaded.frame_rate == 10.0
    assert loaded.meta["parameters"]["fps"] == 30
    np.testing.assert_allclose(loaded.answer_frames("c1_q1")["time_s"], np.arange(34) / 10)  # 99 frames / 30 fps
    assert [r["file"] for r in loaded.meta["import"]["files"]] == ["c2_q2.csv", "c1_q2.csv"]


def test_import_corpus_failures(openface_folder, tmp_path):
    folder, manifest = openface_folder
    text = (folder / "c1_q2.csv").read_text()
    (folder / "c1_q2.csv").write_text(text[:-500])  # truncated
    (folder / "c2_q2.csv").unlink()  # missing
    out = tmp_path / "corpus"
    message = r"cannot import answer 'c1_q2': \S*c1_q2\.csv, row 100 \(line 101\): .*truncated"
    with pytest.raises(CorpusError, match=message):
        importers.import_corpus(folder, manifest, out, progress=False)
    assert not out.exists()  # nothing written
    importers.import_corpus(folder, manifest, out, keep_going=True, progress=False)
    failures = pd.read_csv(out / "failures.csv")
    assert failures["answer_id"].tolist() == ["c1_q2", "c2_q2"]
    assert failures["reason"].str.contains("truncated").tolist() == [True, False]
    assert "no such file" in failures["reason"][1]
    loaded = corpus.load(out)
    assert loaded.manifest["answer_id"].tolist() == ["c1_q1", "c2_q1"]
    assert len(loaded.meta["import"]["failures"]) == 2


def test_import_corpus_bad_manifest(openface_folder, tmp_path):
    folder, manifest = openface_folder
    path = tmp_path / "answers.csv"
    manifest.assign(label=[1, 0, 0, 0]).to_csv(path, index=False)
    message = r"answers\.csv, row 2 \(line 3\), column 'label': candidate 'c1' has label 0 here but 1 on row 1"
    with pytest.raises(CorpusError, match=message):
        importers.import_corpus(folder, path, tmp_path / "corpus", progress=False)
    with pytest.raises(ValueError, match="unknown format 'dlib'"):
        importers.import_corpus(folder, manifest, tmp_path / "corpus", format="dlib", progress=False)


def test_import_pyfeat_corpus(tmp_path):
    folder = tmp_path / "pyfeat"
    for name in ("a_q1.csv", "b_q1.csv"):
        _copy_sample("pyfeat_v2_output.csv", folder, name)
    manifest = _manifest(["a_q1", "b_q1"], ["a", "b"], [1, 0])
    with pytest.raises(CorpusError, match=r"a_q1\.csv: cannot derive time"):
        importers.import_corpus(folder, manifest, tmp_path / "corpus", format="pyfeat", progress=False)
    out = importers.import_corpus(folder, manifest, tmp_path / "corpus", format="pyfeat", fps=30, progress=False)
    loaded = corpus.load(out)
    assert loaded.meta["source"] == "pyfeat" and loaded.frame_rate == 30.0
    assert len(loaded.frames) == 80 and "AU45" in loaded.aus


def test_cli(openface_folder, tmp_path, capsys):
    folder, manifest = openface_folder
    manifest_path = tmp_path / "manifest.csv"
    manifest.to_csv(manifest_path, index=False)
    out = tmp_path / "cli_corpus"
    argv = ["import", "--format", "openface", str(folder), str(manifest_path), str(out), "--rate", "100", "--quiet"]
    assert main(argv) == 0
    assert "imported 4 answers" in capsys.readouterr().out
    assert corpus.load(out).frame_rate == 100.0
    (folder / "c2_q1.csv").write_text("")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert re.search(r"^error: cannot import answer 'c2_q1': \S*c2_q1\.csv: the file is empty$", err.strip())
    assert main(argv + ["--keep-going"]) == 0
    assert "1 file(s) failed" in capsys.readouterr().out
    # argparse refuses an unknown format (exit status 2) before anything is read
    with pytest.raises(SystemExit) as exit_info:
        cli.import_(["--format", "dlib", str(folder), str(manifest_path), str(out)])
    assert exit_info.value.code == 2
    assert "invalid choice: 'dlib'" in capsys.readouterr().err
