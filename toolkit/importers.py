"""Import the outputs of face trackers (OpenFace 2, py-feat) as a corpus.

A user who already ran a tracker over the answer videos has one CSV file per answer. This
module reads those files into frames tables in the toolkit's vocabulary (DESIGN section 4),
optionally resamples them to a common analysis rate, and writes a corpus folder
(:func:`import_corpus`, or ``python -m toolkit import``).

Every reader checks the file and fails with a :class:`TrackerFileError` naming the file,
and the row and column when they apply: an empty file, a truncated last line, a value that
is not a number, a file without any action-unit column.

Rows are never dropped silently: frames where the tracker found no face are kept with
``success`` false and NaN features; when a file holds several faces, the rule that picks
one is documented on each reader and the number of frames of the other faces is reported.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import _io
from . import corpus as _corpus
from .corpus import CorpusError
from .vocabulary import AUS, OPENFACE, PYFEAT

__all__ = [
    "TrackerFileError", "read_openface", "read_pyfeat", "resample", "import_corpus", "READERS",
]

#: Extra OpenFace columns kept (as float) beside the action units, when present.
OPENFACE_EXTRAS = (
    "confidence", "pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz",
    "gaze_angle_x", "gaze_angle_y",
)

#: py-feat columns kept beside the action units, and their names in the corpus.
PYFEAT_EXTRAS = {"FaceScore": "confidence", "Pitch": "pose_pitch", "Roll": "pose_roll", "Yaw": "pose_yaw"}

_FACE_BOX = ("FaceRectX", "FaceRectY", "FaceRectWidth", "FaceRectHeight")


class TrackerFileError(CorpusError):
    """A tracker output file cannot be read; the message names the file (row and column when they apply)."""


# --------------------------------------------------------------------------- CSV reading

def _where(path: Path, row: int | None = None, column: str | None = None) -> str:
    """``'<path>, row 3 (line 4), column 'AU12''`` with data rows counted from 1 (row index 0-based)."""
    parts = [str(path)]
    if row is not None:
        parts.append(f"row {row + 1} (line {row + 2})")
    if column is not None:
        parts.append(f"column {column!r}")
    return ", ".join(parts)


def _read_csv(path: str | os.PathLike, wanted) -> tuple[pd.DataFrame, list[str]]:
    """Read the columns of ``path`` whose stripped names ``wanted(name)`` accepts.

    The file is first scanned with :mod:`csv` so that a line with a wrong number of fields
    (a truncated last line, a broken write) is reported with its line number, which
    :func:`pandas.read_csv` would silently fill with NaN.

    Returns
    -------
    table : pandas.DataFrame
        The selected columns, with stripped names.
    names : list of str
        All stripped column names of the file (to explain what is missing).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise TrackerFileError(f"{path}: the file is empty")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next((fields for fields in reader if fields), None)
            if header is None:
                raise TrackerFileError(f"{path}: the file is empty (no header line)")
            expected, rows = len(header), 0
            for fields in reader:
                if not fields:
                    continue
                if len(fields) != expected:
                    raise TrackerFileError(
                        f"{path}, row {rows + 1} (line {reader.line_num}): {len(fields)} fields where the header "
                        f"has {expected}; the file looks truncated or corrupt")
                rows += 1
    except (csv.Error, UnicodeDecodeError) as err:
        raise TrackerFileError(f"{path}: not a readable CSV text file ({err})") from None
    if rows == 0:
        raise TrackerFileError(f"{path}: a header but no data rows (no frames)")
    names = [h.strip() for h in header]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise TrackerFileError(f"{path}, column {name!r}: the header names this column twice")
        seen.add(name)
    table = pd.read_csv(path, usecols=lambda c: wanted(c.strip()), skipinitialspace=True, encoding="utf-8-sig",
                        low_memory=False)
    table.columns = [c.strip() for c in table.columns]
    return table, names


