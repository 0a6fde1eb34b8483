"""The corpus: one folder that every stage reads and writes (DESIGN section 3).

A corpus folder holds

``manifest.csv``
    one row per answer: ``answer_id``, ``candidate_id``, ``position_id``, ``question``
    (1-based), ``label`` (0/1, the same on all of a candidate's answers); optional
    ``video``, ``duration_s``, grouping and attribute columns.
``frames.parquet``
    a file, or a folder of parquet files: one row per analysed frame: ``answer_id``,
    ``time_s``, ``success``, then float feature columns (canonical AU names, extras allowed).
``corpus.json``
    frame rate, feature source, generator or extractor parameters, toolkit version.
``episodes.csv``
    simulated corpora only: ground-truth key moments ``answer_id, kind, start_s, end_s``
    (and ``modality``, ``face`` or ``voice``, when the corpus has a voice).
``audio.parquet``
    optional, a file or a folder of parquet files: one row per audio frame: ``answer_id``,
    ``time_s`` (frame centre), ``voiced`` (bool), then float columns named as openSMILE's
    eGeMAPSv02 low-level descriptors name them; the audio frame rate is ``audio_fps`` in
    ``corpus.json``. :meth:`Corpus.modality` gives the voice as a corpus of its own.

Every reader validates and fails with a :class:`CorpusError` naming the file, the row and
the column. Every writer writes to a temporary name and renames.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from . import _io
from .vocabulary import AUS

__all__ = ["Corpus", "CorpusError", "load", "save", "validate", "planted", "REQUIRED_MANIFEST", "REQUIRED_FRAMES",
           "REQUIRED_AUDIO", "MODALITIES"]

REQUIRED_MANIFEST = ("answer_id", "candidate_id", "position_id", "question", "label")
REQUIRED_FRAMES = ("answer_id", "time_s", "success")
REQUIRED_AUDIO = ("answer_id", "time_s", "voiced")
#: The streams a corpus can hold: facial features (``frames.parquet``) and the voice (``audio.parquet``).
MODALITIES = ("face", "voice")
EPISODE_COLUMNS = ("answer_id", "kind", "start_s", "end_s")
_ID_COLUMNS = ("answer_id", "candidate_id", "position_id")


class CorpusError(ValueError):
    """A corpus file breaks the contract; the message names the file, the row and the column."""


def _show(value) -> str:
    """A value as the user wrote it (no numpy repr such as ``np.int64(7)``)."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _where(file: str, row: int | None = None, column: str | None = None) -> str:
    parts = [file]
    if row is not None:
        # Row numbers count data rows from 1; for CSV files the line number adds the header.
        parts.append(f"row {row + 1}" + (f" (line {row + 2})" if file.endswith(".csv") else ""))
    if column is not None:
        parts.append(f"column '{column}'")
    return ", ".join(parts)


