"""Answer videos -> the voice's low-level descriptors with openSMILE eGeMAPSv02 (DESIGN sections 3, 5, 8).

:func:`read_sound` decodes a video's sound track, :func:`descriptors` turns a sound signal into a
table of audio frames, :func:`extract_audio` does both for one video, streaming. The table is the
per-answer block of a corpus's ``audio.parquet``; :func:`toolkit.extract.extract` writes it for a
manifest of videos.

What is measured on each audio frame (every 10 ms, :data:`AUDIO_FPS` frames per second)
    ``time_s`` (the frame's centre, seconds from the start of the video), ``voiced`` (openSMILE
    found a pitch: ``F0semitoneFrom27.5Hz_sma3nz`` > 0) and the 25 low-level descriptors of
    eGeMAPSv02 (:data:`DESCRIPTORS`), named exactly as openSMILE names them, as float32. On
    unvoiced frames openSMILE sets the pitch-based descriptors (those ending in ``_sma3nz``) to 0.

Choices
    * Decoding is offline, with PyAV (FFmpeg's libraries): the first audio stream is resampled by
      libswresample to mono float32 at 16 kHz (the rate openSMILE's eGeMAPS models are usually
      run at; ``rate`` changes it). A file without an audio stream raises :class:`NoSoundError`.
    * Time zero is the video's: a sound track that starts later than the picture (its first
      sample's timestamp minus the video stream's start, as OpenCV counts the frames' ``time_s``)
      has its frames shifted by that much. Gaps inside the sound track are not filled: samples are
      taken as contiguous from the first one.
    * ``time_s`` is ``start + 10 ms`` of openSMILE's 20 ms frames (the centre). openSMILE's Python
      wrapper stretches the last frame's ``end`` to the end of the signal; the centre of that frame
      is still taken on the 10 ms grid, so ``time_s`` steps by exactly 10 ms.
    * Memory stays flat in video length: the sound is processed in chunks of about 60 s, each run
      with 1 s of the neighbouring sound on both sides, keeping only the frames of the chunk
      itself. Most descriptors look at most about 0.1 s around a frame (60 ms pitch windows,
      3-frame smoothing); jitter and shimmer, though, follow the pitch periods from the start of
      a voiced stretch. A chunk therefore ends at an unvoiced frame (the last one within its final
      5 s), where they start afresh, and the chunks concatenate to exactly the frames of the whole
      signal in one pass (``tests/test_audio.py`` checks equality). Speech pauses every few
      seconds; only sound voiced without a break for 5 s around a chunk's end (a hum, singing)
      has no such frame: there the chunk ends at 60 s and the jitter and shimmer of that voiced
      stretch's following frames are measured on another segmentation of its periods (measured on
      12 s of unbroken synthetic voice: the other 23 descriptors identical, jitter and shimmer
      means within 1 %, frame-by-frame correlation 0.84 and 0.50). :func:`extract_audio` streams
      the decoded sound through the chunks; only the output table (about 11 kB per second of
      sound) grows with length.
    * Samples outside [-1, 1) are clipped: openSMILE reads 16-bit integers.
    * One :class:`opensmile.Smile` per process (it only holds the configuration; openSMILE itself
      is started for each chunk).
"""
from __future__ import annotations

import contextlib
import functools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .extract import VideoError

__all__ = [
    "AUDIO_FPS", "SAMPLE_RATE", "FEATURE_SET", "DESCRIPTORS", "VOICING", "COLUMNS", "SoundError", "NoSoundError",
    "read_sound", "descriptors", "extract_audio", "extractor_info",
]