def _numeric(table: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """The column as float64; a value that is not a number raises, naming row and column."""
    s = table[column]
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(np.float64, na_value=np.nan)
    v = pd.to_numeric(s, errors="coerce")
    text = s.astype("string").str.strip()
    bad = v.isna() & s.notna() & (text != "")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise TrackerFileError(f"{_where(path, row, column)}: {s.iloc[row]!r} is not a number")
    return v.to_numpy(np.float64, na_value=np.nan)


def _check_finite(values: np.ndarray, path: Path, column: str, what: str = "a finite number") -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise TrackerFileError(f"{_where(path, row, column)}: expected {what}, got {values[row]}")


def _assemble(time_s, success, features: dict[str, np.ndarray], extras: dict[str, np.ndarray],
              frame: np.ndarray | None, keep_on_failure=()) -> pd.DataFrame:
    """Build the frames table: ``time_s, success``, AUs (vocabulary order), extra AUs, extras, ``frame``.

    Values on failure frames become NaN, except in the columns named in ``keep_on_failure``.
    """
    success = np.asarray(success, bool)
    out = {"time_s": np.asarray(time_s, np.float64), "success": success}
    ordered = [au for au in AUS if au in features] + sorted(c for c in features if c not in AUS)
    for name in ordered + list(extras):
        values = (features | extras)[name].astype(np.float32)
        if name not in keep_on_failure:
            values[~success] = np.nan
        out[name] = values
    if frame is not None:
        out["frame"] = np.asarray(frame, np.int64)
    return pd.DataFrame(out)


def _check_success_features(table: pd.DataFrame, columns, path: Path, rows: np.ndarray) -> None:
    """A success frame must carry finite AU values; ``rows`` maps table rows to file rows."""
    success = table["success"].to_numpy(bool)
    for col in columns:
        bad = success & ~np.isfinite(table[col].to_numpy(np.float64))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise TrackerFileError(f"{_where(path, int(rows[i]), col)}: no value on a frame the tracker marks "
                                   f"as a success")


def _check_fps(fps) -> None:
    if not (isinstance(fps, (int, float, np.number)) and np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number of frames per second, got {fps!r}")


def _check_increasing(time_s: np.ndarray, path: Path, rows: np.ndarray, column: str) -> None:
    bad = np.diff(time_s) <= 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0]) + 1
        raise TrackerFileError(f"{_where(path, int(rows[i]), column)}: time does not increase "
                               f"({time_s[i - 1]} then {time_s[i]}); one face per frame is expected")


# --------------------------------------------------------------------------- OpenFace