@dataclass
class Corpus:
    """Answers (``manifest``), their analysed frames (``frames``) and metadata (``meta``).

    Parameters
    ----------
    manifest : pandas.DataFrame
        One row per answer (see the module docstring).
    frames : pandas.DataFrame
        One row per analysed frame, sorted by answer then ``time_s``.
    meta : dict
        The content of ``corpus.json``.
    episodes : pandas.DataFrame, optional
        Ground-truth key moments of a simulated corpus.
    path : pathlib.Path, optional
        The folder the corpus was loaded from, if any.
    audio : pandas.DataFrame, optional
        One row per audio frame (``answer_id``, ``time_s``, ``voiced``, descriptors), sorted by
        answer then ``time_s``.
    """

    manifest: pd.DataFrame
    frames: pd.DataFrame
    meta: dict = field(default_factory=dict)
    episodes: pd.DataFrame | None = None
    path: Path | None = None
    audio: pd.DataFrame | None = None

    @property
    def features(self) -> list[str]:
        """Feature columns of ``frames``: canonical AUs first (vocabulary order), then extras."""
        numeric = [
            c for c in self.frames.columns
            if c not in REQUIRED_FRAMES and pd.api.types.is_float_dtype(self.frames[c])
        ]
        aus = [au for au in AUS if au in numeric]
        return aus + [c for c in numeric if c not in aus]

    @property
    def aus(self) -> list[str]:
        """Canonical action-unit columns present in ``frames``."""
        return [au for au in AUS if au in self.frames.columns]

    @property
    def frame_rate(self) -> float:
        """Analysed frames per second, from ``meta`` or estimated from ``time_s``."""
        if "frame_rate" in self.meta:
            return float(self.meta["frame_rate"])
        dt = self.frames.groupby("answer_id", sort=False)["time_s"].diff().median()
        return float(1.0 / dt) if dt and np.isfinite(dt) else float("nan")

    @property
    def candidates(self) -> pd.DataFrame:
        """One row per candidate: ``candidate_id``, ``position_id``, ``label`` and attribute columns."""
        answer_level = {"answer_id", "question", "video", "duration_s"}
        cols = [c for c in self.manifest.columns if c not in answer_level]
        return self.manifest[cols].drop_duplicates("candidate_id").reset_index(drop=True)

    def answer_frames(self, answer_id: str) -> pd.DataFrame:
        """The frames of one answer (a view in time order)."""
        index = self._index()
        if answer_id not in index:
            raise KeyError(f"answer_id {answer_id!r} has no frames in this corpus")
        start, stop = index[answer_id]
        return self.frames.iloc[start:stop]

    def iter_answers(self, columns: list[str] | None = None) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
        """Yield ``(answer_id, time_s, X, success)`` per answer in manifest order.

        ``X`` is a float32 array of the requested feature columns (default: :attr:`features`).
        Answers without frames yield empty arrays.
        """
        columns = list(columns or self.features)
        index = self._index()
        values = self.frames[columns].to_numpy(np.float32)
        times = self.frames["time_s"].to_numpy(np.float64)
        success = self.frames["success"].to_numpy(bool)
        for answer_id in self.manifest["answer_id"]:
            start, stop = index.get(answer_id, (0, 0))
            yield answer_id, times[start:stop], values[start:stop], success[start:stop]

    def _index(self) -> dict[str, tuple[int, int]]:
        cached = self.__dict__.get("_index_cache")
        if cached is not None and cached[0] is self.frames:
            return cached[1]
        ids = self.frames["answer_id"].to_numpy()
        if len(ids) == 0:
            result: dict[str, tuple[int, int]] = {}
        else:
            change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
            starts = np.r_[0, change]
            stops = np.r_[change, len(ids)]
            result = {ids[s]: (int(s), int(e)) for s, e in zip(starts, stops)}
        self.__dict__["_index_cache"] = (self.frames, result)
        return result

    def subset(self, answer_ids=None, candidate_ids=None) -> "Corpus":
        """A new corpus restricted to some answers or candidates (episodes follow)."""
        manifest = self.manifest
        if candidate_ids is not None:
            manifest = manifest[manifest["candidate_id"].isin(set(candidate_ids))]
        if answer_ids is not None:
            manifest = manifest[manifest["answer_id"].isin(set(answer_ids))]
        keep = set(manifest["answer_id"])
        frames = self.frames[self.frames["answer_id"].isin(keep)].reset_index(drop=True)
        episodes = None
        if self.episodes is not None:
            episodes = self.episodes[self.episodes["answer_id"].isin(keep)].reset_index(drop=True)
        audio = None
        if self.audio is not None:
            audio = self.audio[self.audio["answer_id"].isin(keep)].reset_index(drop=True)
        return Corpus(manifest.reset_index(drop=True), frames, dict(self.meta), episodes, None, audio)

    @property
    def audio_features(self) -> list[str]:
        """Descriptor columns of ``audio`` (empty without audio)."""
        if self.audio is None:
            return []
        return [c for c in self.audio.columns if c not in REQUIRED_AUDIO and pd.api.types.is_float_dtype(self.audio[c])]

    def modality(self, name: str) -> "Corpus":
        """The corpus as one stream: ``"face"`` (this corpus) or ``"voice"``.

        The voice is a corpus of its own whose frames are the audio frames (``success`` true on
        every one, ``voiced`` as a 0/1 feature, then the descriptors), whose frame rate is
        ``audio_fps`` and whose episodes are the voice's; every stage runs on it unchanged.

        Raises
        ------
        CorpusError
            For a corpus without audio, or an unknown modality.
        """
        if name not in MODALITIES:
            raise ValueError(f"modality: expected one of {', '.join(MODALITIES)}, got {name!r}")
        current = self.meta.get("modality", "face")
        if name == current:
            return self
        if name == "face":
            raise CorpusError("this corpus is already a single stream (the voice); use the corpus it came from")
        if self.audio is None:
            where = f"{self.path}: " if self.path is not None else ""
            raise CorpusError(f"{where}the corpus has no audio.parquet, so it has no voice; extract it from videos "
                              f"with sound (python -m toolkit extract) or simulate one with a voice")
        audio = self.audio
        frames = audio[["answer_id", "time_s"]].assign(success=True, voiced=audio["voiced"].astype(np.float32))
        frames = pd.concat([frames, audio[self.audio_features]], axis=1)
        meta = {**self.meta, "modality": "voice", "frame_rate": float(self.audio_rate),
                "face_frame_rate": float(self.frame_rate)}
        episodes = None
        if self.episodes is not None and "modality" in self.episodes.columns:
            episodes = self.episodes[self.episodes["modality"] == "voice"].reset_index(drop=True)
        voice = Corpus(self.manifest, frames, meta, episodes, None)
        voice.__dict__["_source"] = self
        return voice

    @property
    def audio_rate(self) -> float:
        """Audio frames per second (``audio_fps`` of ``corpus.json``, else estimated from ``time_s``)."""
        if "audio_fps" in self.meta:
            return float(self.meta["audio_fps"])
        if self.audio is None or len(self.audio) < 2:
            return float("nan")
        dt = self.audio.groupby("answer_id", sort=False)["time_s"].diff().median()
        return float(1.0 / dt) if dt and np.isfinite(dt) else float("nan")

    def save(self, folder: str | Path) -> Path:
        """Write this corpus as a corpus folder (nothing to do when it was loaded from there)."""
        folder = Path(folder)
        if self.path is not None and Path(self.path).resolve() == folder.resolve():
            return folder
        return save(self, folder)

    @classmethod
    def load(cls, folder: str | Path) -> "Corpus":
        """Read and validate a corpus folder (:func:`load`)."""
        return load(folder)

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"Corpus({len(m)} answers, {m['candidate_id'].nunique()} candidates, "
            f"{m['position_id'].nunique()} positions, {len(self.frames)} frames, "
            f"source={self.meta.get('source', '?')!r})"
        )