#: Audio frames per second (openSMILE's 10 ms hop).
AUDIO_FPS = 100.0
#: Default sample rate of the decoded sound (Hz).
SAMPLE_RATE = 16000
#: The openSMILE feature set.
FEATURE_SET = "eGeMAPSv02"
#: The 25 eGeMAPSv02 low-level descriptors, in openSMILE's order and spelling.
DESCRIPTORS: tuple[str, ...] = (
    "Loudness_sma3", "alphaRatio_sma3", "hammarbergIndex_sma3", "slope0-500_sma3", "slope500-1500_sma3",
    "spectralFlux_sma3", "mfcc1_sma3", "mfcc2_sma3", "mfcc3_sma3", "mfcc4_sma3",
    "F0semitoneFrom27.5Hz_sma3nz", "jitterLocal_sma3nz", "shimmerLocaldB_sma3nz", "HNRdBACF_sma3nz",
    "logRelF0-H1-H2_sma3nz", "logRelF0-H1-A3_sma3nz",
    "F1frequency_sma3nz", "F1bandwidth_sma3nz", "F1amplitudeLogRelF0_sma3nz",
    "F2frequency_sma3nz", "F2bandwidth_sma3nz", "F2amplitudeLogRelF0_sma3nz",
    "F3frequency_sma3nz", "F3bandwidth_sma3nz", "F3amplitudeLogRelF0_sma3nz",
)
#: The descriptor that says whether a frame is voiced (> 0: a pitch was found).
VOICING = "F0semitoneFrom27.5Hz_sma3nz"
#: All columns of :func:`descriptors` and :func:`extract_audio`, in order.
COLUMNS: tuple[str, ...] = ("time_s", "voiced") + DESCRIPTORS

_HOP_S = 1.0 / AUDIO_FPS
_FRAME_S = 0.020  # openSMILE's eGeMAPS frame length as its index reports it: time_s = start + _FRAME_S / 2
_CHUNK_S = 60.0  # seconds of sound per openSMILE run
_CONTEXT_S = 1.0  # sound on each side of a chunk (the descriptors need about 0.1 s)
_CUT_WINDOW_S = 5.0  # a chunk ends at an unvoiced frame within its last 5 s
_VOICING_AT = DESCRIPTORS.index(VOICING)


class SoundError(VideoError):
    """The sound track of one video cannot be read (missing or corrupt file, undecodable sound)."""


class NoSoundError(SoundError):
    """The video has no sound track (no audio stream, or one without any decodable sample)."""


# --------------------------------------------------------------------------- decoding

def _check_file(path: Path) -> None:
    from .extract import _check_file as check

    check(path, SoundError)


def _check_rate(rate) -> int:
    number = isinstance(rate, (int, np.integer, float, np.floating)) and not isinstance(rate, (bool, np.bool_))
    if not number or not np.isfinite(rate) or rate != int(rate) or rate < 1000 or int(rate) % 100:
        raise ValueError(f"rate must be a whole number of samples per second, a multiple of 100 (a whole number of "
                         f"samples per 10 ms hop) and at least 1000, got {rate!r}; e.g. rate=16000")
    return int(rate)


def _decode(path: Path, rate: int, info: dict):
    """Yield the sound of ``path`` as mono float32 blocks at ``rate`` Hz.

    Sets ``info["start_s"]``: the first sample's time relative to the video stream's start.
    """
    import av

    _check_file(path)
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as err:
        raise SoundError(f"{path}: cannot be opened as a video (corrupt or not a video file: {err})") from None
    with contextlib.closing(container):
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise NoSoundError(f"{path}: no sound track (the file has no audio stream; its streams: "
                               f"{', '.join(kinds)})")
        stream = container.streams.audio[0]
        video_start = 0.0
        if container.streams.video and container.streams.video[0].start_time is not None:
            video = container.streams.video[0]
            video_start = float(video.start_time * video.time_base)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        samples = 0
        try:
            for frame in container.decode(stream):
                if "start_s" not in info:
                    info["start_s"] = (float(frame.time) - video_start) if frame.time is not None else 0.0
                for out in resampler.resample(frame):
                    block = out.to_ndarray().reshape(-1)
                    samples += block.size
                    yield block
            for out in resampler.resample(None):
                block = out.to_ndarray().reshape(-1)
                samples += block.size
                yield block
        except (av.FFmpegError, ValueError) as err:
            raise SoundError(f"{path}: the sound track cannot be decoded ({err})") from None
        if samples == 0:
            raise NoSoundError(f"{path}: no sound track (its audio stream holds no decodable sample)")


