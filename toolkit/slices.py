"""Attention slices, random slices and their facial features (DESIGN sections 1 and 6).

An *attention slice* is the stretch of an answer around the highest peak of an attention
curve. The rule, which the paper leaves partly open and which we fix here:

1. smooth the curve with a moving average over ``smooth_s`` = 0.5 s (in time, so missing
   frames are handled);
2. the uniform level is :math:`1/T`, with :math:`T` the number of frames that carry a weight
   (weights are first normalised to sum to 1 over the answer);
3. among the local maxima of the smoothed curve (a maximum at the first or last frame counts),
   keep the highest one above the uniform level;
4. its boundaries are where the smoothed curve falls to half the peak's prominence (as
   ``scipy.signal.peak_prominences`` and ``peak_widths`` at ``rel_height=0.5`` define them; a
   peak at the first or last frame has one side only, which alone sets its base);
5. the duration is clipped to [``min_s``, ``max_s``] = [0.5, 4] s: a slice that is too short
   grows symmetrically around its centre (shifted back inside the answer at an edge), a
   slice that is too long shrinks to ``max_s`` centred on the peak, staying inside the
   half-prominence boundaries.

*Random slices* are duration-matched to their answer's attention slice, with a start drawn
uniformly within the answer (optionally outside the attention slice). The same code runs on
any attention-like table (``answer_id``, ``time_s``, ``weight``): HireNet attention, the
label-free salience score (:func:`toolkit.salience.salience`), untrained-network attention.

*Slice features* compare a slice with the same person's usual (DESIGN section 4): per AU the
slice mean minus the answer mean (``AUxx_delta``), the slice standard deviation
(``AUxx_std``), and the fraction of slice frames where the AU is active (``AUxx_active``).
"""
from __future__ import annotations

import json
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import find_peaks

from . import _io

__all__ = [
    "SLICE_COLUMNS", "SliceSet", "smooth", "peaks_above_uniform", "find_slice", "attention_slice", "extract",
    "features", "feature_columns",
]

#: The columns of a slices table, in order (``slices.parquet``); extras follow them.
SLICE_COLUMNS = ("slice_id", "answer_id", "candidate_id", "kind", "start_s", "end_s")

_REL_TOL = 1e-6  # a peak must exceed the uniform level by this relative margin


# --------------------------------------------------------------------------- the slice rule