# --------------------------------------------------------------------------- validation

def validate_manifest(manifest: pd.DataFrame, file: str = "manifest.csv", root: Path | None = None) -> pd.DataFrame:
    """Check a manifest table and return it with normalised dtypes.

    Raises
    ------
    CorpusError
        On a missing required column, an empty table, a missing or duplicate ``answer_id``,
        a non-integer ``question``, a label not 0/1 or different across a candidate's answers,
        or a ``video`` path outside the corpus folder.
    """
    missing = [c for c in REQUIRED_MANIFEST if c not in manifest.columns]
    if missing:
        raise CorpusError(f"{file}: missing required column(s) {', '.join(repr(c) for c in missing)}; "
                          f"found {list(manifest.columns)}")
    if len(manifest) == 0:
        raise CorpusError(f"{file}: the corpus is empty (no answers)")
    manifest = manifest.reset_index(drop=True).copy()
    for col in _ID_COLUMNS:
        bad = manifest[col].isna() | (manifest[col].astype(str).str.strip() == "")
        if bad.any():
            raise CorpusError(f"{_where(file, int(np.flatnonzero(bad)[0]), col)}: empty value")
        manifest[col] = manifest[col].astype(str)
    dup = manifest["answer_id"].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero(manifest["answer_id"] == manifest["answer_id"][row])[0])
        raise CorpusError(f"{_where(file, row, 'answer_id')}: duplicate answer_id "
                          f"{manifest['answer_id'][row]!r} (first at row {first + 1})")
    question = pd.to_numeric(manifest["question"], errors="coerce")
    bad = question.isna() | (question < 1) | (question != np.round(question))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CorpusError(f"{_where(file, row, 'question')}: expected a 1-based integer, "
                          f"got {_show(manifest['question'][row])}")
    manifest["question"] = question.astype(int)
    label = pd.to_numeric(manifest["label"], errors="coerce")
    bad = ~label.isin([0, 1])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CorpusError(f"{_where(file, row, 'label')}: expected 0 or 1, got {_show(manifest['label'][row])}")
    manifest["label"] = label.astype(int)
    first_label = manifest.groupby("candidate_id")["label"].transform("first")
    differs = manifest["label"] != first_label
    if differs.any():
        row = int(np.flatnonzero(differs)[0])
        cand = manifest["candidate_id"][row]
        first = int(np.flatnonzero(manifest["candidate_id"] == cand)[0])
        raise CorpusError(f"{_where(file, row, 'label')}: candidate {cand!r} has label {manifest['label'][row]} "
                          f"here but {first_label[row]} on row {first + 1}; the label is the candidate's outcome "
                          f"and must be the same on all of its answers")
    if "video" in manifest.columns:
        for row, video in enumerate(manifest["video"]):
            if pd.isna(video) or str(video).strip() == "":
                continue
            p = Path(str(video))
            if p.is_absolute() or ".." in p.parts:
                raise CorpusError(f"{_where(file, row, 'video')}: {str(video)!r} lies outside the corpus folder; "
                                  f"give a path relative to the folder, without '..'")
            if root is not None:
                resolved = (root / p).resolve()
                if not resolved.is_relative_to(root.resolve()):
                    raise CorpusError(f"{_where(file, row, 'video')}: {str(video)!r} lies outside the corpus folder")
    if "duration_s" in manifest.columns:
        manifest["duration_s"] = pd.to_numeric(manifest["duration_s"], errors="coerce")
    return manifest