def read_openface(path: str | os.PathLike, fps: float | None = None) -> pd.DataFrame:
    """Read one OpenFace 2 ``FeatureExtraction`` (or ``FaceLandmarkVidMulti``) CSV file.

    Parameters
    ----------
    path : str or Path
        The CSV file of one answer.
    fps : float, optional
        When given, rebuild time from the frame numbers, ``time_s = (frame - 1) / fps``
        (OpenFace counts frames from 1), instead of trusting the ``timestamp`` column
        (OpenFace run on an image sequence writes timestamps from an assumed frame rate).

    Returns
    -------
    pandas.DataFrame
        One row per frame of the file: ``time_s`` (from ``timestamp``), ``success`` (bool),
        the 17 intensity AUs ``AUxx_r`` renamed ``AUxx`` (float32), then the extras present
        among :data:`OPENFACE_EXTRAS` (``confidence``, ``pose_*``, ``gaze_angle_*``) and
        ``frame`` (int). Presence columns ``AUxx_c``, landmarks and shape parameters are not kept.

    Notes
    -----
    - Headers lose their leading spaces (``' AU12_r'`` -> ``AU12``).
    - Rows with ``success == 0`` are kept, marked ``success=False``, and their AU, pose and gaze
      values (which OpenFace writes as 0) are set to NaN; ``confidence`` stays as written.
    - Several faces (a ``face_id`` column with several values, as written by
      ``FaceLandmarkVidMulti``): one face is kept, the face tracked successfully on the most
      frames, ties going to the lowest ``face_id``. Frames where only other faces appear are kept
      as ``success=False`` rows, so the answer's timeline has no hole. ``df.attrs["faces"]`` holds
      the number of successful frames of each face.

    Raises
    ------
    TrackerFileError
        For an empty or truncated file, a value that is not a number (naming row and column),
        a missing ``timestamp``/``success`` column, no ``AUxx_r`` column, a ``success`` other than
        0/1, a time that does not increase, or a success frame without an AU value.
    FileNotFoundError
        When the file does not exist.
    """
    path = Path(path)
    extras = set(OPENFACE_EXTRAS)
    base = {"frame", "face_id", "timestamp", "success"}
    table, names = _read_csv(path, lambda n: n in base or n in extras or n in OPENFACE)
    for col in ("timestamp", "success"):
        if col not in table.columns:
            hint = " (it looks like py-feat output: use read_pyfeat / --format pyfeat)" if "FaceScore" in names else ""
            raise TrackerFileError(f"{path}: no {col!r} column; not an OpenFace 2 output file{hint}")
    au_cols = [c for c in OPENFACE if c in table.columns]
    if not au_cols:
        raise TrackerFileError(f"{path}: no action-unit intensity column (AU01_r ... AU45_r); run OpenFace's "
                               f"FeatureExtraction with -aus (or without output selection flags)")
    rows = np.arange(len(table))
    success_raw = _numeric(table, "success", path)
    bad = ~np.isin(success_raw, (0.0, 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise TrackerFileError(f"{_where(path, row, 'success')}: expected 0 or 1, got {table['success'].iloc[row]!r}")
    frame = _numeric(table, "frame", path) if "frame" in table.columns else None
    if fps is not None:
        _check_fps(fps)
        if frame is None:
            raise TrackerFileError(f"{path}: fps given but the file has no 'frame' column to build time from")
        _check_finite(frame, path, "frame")
        time_s = (frame - 1.0) / float(fps)
        time_col = "frame"
    else:
        time_s = _numeric(table, "timestamp", path)
        time_col = "timestamp"
    _check_finite(time_s, path, time_col)
    success = success_raw == 1.0
    values = {OPENFACE[c]: _numeric(table, c, path) for c in au_cols}
    extra_values = {c: _numeric(table, c, path) for c in OPENFACE_EXTRAS if c in table.columns}
    faces: dict[str, int] = {}
    if "face_id" in table.columns:
        face_id = _numeric(table, "face_id", path)
        _check_finite(face_id, path, "face_id")
        ids = np.unique(face_id)
        counts = {f: int(success[face_id == f].sum()) for f in ids}
        faces = {str(int(f)) if float(f).is_integer() else str(f): n for f, n in counts.items()}
        if len(ids) > 1:
            keep_id = min(ids, key=lambda f: (-counts[f], f))
            keep = face_id == keep_id
            # the other faces' frames become failures of the kept face (one row per time)
            others = ~keep & ~np.isin(time_s, time_s[keep])
            other_times, first = np.unique(time_s[others], return_index=True)
            other_rows = rows[others][first]
            time_s = np.r_[time_s[keep], other_times]
            rows = np.r_[rows[keep], other_rows]
            success = np.r_[success[keep], np.zeros(len(other_times), bool)]
            pick = np.r_[np.flatnonzero(keep), other_rows]
            values = {k: v[pick] for k, v in values.items()}
            extra_values = {k: v[pick] for k, v in extra_values.items()}
            if frame is not None:
                frame = frame[pick]
            order = np.argsort(time_s, kind="stable")
            time_s, rows, success = time_s[order], rows[order], success[order]
            values = {k: v[order] for k, v in values.items()}
            extra_values = {k: v[order] for k, v in extra_values.items()}
            if frame is not None:
                frame = frame[order]
    _check_increasing(time_s, path, rows, time_col)
    out = _assemble(time_s, success, values, extra_values,
                    None if frame is None or not np.isfinite(frame).all() else frame, keep_on_failure=("confidence",))
    _check_success_features(out, list(values) + list(extra_values), path, rows)
    out.attrs.update(source="openface", file=str(path), rows=int(len(table)), faces=faces)
    return out


# --------------------------------------------------------------------------- py-feat

def _video_fps(path: Path, table: pd.DataFrame) -> float | None:
    """The frame rate of the video named in py-feat's ``input`` column, if it can be opened."""
    if "input" not in table.columns:
        return None
    inputs = table["input"].dropna().astype(str).unique()
    if len(inputs) != 1:
        return None
    video = Path(inputs[0])
    for candidate in ([video] if video.is_absolute() else []) + [path.parent / video.name, path.parent / video]:
        if candidate.is_file() and candidate.suffix.lower() not in (".jpg", ".jpeg", ".png", ".bmp"):
            import cv2  # brought by mediapipe; imported only here

            capture = cv2.VideoCapture(str(candidate))
            try:
                fps = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
            finally:
                capture.release()
            if fps and np.isfinite(fps) and fps > 0:
                return float(fps)
    return None


def _is_au(name: str) -> bool:
    return len(name) == 4 and name.startswith("AU") and name[2:].isdigit()


def read_pyfeat(path: str | os.PathLike, fps: float | None = None) -> pd.DataFrame:
    """Read one py-feat output CSV file (the older layout and py-feat 2's ``Fex`` CSV).

    Parameters
    ----------
    path : str or Path
        The CSV file of one answer (``Fex.to_csv`` or ``detect_video(..., save=...)``).
    fps : float, optional
        The video's frames per second. py-feat writes frame numbers (``frame``, from 0) but no
        usable time (its ``approx_time`` is rounded to whole seconds, and is ignored). Time is
        ``time_s = frame / fps``. When ``fps`` is not given, the video named in the ``input``
        column is looked for (as written, then beside the CSV file) and its frame rate read; if
        that fails a :class:`TrackerFileError` asks for ``fps``.

    Returns
    -------
    pandas.DataFrame
        One row per frame: ``time_s``, ``success``, the AU columns as py-feat names them
        (canonical ones in vocabulary order, then py-feat's others such as AU11, AU24, AU28;
        ``AU43`` (eyes closed) becomes ``AU45`` when ``AU45`` is absent), then ``confidence``
        (py-feat's ``FaceScore``), ``pose_pitch``, ``pose_roll``, ``pose_yaw`` (degrees) and
        ``frame``. Landmarks, face boxes and emotions are not kept.

    Notes
    -----
    - Several faces in one frame (several rows with the same ``frame``): the face with the
      largest box ``FaceRectWidth * FaceRectHeight`` is kept, ties going to the highest
      ``FaceScore``. ``df.attrs["dropped_faces"]`` counts the rows of other faces.
    - A frame is ``success`` when a face box and every AU value are present; rows where
      py-feat found no face (NaN box and AUs) are kept with ``success=False``.
    - Rows are sorted by ``frame``.

    Raises
    ------
    TrackerFileError
        For an empty or truncated file, a value that is not a number (naming row and column), no
        AU column, no ``frame`` column, or no way to know the frame rate.
    FileNotFoundError
        When the file does not exist.
    """
    path = Path(path)
    wanted = set(PYFEAT_EXTRAS) | set(_FACE_BOX) | {"frame", "input"}
    table, names = _read_csv(path, lambda n: n in wanted or _is_au(n))
    au_cols = [c for c in table.columns if _is_au(c)]
    if not au_cols:
        hint = " (it looks like OpenFace output: use read_openface / --format openface)" if "AU01_r" in names else ""
        raise TrackerFileError(f"{path}: no action-unit column (AU01 ... AU43); not a py-feat output file with "
                               f"AU predictions{hint}")
    if "frame" not in table.columns:
        raise TrackerFileError(f"{path}: no 'frame' column; py-feat output of a video carries one")
    frame = _numeric(table, "frame", path)
    _check_finite(frame, path, "frame", "a frame number")
    if fps is None:
        fps = _video_fps(path, table)
    if fps is None:
        raise TrackerFileError(f"{path}: cannot derive time: py-feat writes frame numbers but not the video's "
                               f"frame rate (and the video in its 'input' column was not found); pass fps=... "
                               f"(--fps on the command line)")
    _check_fps(fps)
    values = {c: _numeric(table, c, path) for c in au_cols}
    if "AU45" not in values and "AU43" in values:
        values["AU45"] = values.pop("AU43")
    extras = {PYFEAT_EXTRAS[c]: _numeric(table, c, path) for c in PYFEAT_EXTRAS if c in table.columns}
    width = _numeric(table, "FaceRectWidth", path) if "FaceRectWidth" in table.columns else None
    height = _numeric(table, "FaceRectHeight", path) if "FaceRectHeight" in table.columns else None
    score = extras.get("confidence", np.full(len(table), np.nan))
    success = np.ones(len(table), bool)
    for c in values:
        success &= np.isfinite(values[c])
    for box in (width, height):
        if box is not None:
            success &= np.isfinite(box)
    # one face per frame: largest box, then highest FaceScore (missing values rank last)
    area = (width * height) if width is not None and height is not None else np.zeros(len(table))
    area = np.where(success & np.isfinite(area), area, -np.inf)
    order = np.lexsort((-np.nan_to_num(score, nan=-np.inf), -area, frame))
    first = np.r_[True, frame[order][1:] != frame[order][:-1]]
    pick = order[first]
    out = _assemble(frame[pick] / float(fps), success[pick], {k: v[pick] for k, v in values.items()},
                    {k: v[pick] for k, v in extras.items()}, frame[pick])
    _check_success_features(out, list(values) + list(extras), path, pick)
    out.attrs.update(source="pyfeat", file=str(path), rows=int(len(table)), fps=float(fps),
                     dropped_faces=int(len(table) - len(pick)))
    return out


#: Readers by format name.
READERS = {"openface": read_openface, "pyfeat": read_pyfeat}


# --------------------------------------------------------------------------- resampling

def resample(frames: pd.DataFrame, rate: float) -> pd.DataFrame:
    """Resample one answer's frames to ``rate`` frames per second.

    The new frames lie at the multiples of ``1 / rate`` between the first and the last
    ``time_s`` (so every answer resampled at one rate shares one time grid). Each float column
    is linearly interpolated between the *success* frames that carry a finite value. A new
    frame is ``success`` only if an original success frame lies within half a step
    (``0.5 / rate`` seconds) of it; the features of the other new frames are NaN, so a
    tracking gap stays a gap instead of being bridged by interpolation. There is no low-pass
    filter: going far below the tracker's rate samples the signal, it does not average it.

    Parameters
    ----------
    frames : pandas.DataFrame
        One answer's frames: ``time_s`` (increasing), ``success`` and float feature columns;
        a constant ``answer_id`` column is carried over; integer columns (``frame``) are dropped.
    rate : float
        Frames per second of the result.

    Returns
    -------
    pandas.DataFrame
        ``[answer_id,] time_s, success`` and the float columns (float32).

    Raises
    ------
    ValueError
        For a rate that is not positive, several answers, or a ``time_s`` that does not increase.
    """
    rate = float(rate)
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of frames per second, got {rate!r}")
    answer_id = None
    if "answer_id" in frames.columns:
        ids = frames["answer_id"].unique()
        if len(ids) > 1:
            raise ValueError(f"resample works on one answer at a time; got {len(ids)} answers")
        answer_id = ids[0] if len(ids) else None
    time = frames["time_s"].to_numpy(np.float64)
    if len(time) > 1 and np.any(np.diff(time) <= 0):
        raise ValueError("time_s must increase within the answer")
    success = frames["success"].to_numpy(bool)
    columns = [c for c in frames.columns if c not in ("time_s", "success", "answer_id")
               and pd.api.types.is_float_dtype(frames[c])]
    if len(time):
        k0 = int(np.ceil(time[0] * rate - 1e-9))
        k1 = int(np.floor(time[-1] * rate + 1e-9))
        grid = np.arange(k0, k1 + 1) / rate
    else:
        grid = np.zeros(0)
    ok_times = time[success]
    if len(ok_times):
        pos = np.searchsorted(ok_times, grid)
        left = ok_times[np.clip(pos - 1, 0, len(ok_times) - 1)]
        right = ok_times[np.clip(pos, 0, len(ok_times) - 1)]
        nearest = np.minimum(np.abs(grid - left), np.abs(right - grid))
        new_success = nearest <= 0.5 / rate + 1e-9
    else:
        new_success = np.zeros(len(grid), bool)
    out = {"time_s": grid, "success": new_success}
    for col in columns:
        values = frames[col].to_numpy(np.float64)
        ok = success & np.isfinite(values)
        result = np.full(len(grid), np.nan)
        if ok.any():
            result = np.interp(grid, time[ok], values[ok])
            result[~new_success] = np.nan
        out[col] = result.astype(np.float32)
    table = pd.DataFrame(out)
    if answer_id is not None:
        table.insert(0, "answer_id", answer_id)
    return table


# --------------------------------------------------------------------------- corpus import

def _read_manifest(manifest) -> tuple[pd.DataFrame, str]:
    if isinstance(manifest, pd.DataFrame):
        return manifest.copy(), "manifest"
    path = Path(manifest)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such manifest file")
    try:
        table = pd.read_csv(path, dtype={c: str for c in ("answer_id", "candidate_id", "position_id", "file")})
    except pd.errors.EmptyDataError:
        raise CorpusError(f"{path}: the manifest is empty") from None
    return table, str(path)


def import_corpus(folder: str | os.PathLike, manifest, out: str | os.PathLike, format: str = "openface",
                  rate: float | None = None, fps: float | None = None, keep_going: bool = False,
                  progress: bool = True) -> Path:
    """Import a folder of tracker CSV files, one per answer, as a corpus folder.

    Parameters
    ----------
    folder : str or Path
        The folder holding the CSV files.
    manifest : str, Path or pandas.DataFrame
        One row per answer with ``answer_id``, ``candidate_id``, ``position_id``, ``question``,
        ``label`` (see :mod:`toolkit.corpus`), any attribute columns, and optionally ``file``: the
        answer's CSV file relative to ``folder`` (default ``<answer_id>.csv``).
    out : str or Path
        The corpus folder to write.
    format : {"openface", "pyfeat"}
        Which tracker wrote the files (:func:`read_openface`, :func:`read_pyfeat`).
    rate : float, optional
        Resample every answer to this many frames per second (:func:`resample`); by default the
        tracker's frames are kept as they are.
    fps : float, optional
        The videos' frame rate, passed to the reader (required for py-feat unless the videos lie
        beside the CSV files; for OpenFace it replaces ``timestamp`` by ``(frame - 1) / fps``).
    keep_going : bool
        On a file that cannot be imported, record it and go on with the others. The failures
        are written to ``out/failures.csv`` (``answer_id``, ``file``, ``reason``), and their
        answers left out of the corpus. When false (default), the first failure raises and
        nothing is written.
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        The corpus folder; ``corpus.json`` holds ``source``, ``frame_rate``, ``parameters`` and
        ``answers``, ``failed``, ``face_found_rate`` (per answer and overall) as ``extract`` writes them,
        and ``import`` (one report per file: rows read, frames kept, success rate, duration).
        ``failures.csv`` (empty when every file was imported) lists the files left out.

    Raises
    ------
    CorpusError
        On a manifest that breaks the contract, on the first failing file (without
        ``keep_going``; the message names the file and the reason), or when no file at all
        could be imported.
    """
    from tqdm import tqdm

    if format not in READERS:
        raise ValueError(f"unknown format {format!r}; expected one of {', '.join(READERS)}")
    reader = READERS[format]
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder of {format} files")
    table, manifest_name = _read_manifest(manifest)
    checked = _corpus.validate_manifest(table.drop(columns=["file"], errors="ignore"), file=manifest_name, root=out)
    if "file" in table.columns:
        files = [f if isinstance(f, str) and f.strip() else f"{a}.csv"
                 for f, a in zip(table["file"].tolist(), checked["answer_id"])]
    else:
        files = [f"{a}.csv" for a in checked["answer_id"]]
    parts, reports, failures = [], [], []
    bar = tqdm(list(zip(checked["answer_id"], files)), desc=f"import {format}", unit="file", disable=not progress)
    for answer_id, file in bar:
        path = folder / file
        try:
            frames = reader(path, fps=fps)
            rows, attrs = len(frames), dict(frames.attrs)
            if rate is not None:
                frames = resample(frames, rate)
        except (CorpusError, ValueError, OSError) as err:
            reason = str(err)
            if not keep_going:
                source = "" if str(path) in reason else f" from {path}"
                raise CorpusError(f"cannot import answer {answer_id!r}{source}: {reason}") from err
            failures.append({"answer_id": answer_id, "file": str(file), "reason": reason})
            continue
        frames = frames.drop(columns=["answer_id"], errors="ignore")
        frames.attrs = {}
        frames.insert(0, "answer_id", answer_id)
        parts.append(frames)
        success = frames["success"].to_numpy(bool)
        reports.append({
            "answer_id": answer_id, "file": str(file), "rows": int(attrs.get("rows", rows)),
            "frames": int(len(frames)), "success_rate": float(success.mean()) if len(success) else 0.0,
            "duration_s": float(frames["time_s"].iloc[-1] - frames["time_s"].iloc[0]) if len(frames) else 0.0,
            **({"faces": attrs["faces"]} if len(attrs.get("faces", {})) > 1 else {}),
            **({"dropped_faces": attrs["dropped_faces"]} if attrs.get("dropped_faces") else {}),
        })
    bar.close()
    if not parts:
        if failures:
            _io.write_csv(out / "failures.csv", pd.DataFrame(failures))
        raise CorpusError(f"no file could be imported from {folder} ({len(failures)} failures"
                          + (f", listed in {out / 'failures.csv'})" if failures else ")"))
    imported = [r["answer_id"] for r in reports]
    manifest_out = checked[checked["answer_id"].isin(imported)].reset_index(drop=True)
    frames = pd.concat(parts, ignore_index=True)
    # a feature absent from some files (say AU45 in one py-feat version) is NaN there
    float_cols = [c for c in frames.columns if c not in ("answer_id", "time_s", "success")
                  and pd.api.types.is_float_dtype(frames[c])]
    frames[float_cols] = frames[float_cols].astype(np.float32)
    if "frame" in frames.columns and frames["frame"].isna().any():
        frames = frames.drop(columns=["frame"])
    if rate is not None:
        frame_rate = float(rate)
    else:
        steps = frames.groupby("answer_id", sort=False)["time_s"].diff().dropna()
        frame_rate = float(fps) if fps is not None else (float(1.0 / steps.median()) if len(steps) else float("nan"))
    meta = {
        "source": format,
        "frame_rate": frame_rate,
        "parameters": {"format": format, "rate": rate, "fps": fps, "folder": str(folder),
                       "manifest": manifest_name, "keep_going": keep_going},
        "answers": len(reports), "failed": len(failures),
        "face_found_rate": {r["answer_id"]: round(r["success_rate"], 6) for r in reports},
        "face_found_rate_overall": round(float(frames["success"].mean()), 6),
        "import": {"files": reports, "failures": failures},
    }
    corpus = _corpus.validate(_corpus.Corpus(manifest_out, frames, meta, None, out))
    out.mkdir(parents=True, exist_ok=True)
    # a corpus.json marks a complete folder: remove an old one before rewriting the parts
    (out / "corpus.json").unlink(missing_ok=True)
    _io.write_csv(out / "failures.csv", pd.DataFrame(failures, columns=["answer_id", "file", "reason"]))
    return _corpus.save(corpus, out, validate_=False)