def smooth(time_s, weight, smooth_s: float = 0.5) -> np.ndarray:
    """Moving average of ``weight`` over a window of ``smooth_s`` seconds, edge-corrected.

    The window is in time, not in frames, so irregular or missing frames are handled:
    a frame gets the mean of the weights whose time lies within ``smooth_s / 2`` of it.

    Near the answer's first and last frames that centred window would stick out of the
    answer and hold fewer frames; the mean of fewer frames varies more, so pure noise would
    peak there more often than in the interior. Instead, each such frame takes the value of
    the nearest frame whose window fits inside the answer: the window is shifted inwards, as
    ``scipy.signal.savgol_filter(..., polyorder=0, mode="interp")`` does on a regular grid.
    Every smoothed value is then a mean over a full-width window, and frames in the first
    (last) half-window share the value of the first (last) full window. A frame that this
    nearest full window does not hold (the last frames after a tracking gap longer than the
    window) gets a full-width window ending (starting) at it instead. A window fits when
    it reaches less than one frame interval (``time_s[1] - time_s[0]`` at the start, the last
    interval at the end) beyond the answer's first or last frame, so on a regular grid it
    holds as many frames as in the interior. Interior values are those of the plain centred
    moving average. An answer too short for any full window gets the mean of all its weights
    at every frame.

    (Reflected padding, numpy's ``pad`` modes ``"reflect"`` and ``"symmetric"``, does not
    remove the bias: counting some frames twice makes the edge means vary even more.)

    Parameters
    ----------
    time_s, weight : array-like
        Frame times (increasing) and weights of one answer.
    smooth_s : float
        Window width in seconds; 0 returns the weights unchanged.

    Returns
    -------
    numpy.ndarray
        The smoothed weights (float64), one per frame.
    """
    t = np.asarray(time_s, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if smooth_s <= 0 or len(w) == 0:
        return w.copy()
    n = len(w)
    half = smooth_s / 2 + 1e-9  # include frames exactly at the window edge despite rounding
    lo = np.searchsorted(t, t - half, side="left")
    hi = np.searchsorted(t, t + half, side="right")
    csum = np.r_[0.0, np.cumsum(w)]
    if n < 2:
        return (csum[hi] - csum[lo]) / (hi - lo)
    # A frame's window sticks out when it reaches one frame interval beyond the first (last)
    # frame, i.e. when padding mirrored about that frame would add frames to it.
    first = int(np.searchsorted(t, 2 * t[0] - t[1] + half, side="right"))     # first that fits
    last = int(np.searchsorted(t, 2 * t[-1] - t[-2] - half, side="left")) - 1  # last that fits
    if first > last:
        return np.full(n, csum[-1] / n)
    index = np.arange(n)
    nearest = np.clip(index, first, last)
    out_lo, out_hi = lo[nearest], hi[nearest]
    # After a tracking gap the nearest full window may not hold the frame at all: such a frame
    # gets a full-width window that starts (ends) at it instead.
    away = np.abs(t - t[nearest]) > half
    if away.any():
        at_start = away & (index < first)
        at_end = away & (index > last)
        out_lo = np.where(at_start, index, np.where(at_end, np.searchsorted(t, t - 2 * half, side="left"), out_lo))
        out_hi = np.where(at_start, np.searchsorted(t, t + 2 * half, side="right"), np.where(at_end, index + 1, out_hi))
    return (csum[out_hi] - csum[out_lo]) / (out_hi - out_lo)


def find_slice(time_s, weight, smooth_s: float = 0.5, min_s: float = 0.5, max_s: float = 4.0,
               edge_discount_s: float = 0.0) -> tuple[dict | None, str]:
    """Apply the slice rule to one answer's attention curve; say why when no slice qualifies.

    Parameters
    ----------
    time_s, weight : array-like
        Frame times in seconds (increasing) and attention weights of one answer. Frames whose
        weight is NaN (e.g. no face measured) are ignored; the others are normalised to sum
        to 1, so the uniform level is :math:`1/T` with :math:`T` the frames carrying a weight.
    smooth_s : float
        Width of the moving average, in seconds.
    min_s, max_s : float
        Duration limits of a slice, in seconds.
    edge_discount_s : float
        Peaks lying within this many seconds of the answer's first or last frame are
        *excluded* (not merely down-weighted): the highest remaining peak is taken. 0 keeps
        every peak. Used by the null controls to show how much of a result rests on the
        edges of answers, where attention networks peak even untrained.

    Returns
    -------
    slice : dict or None
        ``start_s``, ``end_s``, ``peak_s``, ``peak_weight`` (smoothed), ``prominence``,
        ``half_left_s``, ``half_right_s`` (the half-prominence boundaries before clipping the
        duration), ``uniform`` (:math:`1/T`) and ``relative_peak`` (peak time as a fraction
        of the answer); None when no slice qualifies.
    reason : str
        ``"ok"``, or why there is no slice: ``"no weights"``, ``"too short"``, ``"flat attention"``,
        ``"no peak above uniform"``, ``"only edge peaks"``.
    """
    t = np.asarray(time_s, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if t.shape != w.shape or t.ndim != 1:
        raise ValueError(f"time_s and weight must be 1-D arrays of the same length, got shapes "
                         f"{t.shape} and {w.shape}")
    keep = np.isfinite(w) & np.isfinite(t)
    t, w = t[keep], w[keep]
    if np.any(w < 0):
        raise ValueError("attention weights must be non-negative")
    if np.any(np.diff(t) <= 0):
        raise ValueError("time_s must increase within an answer")
    if len(w) == 0 or w.sum() <= 0:
        return None, "no weights"
    t0, t1 = float(t[0]), float(t[-1])
    if len(w) < 3 or t1 - t0 < min_s:
        return None, "too short"
    w = w / w.sum()
    s, uniform, peaks = peaks_above_uniform(t, w, smooth_s)
    if peaks is None:
        return None, "flat attention"
    if len(peaks) == 0:
        return None, "no peak above uniform"
    if edge_discount_s > 0:
        at = t[peaks]
        inner = (at - t0 >= edge_discount_s) & (t1 - at >= edge_discount_s)
        if not inner.any():
            return None, "only edge peaks"
        peaks = peaks[inner]
    i = int(peaks[int(np.argmax(s[peaks]))])
    prominence, left_s, right_s = _half_prominence(t, s, i)
    peak_s = float(t[i])
    start_s, end_s = _clip_duration(left_s, right_s, peak_s, t0, t1, min_s, max_s)
    return {
        "start_s": start_s, "end_s": end_s, "peak_s": peak_s,
        "peak_weight": float(s[i]), "prominence": prominence,
        "half_left_s": left_s, "half_right_s": right_s, "uniform": uniform,
        "relative_peak": (peak_s - t0) / (t1 - t0),
    }, "ok"


def peaks_above_uniform(t: np.ndarray, w: np.ndarray, smooth_s: float = 0.5):
    """The smoothed curve of normalised weights, the uniform level and its peaks above that level.

    Parameters
    ----------
    t, w : numpy.ndarray
        Increasing times and weights summing to 1 (finite).

    Returns
    -------
    smoothed : numpy.ndarray
    uniform : float
        :math:`1/T`.
    peaks : numpy.ndarray or None
        Indices of the local maxima of ``smoothed`` above the uniform level, in time order (a
        maximum at the first or last frame counts); None when the curve is flat.
    """
    uniform = 1.0 / len(w)
    s = smooth(t, w, smooth_s)
    if np.ptp(s) <= _REL_TOL * uniform:
        return s, uniform, None
    # Pad with a value below the minimum so that a maximum at the first or last frame is a peak.
    pad = s.min() - 1e-3 * (np.ptp(s) + uniform)
    padded = np.r_[pad, s, pad]
    peaks, _ = find_peaks(padded)
    peaks = peaks[padded[peaks] > uniform * (1 + _REL_TOL)]
    return s, uniform, peaks - 1


def attention_slice(time_s, weight, smooth_s: float = 0.5, min_s: float = 0.5, max_s: float = 4.0,
                    edge_discount_s: float = 0.0) -> dict | None:
    """The attention slice of one answer, or None when no peak qualifies.

    The same as :func:`find_slice` without the reason; see there for the rule and the keys.
    """
    return find_slice(time_s, weight, smooth_s, min_s, max_s, edge_discount_s)[0]


def _half_prominence(t: np.ndarray, s: np.ndarray, i: int) -> tuple[float, float, float]:
    """Prominence of the peak at ``i`` and the times where ``s`` falls to half of it.

    As in ``scipy.signal.peak_prominences``, each side's base is the lowest point before the
    curve rises above the peak again (or the answer ends); the prominence is the peak minus the
    higher base. A peak at the first or last frame has one side only, which alone sets its
    base, and its boundary on the empty side is the answer's edge.
    """
    above_left = np.flatnonzero(s[:i] > s[i])
    jl = int(above_left[-1]) + 1 if len(above_left) else 0
    above_right = np.flatnonzero(s[i + 1:] > s[i])
    jr = i + int(above_right[0]) if len(above_right) else len(s) - 1
    bases = []
    if i > jl:
        bases.append(s[jl:i].min())
    if jr > i:
        bases.append(s[i + 1:jr + 1].min())
    prominence = float(s[i] - max(bases)) if bases else 0.0
    h = s[i] - prominence / 2
    below = np.flatnonzero(s[jl:i] < h)
    if len(below):
        j = jl + int(below[-1])
        left = t[j] + (h - s[j]) / (s[j + 1] - s[j]) * (t[j + 1] - t[j])
    else:
        left = t[jl]
    below = np.flatnonzero(s[i + 1:jr + 1] < h)
    if len(below):
        j = i + 1 + int(below[0])
        right = t[j - 1] + (s[j - 1] - h) / (s[j - 1] - s[j]) * (t[j] - t[j - 1])
    else:
        right = t[jr]
    return prominence, float(left), float(right)


def _clip_duration(left: float, right: float, peak: float, t0: float, t1: float,
                   min_s: float, max_s: float) -> tuple[float, float]:
    left, right = max(left, t0), min(right, t1)
    duration = right - left
    if duration < min_s:
        # Grow symmetrically; what the answer's edge cuts off goes to the other side.
        centre = (left + right) / 2
        left, right = centre - min_s / 2, centre + min_s / 2
        if left < t0:
            left, right = t0, t0 + min_s
        elif right > t1:
            left, right = t1 - min_s, t1
    elif duration > max_s:
        # Shrink to max_s centred on the peak, inside the half-prominence boundaries.
        left = min(max(peak - max_s / 2, left), right - max_s)
        right = left + max_s
    return float(left), float(right)


# --------------------------------------------------------------------------- slices of a corpus

@dataclass
class SliceSet:
    """Attention and random slices of a corpus, with the answers that got none and why.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per slice: ``slice_id``, ``answer_id``, ``candidate_id``, ``kind``
        (``"attention"`` or ``"random"``), ``start_s``, ``end_s``, then ``peak_s`` (NaN for
        random slices) and ``relative_time`` (the slice centre as a fraction of the answer).
    skipped : pandas.DataFrame
        ``answer_id``, ``candidate_id``, ``reason``: answers without slices.
    params : dict
        The parameters of :func:`extract`.
    """

    table: pd.DataFrame
    skipped: pd.DataFrame
    params: dict = field(default_factory=dict)
    _key: str | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def fingerprint(self) -> str:
        """A hash of the slices (the stage key when loaded from the stage cache)."""
        if self._key is None:
            from .cache import fingerprint

            self._key = fingerprint([self.table, self.skipped])
        return self._key

    def save(self, folder) -> Path:
        """Write ``slices.parquet``, ``skipped.parquet`` and ``params.json`` into ``folder``."""
        folder = Path(folder)
        _io.write_parquet(folder / "slices.parquet", self.table)
        _io.write_parquet(folder / "skipped.parquet", self.skipped)
        _io.write_json(folder / "params.json", self.params)
        return folder

    @classmethod
    def load(cls, folder) -> "SliceSet":
        """Read a slice set written by :meth:`save`."""
        folder = Path(folder)
        out = cls(pd.read_parquet(folder / "slices.parquet"), pd.read_parquet(folder / "skipped.parquet"),
                  json.loads((folder / "params.json").read_text()))
        from .cache import stored_key

        out._key = stored_key(folder)
        return out

    def __repr__(self) -> str:
        counts = self.table["kind"].value_counts().to_dict()
        return (f"SliceSet({counts.get('attention', 0)} attention, {counts.get('random', 0)} random slices; "
                f"{len(self.skipped)} answers skipped)")


def _as_table(slices) -> pd.DataFrame:
    table = slices.table if isinstance(slices, SliceSet) else slices
    missing = [c for c in SLICE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"slices table: missing column(s) {missing}; expected {list(SLICE_COLUMNS)}")
    return table


def _answer_rng(seed: int, answer_id: str) -> np.random.Generator:
    # One stream per answer: an answer's random slices do not depend on the other answers.
    return np.random.default_rng([int(seed), zlib.crc32(str(answer_id).encode())])


def _random_starts(rng, n: int, duration: float, t0: float, t1: float,
                   forbid: tuple[float, float] | None) -> np.ndarray | None:
    """Uniform starts of ``n`` slices of ``duration`` inside [t0, t1], optionally not overlapping ``forbid``."""
    last = t1 - duration
    if forbid is None:
        return t0 + rng.random(n) * max(last - t0, 0.0)
    a, b = forbid
    # Allowed starts: [t0, a - duration] and [b, last].
    segments = [(t0, a - duration), (b, last)]
    lengths = np.array([max(hi - lo, 0.0) for lo, hi in segments])
    if lengths.sum() <= 1e-9:
        return None
    u = rng.random(n) * lengths.sum()
    first = u < lengths[0]
    return np.where(first, segments[0][0] + u, segments[1][0] + (u - lengths[0]))


def extract(attention: pd.DataFrame, corpus, question: int | None = 1, n_random: int = 4, seed: int = 0,
            no_overlap: bool = False, progress: bool = False, **rule) -> SliceSet:
    """Attention slices and duration-matched random slices for each answer to ``question``.

    Parameters
    ----------
    attention : pandas.DataFrame
        Any attention-like table with ``answer_id``, ``time_s``, ``weight`` (HireNet attention,
        :func:`toolkit.salience.salience`, untrained-network attention). Weights of frames whose
        ``success`` is false in the corpus are ignored (a network gives them weight 0; they do not
        count in the uniform level :math:`1/T`).
    corpus : toolkit.corpus.Corpus
        Gives the answers, their candidates and their frames (for ``success``).
    question : int or None
        The question whose answers are sliced (the paper uses the first); None: all answers.
    n_random : int
        Random slices per answer.
    seed : int
        Seed of the random slices; each answer has its own stream, derived from ``seed`` and
        its ``answer_id``, so the same answer gets the same slices in any subset.
    no_overlap : bool
        Forbid random slices that overlap the answer's attention slice.
    progress : bool
        Show a progress bar.
    **rule
        ``smooth_s``, ``min_s``, ``max_s``, ``edge_discount_s`` of :func:`find_slice`.

    Returns
    -------
    SliceSet
        The slices and the skipped answers. Answers without attention, without a single
        frame with a face (``success``), too short, with flat attention or (with
        ``no_overlap``) without room for random slices are listed in ``skipped`` with their
        reason, and a warning gives the counts.
    """
    missing = [c for c in ("answer_id", "time_s", "weight") if c not in attention.columns]
    if missing:
        raise ValueError(f"attention table: missing column(s) {missing}; expected answer_id, time_s, weight")
    unknown = set(rule) - {"smooth_s", "min_s", "max_s", "edge_discount_s"}
    if unknown:
        raise TypeError(f"unknown slice-rule option(s) {sorted(unknown)}")
    if n_random < 0:
        raise ValueError(f"n_random must be >= 0, got {n_random}")
    manifest = corpus.manifest
    if question is not None:
        manifest = manifest[manifest["question"] == int(question)]
        if manifest.empty:
            raise ValueError(f"no answer to question {question} in the corpus "
                             f"(questions: {sorted(int(q) for q in corpus.manifest['question'].unique())})")
    wanted = set(manifest["answer_id"])
    att = attention[["answer_id", "time_s", "weight"]]
    att = att.assign(answer_id=att["answer_id"].astype(str))
    att = att[att["answer_id"].isin(wanted)]
    succ = corpus.frames.loc[corpus.frames["answer_id"].isin(wanted), ["answer_id", "time_s", "success"]]
    with_face = set(succ.loc[succ["success"].astype(bool), "answer_id"])
    # Frames without a face carry no weight (a network masks them with weight 0): they do not
    # count in T. Attention rows without a matching frame keep their weight.
    att = att.merge(succ.assign(answer_id=succ["answer_id"].astype(str)), on=["answer_id", "time_s"], how="left")
    att.loc[att["success"].eq(False).fillna(False).to_numpy(bool), "weight"] = np.nan
    att = att.sort_values(["answer_id", "time_s"], kind="stable")
    groups = {a: g for a, g in att.groupby("answer_id", sort=False)}

    rows, skipped = [], []
    iterator = manifest[["answer_id", "candidate_id"]].itertuples(index=False)
    if progress:
        from tqdm import tqdm
        iterator = tqdm(iterator, total=len(manifest), desc="slices", unit="answer")
    for answer_id, candidate_id in iterator:
        if answer_id not in with_face:
            skipped.append((answer_id, candidate_id, "no success frames"))
            continue
        g = groups.get(answer_id)
        if g is None or len(g) == 0:
            skipped.append((answer_id, candidate_id, "no attention"))
            continue
        t = g["time_s"].to_numpy(np.float64)
        w = g["weight"].to_numpy(np.float64)
        found, reason = find_slice(t, w, **rule)
        if found is None:
            skipped.append((answer_id, candidate_id, reason))
            continue
        finite = t[np.isfinite(w)]
        t0, t1 = float(finite[0]), float(finite[-1])
        start, end = found["start_s"], found["end_s"]
        duration = end - start
        rng = _answer_rng(seed, answer_id)
        starts = _random_starts(rng, n_random, duration, t0, t1, (start, end) if no_overlap else None)
        if starts is None:
            skipped.append((answer_id, candidate_id, "no room for random slices"))
            continue
        span = t1 - t0
        rows.append((f"{answer_id}:attention", answer_id, candidate_id, "attention", start, end,
                     found["peak_s"], ((start + end) / 2 - t0) / span))
        for k, s0 in enumerate(starts, 1):
            s0 = float(s0)
            rows.append((f"{answer_id}:random{k}", answer_id, candidate_id, "random", s0, s0 + duration,
                         np.nan, (s0 + duration / 2 - t0) / span))
    table = pd.DataFrame(rows, columns=[*SLICE_COLUMNS, "peak_s", "relative_time"])
    table = table.astype({"slice_id": str, "answer_id": str, "candidate_id": str, "kind": str})
    skipped = pd.DataFrame(skipped, columns=["answer_id", "candidate_id", "reason"]).astype(str)
    if len(skipped):
        counts = ", ".join(f"{n} {r}" for r, n in skipped["reason"].value_counts().items())
        warnings.warn(f"{len(skipped)} of {len(manifest)} answers have no slices ({counts}); "
                      f"see SliceSet.skipped", stacklevel=2)
    params = {"question": question, "n_random": n_random, "seed": seed, "no_overlap": no_overlap, **rule}
    return SliceSet(table, skipped, params)


# --------------------------------------------------------------------------- slice features

def feature_columns(table: pd.DataFrame) -> list[str]:
    """The slice-feature columns of a table (``*_delta``, ``*_std``, ``*_active``)."""
    return [c for c in table.columns if c.endswith(("_delta", "_std", "_active"))]


def features(corpus, slices, threshold: float | dict | None = None, k: float = 2.0,
             columns: list[str] | None = None) -> pd.DataFrame:
    """Facial features of each slice, relative to the same answer's usual.

    Only frames with a face (``success``) count, in the slice and in the answer. Per AU:

    ``AUxx_delta``
        slice mean minus answer mean ("than usual");
    ``AUxx_std``
        standard deviation within the slice (population, ddof=0);
    ``AUxx_active``
        fraction of slice frames where the AU is above its activation threshold.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
    slices : SliceSet or pandas.DataFrame
        Slices (see :data:`SLICE_COLUMNS`); a frame belongs to a slice when
        ``start_s <= time_s <= end_s``.
    threshold : None, float or dict
        None (default): a threshold relative to each answer, because scales differ by source
        (OpenFace 0-5, MediaPipe and py-feat 0-1) and people differ in their resting face:
        the answer's median plus ``k`` robust standard deviations (1.4826 x MAD; the standard
        deviation when the MAD is 0). A float: one absolute threshold for every AU (e.g.
        OpenFace's convention of 1.0 on its 0-5 scale); a dict: an absolute threshold per AU.
        Active means strictly above the threshold.
    k : float
        Robust standard deviations above the median for the relative threshold.
    columns : list of str, optional
        Feature columns to describe (default: the corpus's AUs, else all its features).

    Returns
    -------
    pandas.DataFrame
        One row per slice: ``slice_id``, ``answer_id``, ``candidate_id``, ``kind``,
        ``n_frames`` (success frames in the slice), then the feature columns. A slice without
        success frames gets NaN features and a warning.
    """
    table = _as_table(slices).reset_index(drop=True)
    columns = list(columns or corpus.aus or corpus.features)
    if not columns:
        raise ValueError("the corpus has no feature columns")
    answers = pd.Index(pd.unique(table["answer_id"].astype(str)))
    frames = corpus.frames
    frames = frames[frames["answer_id"].isin(answers)]
    unknown = answers.difference(pd.Index(pd.unique(frames["answer_id"])))
    if len(unknown):
        raise ValueError(f"slices table: answer_id {unknown[0]!r} has no frames in the corpus")
    # Frames grouped by answer in the order of `answers` (codes increase), time within answer.
    code_all = pd.Categorical(frames["answer_id"], categories=answers).codes
    order = np.lexsort((frames["time_s"].to_numpy(np.float64), code_all))
    frames = frames.iloc[order]
    code = code_all[order]
    t = frames["time_s"].to_numpy(np.float64)
    ok = frames["success"].to_numpy(bool)
    X = frames[columns].to_numpy(np.float64)
    ok = ok & np.isfinite(X).all(axis=1)
    n_ans, n_feat = len(answers), len(columns)

    # Per-answer statistics over success frames.
    okf = ok.astype(np.float64)
    count = np.bincount(code, weights=okf, minlength=n_ans)
    Xz = np.where(ok[:, None], X, 0.0)
    mean = np.stack([np.bincount(code, weights=Xz[:, j], minlength=n_ans) for j in range(n_feat)], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = mean / count[:, None]
    thr = _thresholds(X, ok, code, n_ans, columns, threshold, k, mean)

    centred = np.where(ok[:, None], X - mean[code], 0.0)
    active = np.where(ok[:, None], X > thr[code], False).astype(np.float64)
    prefix = lambda a: np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])  # noqa: E731
    c_n, c_x, c_xx, c_a = prefix(okf), prefix(centred), prefix(centred ** 2), prefix(active)

    # Frame index range of each slice, with one sorted key: answer code x span + time.
    s_code = pd.Categorical(table["answer_id"].astype(str), categories=answers).codes
    t_min = t.min() if len(t) else 0.0
    span = (t.max() - t_min if len(t) else 0.0) + 10.0
    key = code * span + (t - t_min)
    starts = table["start_s"].to_numpy(np.float64) - t_min
    ends = table["end_s"].to_numpy(np.float64) - t_min
    lo = np.searchsorted(key, s_code * span + np.clip(starts, 0, None) - 1e-9, side="left")
    hi = np.searchsorted(key, s_code * span + np.minimum(ends, span - 5.0) + 1e-9, side="right")
    hi = np.maximum(hi, lo)
    n = c_n[hi] - c_n[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = (c_x[hi] - c_x[lo]) / n[:, None]
        var = (c_xx[hi] - c_xx[lo]) / n[:, None] - delta ** 2
        frac = (c_a[hi] - c_a[lo]) / n[:, None]
    std = np.sqrt(np.clip(var, 0, None))
    out = table[["slice_id", "answer_id", "candidate_id", "kind"]].copy()
    out["n_frames"] = n.astype(np.int64)
    block = pd.DataFrame(
        np.concatenate([delta, std, frac], axis=1),
        columns=[f"{c}_delta" for c in columns] + [f"{c}_std" for c in columns] + [f"{c}_active" for c in columns],
    )
    out = pd.concat([out, block], axis=1)
    empty = int((n == 0).sum())
    if empty:
        warnings.warn(f"{empty} of {len(table)} slices have no success frames; their features are NaN",
                      stacklevel=2)
    return out


def _thresholds(X, ok, code, n_ans, columns, threshold, k, mean) -> np.ndarray:
    if threshold is None:
        df = pd.DataFrame(np.where(ok[:, None], X, np.nan), columns=columns)
        df["_a"] = code
        g = df.groupby("_a")
        med = g.median().reindex(range(n_ans)).to_numpy()
        mad = (df[columns] - med[code]).abs()
        mad["_a"] = code
        mad = mad.groupby("_a").median().reindex(range(n_ans)).to_numpy() * 1.4826
        sd = g.std(ddof=0).reindex(range(n_ans)).to_numpy()
        scale = np.where(mad > 0, mad, sd)
        return med + k * scale
    if isinstance(threshold, dict):
        missing = [c for c in columns if c not in threshold]
        if missing:
            raise ValueError(f"threshold: no value for {missing}")
        return np.tile([float(threshold[c]) for c in columns], (n_ans, 1))
    return np.full((n_ans, len(columns)), float(threshold))


# --------------------------------------------------------------------------- command line