def validate_frames(frames: pd.DataFrame, answer_ids, file: str = "frames.parquet") -> pd.DataFrame:
    """Check a frames table against the manifest's answers; return it sorted by answer, time.

    Raises
    ------
    CorpusError
        On a missing required column, frames of an unknown answer, a ``time_s`` that does
        not increase within an answer, or a non-finite feature on a ``success`` frame.
    """
    missing = [c for c in REQUIRED_FRAMES if c not in frames.columns]
    if missing:
        raise CorpusError(f"{file}: missing required column(s) {', '.join(repr(c) for c in missing)}")
    frames = frames.reset_index(drop=True)
    frames = frames.assign(answer_id=frames["answer_id"].astype(str))
    known = pd.Index(pd.Series(list(answer_ids), dtype=str))
    unknown = ~frames["answer_id"].isin(known)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise CorpusError(f"{_where(file, row, 'answer_id')}: frames of unknown answer "
                          f"{frames['answer_id'][row]!r} (not in manifest.csv)")
    if frames["success"].dtype != bool:
        s = frames["success"]
        if not s.isin([0, 1, True, False]).all():
            row = int(np.flatnonzero(~s.isin([0, 1, True, False]))[0])
            raise CorpusError(f"{_where(file, row, 'success')}: expected a boolean, got {_show(s[row])}")
        frames["success"] = s.astype(bool)
    time = pd.to_numeric(frames["time_s"], errors="coerce").astype(float)
    if not np.isfinite(time).all():
        row = int(np.flatnonzero(~np.isfinite(time))[0])
        raise CorpusError(f"{_where(file, row, 'time_s')}: not a finite number")
    frames["time_s"] = time
    # time must increase within each answer, in file order; answers are contiguous blocks
    same = frames["answer_id"].to_numpy()[1:] == frames["answer_id"].to_numpy()[:-1]
    bad = same & (np.diff(time.to_numpy()) <= 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise CorpusError(f"{_where(file, row, 'time_s')}: time_s does not increase within answer "
                          f"{frames['answer_id'][row]!r} ({time[row - 1]} then {time[row]})")
    starts = frames["answer_id"].ne(frames["answer_id"].shift())
    if frames.loc[starts, "answer_id"].duplicated().any():
        row = int(np.flatnonzero(starts & frames["answer_id"].duplicated())[0])
        raise CorpusError(f"{_where(file, row, 'answer_id')}: the frames of answer "
                          f"{frames['answer_id'][row]!r} are not contiguous")
    feature_cols = [c for c in frames.columns if c not in REQUIRED_FRAMES and c not in _ID_COLUMNS]
    success = frames["success"].to_numpy(bool)
    for col in feature_cols:
        if not pd.api.types.is_numeric_dtype(frames[col]) or pd.api.types.is_bool_dtype(frames[col]):
            if col in AUS:
                raise CorpusError(f"{_where(file, None, col)}: expected numbers (AU intensities), "
                                  f"got {frames[col].dtype}")
            continue
        if col in AUS and not pd.api.types.is_float_dtype(frames[col]):
            frames[col] = frames[col].astype(np.float32)
        values = frames[col].to_numpy(np.float64)
        bad = success & ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise CorpusError(f"{_where(file, row, col)}: non-finite value {values[row]} on a frame "
                              f"where success is true")
    # order answers as in the manifest
    order = pd.Series(np.arange(len(known)), index=known)
    rank = order.reindex(frames["answer_id"]).to_numpy()
    if len(rank) and np.any(np.diff(rank) < 0):
        frames = frames.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
    return frames


def validate_episodes(episodes: pd.DataFrame, answer_ids, file: str = "episodes.csv") -> pd.DataFrame:
    """Check a ground-truth episodes table."""
    missing = [c for c in EPISODE_COLUMNS if c not in episodes.columns]
    if missing:
        raise CorpusError(f"{file}: missing required column(s) {', '.join(repr(c) for c in missing)}")
    episodes = episodes.reset_index(drop=True).copy()
    episodes["answer_id"] = episodes["answer_id"].astype(str)
    unknown = ~episodes["answer_id"].isin(set(map(str, answer_ids)))
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise CorpusError(f"{_where(file, row, 'answer_id')}: unknown answer {episodes['answer_id'][row]!r}")
    for col in ("start_s", "end_s"):
        v = pd.to_numeric(episodes[col], errors="coerce")
        if v.isna().any():
            row = int(np.flatnonzero(v.isna())[0])
            raise CorpusError(f"{_where(file, row, col)}: not a number")
        episodes[col] = v.astype(float)
    bad = episodes["end_s"] <= episodes["start_s"]
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CorpusError(f"{_where(file, row, 'end_s')}: end_s must be after start_s")
    return episodes


def validate(corpus: Corpus) -> Corpus:
    """Validate all parts of a corpus in memory; return a normalised corpus.

    Raises
    ------
    CorpusError
        With a message naming the file, the row and the column of the first problem.
    """
    manifest = validate_manifest(corpus.manifest, root=corpus.path)
    frames = validate_frames(corpus.frames, manifest["answer_id"])
    episodes = None
    if corpus.episodes is not None:
        episodes = validate_episodes(corpus.episodes, manifest["answer_id"])
    audio = None
    if corpus.audio is not None:
        audio = validate_audio(corpus.audio, manifest["answer_id"])
    return Corpus(manifest, frames, dict(corpus.meta), episodes, corpus.path, audio)


def validate_audio(audio: pd.DataFrame, answer_ids, file: str = "audio.parquet") -> pd.DataFrame:
    """Check an audio table (``answer_id``, ``time_s``, ``voiced``, descriptors); return it sorted.

    Raises
    ------
    CorpusError
        On a missing required column, rows of an unknown answer, a ``time_s`` that does not
        increase within an answer, a ``voiced`` that is not boolean, a descriptor that is not a
        number or a non-finite descriptor.
    """
    missing = [c for c in REQUIRED_AUDIO if c not in audio.columns]
    if missing:
        raise CorpusError(f"{file}: missing required column(s) {', '.join(repr(c) for c in missing)}")
    audio = audio.reset_index(drop=True)
    renamed = audio.rename(columns={"voiced": "success"})
    for col in renamed.columns:
        if col in REQUIRED_FRAMES or col in _ID_COLUMNS:
            continue
        if not pd.api.types.is_numeric_dtype(renamed[col]) or pd.api.types.is_bool_dtype(renamed[col]):
            raise CorpusError(f"{_where(file, None, col)}: expected numbers (an openSMILE descriptor), "
                              f"got {renamed[col].dtype}")
        values = renamed[col].to_numpy(np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise CorpusError(f"{_where(file, row, col)}: non-finite value {values[row]}")
        if not pd.api.types.is_float_dtype(renamed[col]):
            renamed[col] = renamed[col].astype(np.float32)
    try:
        checked = validate_frames(renamed, answer_ids, file=file)
    except CorpusError as err:
        raise CorpusError(str(err).replace("'success'", "'voiced'")) from None
    return checked.rename(columns={"success": "voiced"})


def planted(corpus: Corpus) -> pd.DataFrame | None:
    """The ground-truth episodes of the corpus's own stream (face, or the voice of a voice corpus)."""
    episodes = corpus.episodes
    if episodes is None or "modality" not in episodes.columns:
        return episodes
    mine = episodes["modality"].astype(str) == corpus.meta.get("modality", "face")
    return episodes[mine].reset_index(drop=True)


# --------------------------------------------------------------------------- load / save

def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={c: str for c in _ID_COLUMNS}, keep_default_na=True)
    except pd.errors.EmptyDataError:
        raise CorpusError(f"{path.name}: the file is empty") from None
    except pd.errors.ParserError as err:
        raise CorpusError(f"{path.name}: cannot be parsed as CSV ({' '.join(str(err).split())})") from None


def _read_frames(path: Path) -> pd.DataFrame:
    if path.is_dir():
        parts = sorted(path.glob("*.parquet"))
        if not parts:
            raise CorpusError(f"{path.name}/: the folder holds no parquet files")
        tables = []
        for part in parts:
            try:
                tables.append(pd.read_parquet(part))
            except Exception as err:  # noqa: BLE001 - report which file is broken
                raise CorpusError(f"{path.name}/{part.name}: cannot be read as parquet ({err})") from None
        return pd.concat(tables, ignore_index=True)
    try:
        return pd.read_parquet(path)
    except Exception as err:  # noqa: BLE001
        raise CorpusError(f"{path.name}: cannot be read as parquet ({err})") from None


def load(path: str | Path, validate_frames_: bool = True) -> Corpus:
    """Load and validate a corpus folder.

    Parameters
    ----------
    path : str or Path
        The corpus folder (holding ``manifest.csv``, ``frames.parquet`` and ``corpus.json``).
    validate_frames_ : bool
        Check every frame (default). Turn off only for trusted, very large corpora.

    Returns
    -------
    Corpus

    Raises
    ------
    CorpusError
        If a file is missing or breaks the contract; the message names file, row and column.
    """
    root = Path(path)
    if not root.is_dir():
        raise CorpusError(f"{root}: no such corpus folder")
    manifest_path = root / "manifest.csv"
    if not manifest_path.exists():
        raise CorpusError(f"{root}: manifest.csv is missing")
    manifest = validate_manifest(_read_csv(manifest_path), root=root)
    frames_path = root / "frames.parquet"
    if not frames_path.exists():
        raise CorpusError(f"{root}: frames.parquet is missing")
    frames = _read_frames(frames_path)
    if validate_frames_:
        frames = validate_frames(frames, manifest["answer_id"])
    if not (root / "corpus.json").exists():
        # save() writes corpus.json last: without it the folder is incomplete.
        raise CorpusError(f"{root}: corpus.json is missing, so the folder is incomplete (an interrupted "
                          f"write) or not a corpus; write corpora with toolkit.corpus.save")
    try:
        meta = json.loads((root / "corpus.json").read_text())
    except json.JSONDecodeError as err:
        raise CorpusError(f"corpus.json: invalid JSON ({err})") from None
    episodes = None
    if (root / "episodes.csv").exists():
        episodes = validate_episodes(_read_csv(root / "episodes.csv"), manifest["answer_id"])
    audio = None
    if (root / "audio.parquet").exists():
        audio = _read_frames(root / "audio.parquet")
        if validate_frames_:
            audio = validate_audio(audio, manifest["answer_id"])
    return Corpus(manifest, frames, meta, episodes, root, audio)


def save(corpus: Corpus, path: str | Path, validate_: bool = True) -> Path:
    """Write a corpus folder; each file is written atomically.

    ``frames.parquet`` and ``manifest.csv`` are written first and ``corpus.json`` last, so a
    folder with a ``corpus.json`` is complete.

    Returns
    -------
    pathlib.Path
        The corpus folder.
    """
    from . import __version__

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    if validate_:
        corpus = validate(Corpus(corpus.manifest, corpus.frames, corpus.meta, corpus.episodes, root, corpus.audio))
    # The folder counts as incomplete until corpus.json is written again, last.
    (root / "corpus.json").unlink(missing_ok=True)
    frames_path = root / "frames.parquet"
    if frames_path.is_dir():
        shutil.rmtree(frames_path)
    _io.write_parquet(frames_path, corpus.frames)
    audio_path = root / "audio.parquet"
    if audio_path.is_dir():
        shutil.rmtree(audio_path)
    if corpus.audio is not None:
        _io.write_parquet(audio_path, corpus.audio)
    else:
        audio_path.unlink(missing_ok=True)
    _io.write_csv(root / "manifest.csv", corpus.manifest)
    if corpus.episodes is not None:
        _io.write_csv(root / "episodes.csv", corpus.episodes)
    else:
        (root / "episodes.csv").unlink(missing_ok=True)
    meta = {"toolkit_version": __version__, **corpus.meta}
    _io.write_json(root / "corpus.json", meta)
    corpus.path = root
    return root


def exclude_untracked(corpus: Corpus, strict: bool = False) -> tuple[Corpus, pd.DataFrame]:
    """Leave out the answers without any tracked frame, and the candidates left with no answer.

    Real tracker output has dead clips: a candidate whose face was never found, an answer with no
    frame at all. They carry nothing to learn from, so they are left out and reported.

    Parameters
    ----------
    corpus : Corpus
    strict : bool
        Raise instead of leaving anything out.

    Returns
    -------
    (Corpus, pandas.DataFrame)
        The usable corpus (``corpus`` itself when nothing is left out) and the table of what was left
        out: ``candidate_id``, ``answer_id`` (empty for a whole candidate), ``reason``.

    Raises
    ------
    CorpusError
        With ``strict``, naming the first answers or candidates without a tracked frame.
    """
    columns = ["candidate_id", "answer_id", "reason"]
    tracked = corpus.frames.loc[corpus.frames["success"].astype(bool), "answer_id"]
    counts = tracked.value_counts()
    has_rows = set(corpus.frames["answer_id"].unique())
    m = corpus.manifest
    dead = m[~m["answer_id"].isin(counts.index)]
    if dead.empty:
        return corpus, pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    reason = np.where(dead["answer_id"].isin(has_rows), "no frame with a tracked face (success false on every frame)",
                      "no frame in frames.parquet")
    rows = pd.DataFrame({"candidate_id": dead["candidate_id"].astype(str).to_numpy(),
                         "answer_id": dead["answer_id"].astype(str).to_numpy(), "reason": reason})
    keep = m[m["answer_id"].isin(counts.index)]
    lost = sorted(set(m["candidate_id"].astype(str)) - set(keep["candidate_id"].astype(str)))
    if strict:
        what = (f"candidate(s) {', '.join(lost[:5])} have no tracked frame in any answer" if lost else
                f"answer(s) {', '.join(rows['answer_id'].head(5))} have no tracked frame")
        raise CorpusError(f"frames.parquet: {what}; without --strict they are left out and listed in excluded.csv")
    whole = pd.DataFrame({"candidate_id": lost, "answer_id": [""] * len(lost),
                          "reason": ["no tracked frame in any answer"] * len(lost)})
    partial = rows[~rows["candidate_id"].isin(lost)]
    table = pd.concat([whole, partial], ignore_index=True)[columns].astype("string")
    return corpus.subset(answer_ids=keep["answer_id"]), table