def read_sound(path, rate: int = SAMPLE_RATE) -> tuple[np.ndarray, int]:
    """The sound track of a video (or audio file), decoded to mono float32 at ``rate`` Hz.

    Parameters
    ----------
    path : str or Path
        Any file FFmpeg reads; its first audio stream is decoded.
    rate : int
        Samples per second of the result (a multiple of 100).

    Returns
    -------
    signal : numpy.ndarray
        1-D float32 samples in [-1, 1], starting at the sound track's first sample (which may
        start later than the picture; :func:`extract_audio` accounts for that).
    rate : int
        The sample rate.

    Raises
    ------
    NoSoundError
        When the file has no audio stream (or one without any decodable sample).
    SoundError
        When the file is missing, empty, not a media file, or its sound cannot be decoded.
    ValueError
        On a bad ``rate``.
    """
    rate = _check_rate(rate)
    blocks = list(_decode(Path(path), rate, {}))
    return np.concatenate(blocks).astype(np.float32, copy=False), rate


# --------------------------------------------------------------------------- descriptors

@functools.lru_cache(maxsize=1)
def _smile():
    import opensmile

    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                           feature_level=opensmile.FeatureLevel.LowLevelDescriptors)


def _run(segment: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """openSMILE on one segment: (frame start in samples from the segment's start, values float32)."""
    if segment.size == 0:
        return np.empty(0, np.int64), np.empty((0, len(DESCRIPTORS)), np.float32)
    segment = np.clip(segment, -1.0, 32767 / 32768)  # openSMILE reads 16-bit integers: clip, never wrap
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Segment too short")
        table = _smile().process_signal(segment, rate)
    values = table.to_numpy(np.float32)
    starts = table.index.get_level_values("start").total_seconds().to_numpy()
    keep = ~np.isnan(values).all(axis=1)  # a segment shorter than one frame gives one row of NaN
    return np.rint(starts[keep] * rate).astype(np.int64), values[keep]


def _chunks(blocks, rate: int, chunk_s: float = _CHUNK_S, context_s: float = _CONTEXT_S):
    """Stream sample blocks through openSMILE in chunks; yield (frame start sample, values) per chunk.

    A chunk is run with ``context_s`` of sound on both sides (less at the ends of the signal) and
    keeps the frames that start inside it. It ends at the unvoiced frame nearest before its nominal
    end (within the last ``_CUT_WINDOW_S``, or half the chunk), where openSMILE's jitter and shimmer
    forget the past; without one, at the nominal end.
    """
    hop = rate // int(AUDIO_FPS)
    length = max(2, int(round(chunk_s * AUDIO_FPS))) * hop
    context = int(np.ceil(context_s * AUDIO_FPS)) * hop
    window = min(int(round(_CUT_WINDOW_S * AUDIO_FPS)) * hop, length // hop // 2 * hop)
    pending, held, held_from = [], 0, 0  # buffered blocks, their samples, global index of the first
    start = 0  # global index of the next chunk's first sample
    for block in blocks:
        pending.append(np.asarray(block, np.float32))
        held += block.size
        if held_from + held < start + length + context:
            continue
        buffer = pending[0] if len(pending) == 1 else np.concatenate(pending)
        while held_from + buffer.size >= start + length + context:
            first = max(0, start - context)
            frames, values = _run(buffer[first - held_from:start + length + context - held_from], rate)
            frames += first
            cut = _cut(frames, values, start + length - window, start + length)
            inside = (frames >= start) & (frames < cut)
            yield frames[inside], values[inside]
            start = cut
            drop = max(0, start - context - held_from)
            buffer, held_from = buffer[drop:], held_from + drop
        pending, held = [buffer], buffer.size
    buffer = (pending[0] if len(pending) == 1 else np.concatenate(pending)) if pending else np.empty(0, np.float32)
    first = max(0, start - context)
    frames, values = _run(buffer[first - held_from:], rate)
    frames += first
    inside = frames >= start
    yield frames[inside], values[inside]


def _cut(frames: np.ndarray, values: np.ndarray, lowest: int, nominal: int) -> int:
    """Where a chunk ends: the start of the last unvoiced frame in [lowest, nominal], else ``nominal``."""
    unvoiced = (frames >= lowest) & (frames <= nominal) & (values[:, _VOICING_AT] <= 0)
    return int(frames[unvoiced].max()) if unvoiced.any() else nominal


def _table(pieces, rate: int, offset_s: float = 0.0) -> pd.DataFrame:
    frames = [f for f, _ in pieces]
    values = [v for _, v in pieces]
    start = np.concatenate(frames) if frames else np.empty(0, np.int64)
    data = np.vstack(values) if values else np.empty((0, len(DESCRIPTORS)), np.float32)
    table = pd.DataFrame(data, columns=list(DESCRIPTORS))
    table.insert(0, "time_s", (start + _FRAME_S / 2 * rate) / rate + float(offset_s))
    table.insert(1, "voiced", data[:, _VOICING_AT] > 0)
    return table


def descriptors(signal, rate: int = SAMPLE_RATE) -> pd.DataFrame:
    """eGeMAPSv02 low-level descriptors of a sound signal, one row per 10 ms frame.

    Parameters
    ----------
    signal : array-like
        1-D samples in [-1, 1] (values outside are clipped), mono.
    rate : int
        Samples per second (a multiple of 100, at least 1000; 16000 is usual).

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`: ``time_s`` (float64, frame centre in seconds from the signal's start, on
        a 10 ms grid), ``voiced`` (bool) and the :data:`DESCRIPTORS` (float32). A signal shorter
        than one frame gives no row.

    Raises
    ------
    ValueError
        On a signal that is not 1-D, not numeric or not finite, or a bad ``rate``.
    """
    rate = _check_rate(rate)
    array = np.asarray(signal)
    if array.ndim != 1:
        raise ValueError(f"signal must be 1-D (mono samples), got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)) \
            or array.dtype == bool:
        raise ValueError(f"signal must hold numbers (samples in [-1, 1]), got dtype {array.dtype}")
    array = array.astype(np.float32, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(f"signal has a non-finite sample at index {int(np.flatnonzero(bad)[0])}")
    return _table(list(_chunks([array], rate)), rate)


def extract_audio(path, rate: int = SAMPLE_RATE) -> pd.DataFrame:
    """Low-level voice descriptors of one video's sound track, streamed (memory flat in length).

    Parameters
    ----------
    path : str or Path
        The video file (any format FFmpeg reads).
    rate : int
        Sample rate the sound is decoded at before openSMILE.

    Returns
    -------
    pandas.DataFrame
        As :func:`descriptors`, with ``time_s`` in seconds from the start of the video (the sound
        track's own start added). ``attrs`` holds ``sound_start_s`` and ``sound_duration_s``.

    Raises
    ------
    NoSoundError
        When the video has no sound track.
    SoundError
        When the file cannot be read or its sound cannot be decoded.
    ValueError
        On a bad ``rate``.
    """
    rate = _check_rate(rate)
    info: dict = {}
    counted = [0]

    def blocks():
        for block in _decode(Path(path), rate, info):
            counted[0] += block.size
            yield block

    pieces = list(_chunks(blocks(), rate))
    table = _table(pieces, rate, info.get("start_s", 0.0))
    table.attrs.update(sound_start_s=float(info.get("start_s", 0.0)), sound_duration_s=counted[0] / rate)
    return table


def extractor_info(rate: int = SAMPLE_RATE) -> dict:
    """What made the descriptors, for ``corpus.json``: openSMILE's version, feature set, level, sample rate."""
    import opensmile

    return {"name": "opensmile", "opensmile_version": str(opensmile.__version__), "feature_set": FEATURE_SET,
            "level": "lld", "sample_rate": _check_rate(rate)}
