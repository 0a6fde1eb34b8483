"""Simulated interview corpora with known key moments (DESIGN section 5).

The generator writes corpora in the contract of :mod:`toolkit.corpus`, with ground truth:

* **positions** with candidates; each candidate answers the same ``n_questions`` questions;
  answer durations follow a lognormal law (clipped);
* a **latent quality** per candidate drives the **label** (invited or not; the prevalence
  varies by position) and, when ``effect > 0``, the rates of two kinds of short **planted
  moments** (0.5-4 s): *anxiety* (AU45 sustained, AU20 and AU23 up, AU26 down) is more frequent
  for weak candidates, *positive* (AU06 with AU12) for strong ones. The label is therefore
  linked to short moments, not to answer-level averages: baselines do not depend on quality;
* **distractor** moments, just as salient (same durations and amplitudes, on other AUs: a cough,
  AU04/AU09/AU10/AU25, or a glance away, AU01/AU02/AU05), whose rate never depends on quality;
* per-frame dynamics that look like tracker output: per-candidate baselines, AR(1) noise,
  blinks, speech-driven mouth movement, occasional polite smiles, rare tracking failures
  (``success`` false, features NaN); intensities on OpenFace's 0-5 scale;
* an optional sensitive attribute (``gender``) with an optional recruiter bias on the label;
* with ``voice=True``, a **voice** (``audio.parquet``, openSMILE eGeMAPSv02 low-level descriptors
  at ``audio_fps``): speech runs of about 1-4 s (syllables modulate the loudness) and pauses of
  about 0.2-0.8 s, a per-candidate pitch register and loudness, pitch declination over each
  utterance; its own **prosodic moments**, driven by the same latent quality: *hesitation* (a
  long silent or filled pause) more frequent for weak candidates, *lively* (wide pitch
  excursions, louder) for strong ones, and label-free *distractor* moments just as salient (a
  cough or a laugh). They are in ``episodes.csv`` with ``modality`` ``voice``.

All planted kinds share one positional profile (``ends``, ``uniform`` or ``middle``), so the
position of a moment in its answer says nothing about its kind.

Reproducibility: every random draw comes from a generator derived from
``np.random.SeedSequence(seed, spawn_key=...)``: one stream for the plan (positions, labels,
durations), one per candidate for the face, one per candidate and moment kind (counts), one
per answer (where its moments sit), and the same again, on streams of their own, for the voice.
Chunking therefore never changes the result, turning the voice on changes nothing of the face,
the manifest or the face's episodes, and changing
``effect`` only redraws the linked moments: :func:`effect_zero_twin` gives the same corpus
(same candidates, labels, durations, face dynamics, numbers of distractor moments) in a world
where the label no longer depends on moments.

Typical use::

    corpus = tk.simulate.simulate("tiny", seed=1)              # in memory
    tk.simulate.write("data/corpora/book", preset="book")      # a corpus folder, streamed
    null = tk.simulate.simulate(tk.simulate.effect_zero_twin("book"), seed=0)
    voice = tk.simulate.simulate("tiny", seed=1, voice=True).modality("voice")  # the voice's corpus
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.special import ndtri

from .vocabulary import AUS

__all__ = [
    "SimulationConfig", "PRESETS", "KINDS", "LINKED_KINDS", "PROFILES", "SIGNATURES",
    "simulate", "write", "plan", "effect_zero_twin", "make_config", "moment_rates",
    "VOICE_KINDS", "VOICE_LINKED_KINDS", "VOICE_DESCRIPTORS", "VOICE_VARIANTS",
]

#: Kinds of planted moments, in the order of ``episodes.csv``.
KINDS: tuple[str, ...] = ("anxiety", "positive", "distractor")
#: Kinds whose rate depends on the latent quality when ``effect > 0`` (the ``linked`` column of
#: ``episodes.csv``; it marks them in an effect-0 corpus too, where nothing is truly linked).
LINKED_KINDS: tuple[str, ...] = ("anxiety", "positive")
#: Kinds of planted prosodic moments (``modality`` ``voice`` in ``episodes.csv``).
VOICE_KINDS: tuple[str, ...] = ("hesitation", "lively", "distractor")
#: Prosodic kinds whose rate depends on the latent quality when the voice's effect is > 0:
#: hesitation for weak candidates, lively for strong ones.
VOICE_LINKED_KINDS: tuple[str, ...] = ("hesitation", "lively")
#: The openSMILE eGeMAPSv02 low-level descriptors the simulated voice writes, in openSMILE's order.
VOICE_DESCRIPTORS: tuple[str, ...] = (
    "Loudness_sma3", "alphaRatio_sma3", "hammarbergIndex_sma3", "spectralFlux_sma3",
    "mfcc1_sma3", "mfcc2_sma3", "mfcc3_sma3", "mfcc4_sma3",
    "F0semitoneFrom27.5Hz_sma3nz", "jitterLocal_sma3nz", "shimmerLocaldB_sma3nz", "HNRdBACF_sma3nz",
)
#: Variants of each prosodic kind (half each): a silent or a filled hesitation, a cough or a laugh.
VOICE_VARIANTS: dict[str, tuple[str, ...]] = {
    "hesitation": ("pause", "filled"), "lively": ("lively",), "distractor": ("cough", "laugh"),
}
#: Positional profiles of planted moments inside an answer.
PROFILES: tuple[str, ...] = ("ends", "uniform", "middle")

#: What each planted moment does to the AUs: weight +1 adds the moment's amplitude,
#: weight -1 suppresses the AU (multiplies it by ``1 - 0.9 * envelope``).
#: ``distractor`` moments are a cough or a glance away, half each.
SIGNATURES: dict[str, dict[str, float]] = {
    "anxiety": {"AU45": 1.0, "AU20": 1.0, "AU23": 1.0, "AU26": -1.0},
    "positive": {"AU06": 1.0, "AU12": 1.0},
    "cough": {"AU04": 1.0, "AU09": 1.0, "AU10": 1.0, "AU25": 1.0},
    "glance": {"AU01": 1.0, "AU02": 1.0, "AU05": 1.0},
}

# Typical OpenFace resting intensity of each AU (0-5 scale) and the noise level around it.
_BASELINE = {
    "AU01": 0.4, "AU02": 0.3, "AU04": 0.5, "AU05": 0.2, "AU06": 0.4, "AU07": 0.4,
    "AU09": 0.15, "AU10": 0.3, "AU12": 0.5, "AU14": 0.35, "AU15": 0.15, "AU17": 0.4,
    "AU20": 0.3, "AU23": 0.35, "AU25": 0.3, "AU26": 0.25, "AU45": 0.35,
}
_NOISE = {au: 0.15 for au in AUS} | {"AU45": 0.08}
#: The AUs whose resting intensity the expression style (``SimulationConfig.style``) raises.
STYLE_AUS: tuple[str, ...] = ("AU04", "AU15")
_AU_INDEX = {au: i for i, au in enumerate(AUS)}
_MAX_INTENSITY = 5.0
# stream identifiers of SeedSequence spawn keys
_PLAN, _FACE, _MOMENTS, _VOICE, _VOICE_MOMENTS = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class SimulationConfig:
    """Every knob of the simulated corpus.

    Parameters
    ----------
    n_positions : int
        Number of positions (job offers).
    candidates_per_position : tuple of int
        Inclusive range ``(min, max)`` of candidates per position (uniform).
    n_questions : int
        Questions per interview; every candidate answers all of them.
    frame_rate : float
        Analysed frames per second.
    duration_median_s, duration_sigma : float
        Answer durations are lognormal with this median (seconds) and log-sd ...
    duration_range_s : tuple of float
        ... clipped to this range (seconds).
    prevalence : tuple of float
        Range of the per-position rate of invited candidates (uniform per position).
    quality_weight : float
        Share of the recruiter's score variance explained by the latent quality (0-1); the rest
        is noise the faces do not show.
    effect : float
        Strength (>= 0) of the link between quality and the rates of linked moments: the rate of
        anxiety moments is ``rate * exp(-effect * q - effect**2 / 2)``, of positive moments
        ``rate * exp(effect * q - effect**2 / 2)`` (same mean rate for every effect). 0 gives the
        null world: moment rates independent of quality, hence of the label.
    moment_profile : {"ends", "uniform", "middle"}
        Where planted moments sit in their answer (all kinds share it).
    ends_share, ends_width : float
        For ``"ends"``: the share of moments centred in the first or last ``ends_width`` of the
        answer (as a fraction of its duration); the rest are uniform.
    anxiety_rate, positive_rate, distractor_rate : float
        Mean rates per minute of answer (distractor: cough and glance away together).
    moment_duration_s : tuple of float
        Range of planted moment durations in seconds (uniform).
    moment_amplitude : tuple of float
        Range of planted moment amplitudes (AU intensity added at the plateau).
    moment_gap_s : float
        Minimum gap between two planted moments of an answer.
    blink_rate : tuple of float
        Range of per-candidate blink rates (per minute).
    blink_duration_s, blink_amplitude : tuple of float
        Ranges of blink durations (seconds) and AU45 peak amplitudes.
    smile_rate : float
        Rate of polite smiles per minute (AU12 with a little AU06), independent of quality.
    speech_share : float
        Mean share of an answer spent talking (drives AU25, AU26, AU10).
    noise_ar : float
        AR(1) coefficient of the per-frame noise at 10 frames/s (adjusted to the frame rate).
    baseline_spread : float
        Coefficient of variation of per-candidate AU baselines.
    failure_rate : float
        Tracking failures per minute (the face is lost for 0.2-2 s: ``success`` false, NaN AUs).
    attribute : str or None
        Name of the sensitive attribute column of the manifest (None: no column).
    attribute_values : tuple of str
        Its two values, drawn with equal probability.
    bias : float
        Recruiter bias: added to the recruiter's score (in score sd) of candidates with the second
        attribute value; the label then depends on the attribute, the faces do not.
    style : float
        Expression style: added to the resting intensity of :data:`STYLE_AUS` (brows lowered, lip
        corners down: a sterner resting face) of candidates with the second attribute value; the
        faces then depend on the attribute, the quality and the label do not.
    voice : bool
        Also simulate a voice (``audio.parquet``) and its prosodic moments (off by default; the
        face, the manifest and the face's episodes are the same either way). Its moments take
        their rates from ``anxiety_rate`` (hesitation), ``positive_rate`` (lively) and
        ``distractor_rate`` (cough and laugh), and their durations, amplitudes, gaps and
        positional profile from the face's parameters (an amplitude of 2 gives the nominal
        prosodic change).
    audio_fps : float
        Audio frames per second of the voice (frame centres at ``(i + 0.5) / audio_fps``).
    voice_effect : float or None
        Strength (>= 0) of the link between quality and the rates of hesitation (``exp(-e * q -
        e**2 / 2)``) and lively moments (``exp(e * q - e**2 / 2)``); None: the same as ``effect``.
    """

    n_positions: int = 40
    candidates_per_position: tuple[int, int] = (6, 14)
    n_questions: int = 5
    frame_rate: float = 10.0
    duration_median_s: float = 60.0
    duration_sigma: float = 0.45
    duration_range_s: tuple[float, float] = (20.0, 180.0)
    prevalence: tuple[float, float] = (0.25, 0.45)
    quality_weight: float = 0.7
    effect: float = 1.0
    moment_profile: str = "ends"
    ends_share: float = 0.75
    ends_width: float = 0.15
    anxiety_rate: float = 1.0
    positive_rate: float = 1.0
    distractor_rate: float = 2.0
    moment_duration_s: tuple[float, float] = (0.5, 4.0)
    moment_amplitude: tuple[float, float] = (1.5, 2.5)
    moment_gap_s: float = 0.5
    blink_rate: tuple[float, float] = (14.0, 20.0)
    blink_duration_s: tuple[float, float] = (0.1, 0.4)
    blink_amplitude: tuple[float, float] = (1.5, 3.0)
    smile_rate: float = 0.5
    speech_share: float = 0.85
    noise_ar: float = 0.9
    baseline_spread: float = 1.0
    failure_rate: float = 0.3
    attribute: str | None = "gender"
    attribute_values: tuple[str, str] = ("female", "male")
    bias: float = 0.0
    style: float = 0.0
    voice: bool = False
    audio_fps: float = 20.0
    voice_effect: float | None = None

    def __post_init__(self):
        def fail(name, message):
            raise ValueError(f"SimulationConfig.{name}: {message}, got {getattr(self, name)!r}")

        for name in ("n_positions", "n_questions"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                fail(name, "must be a positive integer")
        lo, hi = self.candidates_per_position
        if int(lo) != lo or int(hi) != hi or lo < 1 or hi < lo:
            fail("candidates_per_position", "must be integers (min, max) with 1 <= min <= max")
        if not self.frame_rate > 0:
            fail("frame_rate", "must be positive")
        if not np.isfinite(self.effect) or self.effect < 0:
            fail("effect", "must be a finite number >= 0 (0 is the null world)")
        if self.moment_profile not in PROFILES:
            fail("moment_profile", f"must be one of {', '.join(PROFILES)}")
        for name in ("duration_range_s", "prevalence", "moment_duration_s", "moment_amplitude",
                     "blink_rate", "blink_duration_s", "blink_amplitude"):
            lo, hi = getattr(self, name)
            if not (0 <= lo <= hi):
                fail(name, "must be a range (low, high) with 0 <= low <= high")
        if not 0 < self.prevalence[0] <= self.prevalence[1] < 1:
            fail("prevalence", "must lie strictly between 0 and 1")
        if self.duration_range_s[0] <= 0 or not self.duration_median_s > 0 or self.duration_sigma < 0:
            fail("duration_median_s", "durations must be positive")
        if self.moment_duration_s[0] <= 0 or self.moment_duration_s[1] >= self.duration_range_s[0]:
            fail("moment_duration_s", "must be positive and shorter than the shortest answer")
        if not 0 <= self.quality_weight <= 1:
            fail("quality_weight", "must lie in [0, 1]")
        for name in ("ends_share", "speech_share"):
            if not 0 <= getattr(self, name) <= 1:
                fail(name, "must lie in [0, 1]")
        if not 0 < self.ends_width <= 0.5:
            fail("ends_width", "must lie in (0, 0.5]")
        for name in ("anxiety_rate", "positive_rate", "distractor_rate", "smile_rate", "failure_rate",
                     "moment_gap_s", "baseline_spread"):
            if not getattr(self, name) >= 0:
                fail(name, "must be >= 0")
        if not 0 <= self.noise_ar < 1:
            fail("noise_ar", "must lie in [0, 1)")
        if self.attribute is not None and (not self.attribute or len(self.attribute_values) != 2):
            fail("attribute", "must be a column name with two attribute_values, or None")
        if not np.isfinite(self.bias):
            fail("bias", "must be finite")
        if not (np.isfinite(self.style) and self.style >= 0):
            fail("style", "must be finite and >= 0")
        if (self.bias or self.style) and self.attribute is None:
            fail("attribute", "bias and style need a sensitive attribute")
        if not isinstance(self.voice, (bool, np.bool_)):
            fail("voice", "must be True or False")
        if isinstance(self.audio_fps, bool) or not (np.isfinite(self.audio_fps) and self.audio_fps > 0):
            fail("audio_fps", "must be a positive number")
        if self.voice_effect is not None and not (np.isfinite(self.voice_effect) and self.voice_effect >= 0):
            fail("voice_effect", "must be None (the same as effect) or a finite number >= 0")

    @property
    def voice_link(self) -> float:
        """The effect of quality on the voice's linked moments (``voice_effect``, else ``effect``)."""
        return float(self.effect if self.voice_effect is None else self.voice_effect)

    def to_dict(self) -> dict:
        """The configuration as JSON-ready data (tuples become lists).

        Without a voice and with the voice fields at their defaults, these fields are left out,
        so a corpus without a voice records the configuration it always did; :meth:`from_dict`
        restores them.
        """
        data = dataclasses.asdict(self)
        if all(data[name] == _VOICE_DEFAULTS[name] for name in _VOICE_DEFAULTS):
            for name in _VOICE_DEFAULTS:
                del data[name]
        return json.loads(json.dumps(data))

    @classmethod
    def from_dict(cls, data: dict) -> "SimulationConfig":
        """The configuration from :meth:`to_dict` output (e.g. ``corpus.meta["config"]``)."""
        return make_config(cls(), **data)

    @property
    def n_candidates_range(self) -> tuple[int, int]:
        """Smallest and largest possible number of candidates."""
        lo, hi = self.candidates_per_position
        return self.n_positions * lo, self.n_positions * hi


# The voice's fields and their defaults: left out of ``to_dict`` while they all keep them.
_VOICE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(SimulationConfig)
                   if f.name in ("voice", "audio_fps", "voice_effect")}

#: Named configurations: ``tiny`` for tests, ``book`` for the book, ``paper`` at the paper's scale.
PRESETS: dict[str, SimulationConfig] = {
    # about 48 candidates, 240 short answers, ~40k frames: generated in a fraction of a second
    "tiny": SimulationConfig(n_positions=6, candidates_per_position=(6, 10), duration_median_s=15.0,
                             duration_sigma=0.3, duration_range_s=(8.0, 40.0)),
    # about 400 candidates in 40 positions, 2000 answers, median 50 s: ~1.1 M frames
    "book": SimulationConfig(n_positions=40, candidates_per_position=(6, 14), duration_median_s=50.0,
                             duration_sigma=0.4, duration_range_s=(20.0, 150.0)),
    # the paper's scale: 475 positions, 7095 candidates (set exactly, see _plan), 5 questions,
    # about 560 hours of answers (the paper: 558 h of video), ~20 M frames
    "paper": SimulationConfig(n_positions=475, candidates_per_position=(10, 20), duration_median_s=51.5),
}
# The paper's total of candidates, reached exactly by the plan for the paper preset.
_PAPER_CANDIDATES = 7095


def make_config(preset: str | SimulationConfig = "book", **overrides) -> SimulationConfig:
    """A preset (by name, or a config) with some fields overridden.

    Raises
    ------
    ValueError
        For an unknown preset, an unknown field, or a value out of range.
    """
    if isinstance(preset, SimulationConfig):
        config = preset
    elif isinstance(preset, str) and preset in PRESETS:
        config = PRESETS[preset]
    else:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)} "
                         f"or pass a SimulationConfig")
    fields = {f.name for f in dataclasses.fields(SimulationConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown simulation parameter(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(fields))}")
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return dataclasses.replace(config, **overrides)


def effect_zero_twin(config: str | SimulationConfig = "book") -> SimulationConfig:
    """The null twin of a configuration: the same everything, with ``effect=0`` (and no link in the voice).

    Simulated with the same seed, the twin has the same positions, candidates, labels,
    attributes, answer durations, face dynamics (baselines, noise, blinks, speech, smiles,
    tracking failures) and numbers of distractor moments; only the anxiety and positive moments
    are redrawn, at rates that no longer depend on quality (same mean rate). As all the moments
    of an answer share its places, distractors move only in answers whose linked moments
    changed; answers without linked moments in either world are identical, frame for frame.
    Equivalent to ``simulate(preset, seed, effect=0)``. The voice follows the same rules: its
    link is 0 too (``voice_effect`` 0 when it was set, else it follows ``effect``), its
    distractor counts and its speech are the same.
    """
    config = make_config(config)
    return make_config(config, effect=0.0, voice_effect=None if config.voice_effect is None else 0.0)


# --------------------------------------------------------------------------- the plan

def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key)))


def _plan(config: SimulationConfig, seed: int) -> pd.DataFrame:
    """One row per candidate: ids, latent quality, label, attribute and answer frame counts.

    Drawn from its own stream; ``effect`` does not enter, so a corpus and its effect-0 twin
    share the plan. With the paper preset's positions, the total is the paper's 7,095.
    """
    rng = _rng(seed, _PLAN)
    lo, hi = config.candidates_per_position
    counts = rng.integers(lo, hi + 1, config.n_positions)
    paper = PRESETS["paper"]
    if (config.n_positions, tuple(config.candidates_per_position)) == (
            paper.n_positions, tuple(paper.candidates_per_position)):
        counts = _fix_total(counts, _PAPER_CANDIDATES, lo, hi)
    prevalence = rng.uniform(*config.prevalence, config.n_positions)
    n = int(counts.sum())
    position = np.repeat(np.arange(config.n_positions), counts)
    quality = rng.standard_normal(n)
    noise = rng.standard_normal(n)
    second = rng.random(n) < 0.5
    durations = rng.lognormal(np.log(config.duration_median_s), config.duration_sigma, (n, config.n_questions))
    durations = np.clip(durations, *config.duration_range_s)
    frames = np.maximum(np.round(durations * config.frame_rate).astype(np.int64), 1)
    w = config.quality_weight
    score = np.sqrt(w) * quality + np.sqrt(1 - w) * noise + config.bias * second
    # shift the threshold by half the bias so the prevalence stays about the position's
    threshold = ndtri(1 - prevalence[position]) + config.bias / 2
    plan = pd.DataFrame({
        "candidate_index": np.arange(n),
        "candidate_id": [f"c{i:05d}" for i in range(n)],
        "position_id": [f"p{p:04d}" for p in position],
        "label": (score > threshold).astype(np.int64),
        "quality": quality,
    })
    if config.attribute is not None:
        values = np.asarray(config.attribute_values, dtype=object)
        plan[config.attribute] = values[second.astype(int)]
    plan["second"] = second
    plan["n_frames"] = list(frames)
    return plan


def plan(preset: str | SimulationConfig = "book", seed: int = 0, **overrides) -> pd.DataFrame:
    """The candidates of a simulated corpus, with their latent quality, without any frames.

    Cheap even for the paper preset: it draws what :func:`simulate` draws first.

    Returns
    -------
    pandas.DataFrame
        One row per candidate: ``candidate_id``, ``position_id``, ``label``, ``quality`` (the
        latent quality, standard normal), the attribute column if any, and ``duration_s``
        (the total duration of the candidate's answers in seconds).
    """
    config, table = _prepare(preset, seed, overrides)
    table = table.drop(columns=["candidate_index", "n_frames"]).assign(
        duration_s=[float(np.sum(n)) / config.frame_rate for n in table["n_frames"]])
    return table


def _fix_total(counts: np.ndarray, total: int, lo: int, hi: int) -> np.ndarray:
    # Move candidates one at a time between positions (deterministically) to reach ``total``.
    counts = counts.copy()
    if not lo * len(counts) <= total <= hi * len(counts):
        return counts
    i = 0
    while counts.sum() != total:
        j = i % len(counts)
        if counts.sum() < total and counts[j] < hi:
            counts[j] += 1
        elif counts.sum() > total and counts[j] > lo:
            counts[j] -= 1
        i += 1
    return counts


def _manifest(plan: pd.DataFrame, config: SimulationConfig) -> pd.DataFrame:
    q = config.n_questions
    cand = np.repeat(plan["candidate_id"].to_numpy(dtype=object), q)
    question = np.tile(np.arange(1, q + 1), len(plan))
    manifest = pd.DataFrame({
        "answer_id": [f"{c}-q{k}" for c, k in zip(cand, question)],
        "candidate_id": cand,
        "position_id": np.repeat(plan["position_id"].to_numpy(dtype=object), q),
        "question": question.astype(np.int64),
        "label": np.repeat(plan["label"].to_numpy(), q).astype(np.int64),
        "duration_s": np.concatenate(plan["n_frames"].to_list()) / config.frame_rate,
    })
    if config.attribute is not None:
        manifest[config.attribute] = np.repeat(plan[config.attribute].to_numpy(dtype=object), q)
    for col in ("answer_id", "candidate_id", "position_id") + ((config.attribute,) if config.attribute else ()):
        manifest[col] = manifest[col].astype("str")
    return manifest


# --------------------------------------------------------------------------- events

def _event_frames(starts: np.ndarray, ends: np.ndarray, offsets: np.ndarray, n_frames: np.ndarray,
                  fps: float, min_half: float = 0.0):
    """Frames touched by events, as (event index, global frame index, time of frame).

    ``offsets[i]`` and ``n_frames[i]`` give the first global frame and the frame count of each
    event's answer. ``min_half`` widens events to at least that half-width around their centre.
    """
    centre = (starts + ends) / 2
    half = np.maximum((ends - starts) / 2, min_half)
    first = np.clip(np.ceil((centre - half) * fps - 1e-9), 0, None).astype(np.int64)
    last = np.minimum(np.floor((centre + half) * fps + 1e-9).astype(np.int64), n_frames - 1)
    length = np.maximum(last - first + 1, 0)
    event = np.repeat(np.arange(len(starts)), length)
    within = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    local = first[event] + within
    return event, offsets[event] + local, local / fps


def _plateau(t: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """A plateau envelope with raised-cosine ramps (at most 0.25 s, a quarter of the event)."""
    ramp = np.minimum(0.25, (end - start) / 4)
    up = np.clip((t - start) / ramp, 0, 1)
    down = np.clip((end - t) / ramp, 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


def _uniform_events(rng, rate_per_min, durations_s, dur_range):
    """Poisson events with uniform start times in each answer (rate per minute)."""
    counts = rng.poisson(rate_per_min * durations_s / 60.0)
    answer = np.repeat(np.arange(len(durations_s)), counts)
    length = rng.uniform(*dur_range, counts.sum())
    start = rng.random(counts.sum()) * np.maximum(durations_s[answer] - length, 0)
    return answer, start, start + length


def _position_fraction(rng, profile: str, component: int, config: SimulationConfig) -> float:
    """Where a moment starts, as a fraction of the room it has in its answer.

    For the ``ends`` profile, ``component`` (drawn once per moment, so that redraws after a
    collision keep it) says: 0 near the start, 1 near the end, 2 anywhere; 3 means anywhere
    whatever the profile (the fallback when the profile's region is crowded).
    """
    if profile == "uniform" or component == 3:
        return rng.random()
    if profile == "middle":
        return float(np.clip(rng.normal(0.5, 0.15), 0.0, 1.0))
    if component == 2:
        return rng.random()
    d = rng.random() * config.ends_width
    return d if component == 0 else 1.0 - d


def _place_moments(rng, kinds: list, duration: float, config: SimulationConfig):
    """Place moments (one per item of ``kinds``) in an answer, in that order, without overlaps.

    A moment overlapping one already placed (or closer than ``moment_gap_s``) is redrawn. The
    first 10 redraws keep the moment's profile component, so crowding near the ends of an
    answer does not push many moments away from them; the next 10 draw anywhere; a moment that
    finds no room is dropped (rare: well under 1 % of moments in the presets).
    """
    placed, taken = [], []
    gap = config.moment_gap_s
    for kind in kinds:
        length = rng.uniform(*config.moment_duration_s)
        amplitude = rng.uniform(*config.moment_amplitude)
        u = rng.random()
        component = 2 if u >= config.ends_share else int(u < config.ends_share / 2)
        for attempt in range(20):
            # the fraction places the moment's start within [0, duration - length]
            fraction = _position_fraction(rng, config.moment_profile, component if attempt < 10 else 3, config)
            start = round(fraction * (duration - length), 3)
            end = round(start + length, 3)
            if all(end + gap <= s or start >= e + gap for s, e in taken):
                taken.append((start, end))
                placed.append((kind, start, end, amplitude))
                break
    return placed


def _candidate_moments(seed: int, index: int, quality: float, durations_s: np.ndarray,
                       config: SimulationConfig) -> list[tuple]:
    """Planted moments of one candidate: (answer index, kind, variant, start, end, amplitude).

    Counts come from one stream per kind (distractor counts and variants are therefore the same
    in a corpus and its effect-0 twin); positions from one stream per answer, where the moments
    of all kinds are placed in a random order, so that no kind gets the better places.
    """
    e = config.effect
    rates = {
        "anxiety": config.anxiety_rate * np.exp(-e * quality - e * e / 2),
        "positive": config.positive_rate * np.exp(e * quality - e * e / 2),
        "distractor": config.distractor_rate,
    }
    return _draw_moments(seed, _MOMENTS, index, rates, {"distractor": ("cough", "glance")}, durations_s, config)


def _candidate_voice_moments(seed: int, index: int, quality: float, durations_s: np.ndarray,
                             config: SimulationConfig) -> list[tuple]:
    """Planted prosodic moments of one candidate, as :func:`_candidate_moments` gives the face's.

    The same latent quality drives them (hesitation for weak candidates, lively for strong ones,
    with the voice's effect); their streams are the voice's own.
    """
    e = config.voice_link
    rates = {
        "hesitation": config.anxiety_rate * np.exp(-e * quality - e * e / 2),
        "lively": config.positive_rate * np.exp(e * quality - e * e / 2),
        "distractor": config.distractor_rate,
    }
    return _draw_moments(seed, _VOICE_MOMENTS, index, rates, VOICE_VARIANTS, durations_s, config)


def _draw_moments(seed: int, stream: int, index: int, rates: dict, variants: dict, durations_s: np.ndarray,
                  config: SimulationConfig) -> list[tuple]:
    """Counts (one stream per kind), variants (half each) and places (one stream per answer)."""
    kinds_order = list(rates)
    counts, chosen = {}, {}
    for k, kind in enumerate(kinds_order):
        rng = _rng(seed, stream, index, k)
        counts[kind] = rng.poisson(rates[kind] * durations_s / 60.0)
        names = variants.get(kind, (kind,))
        if len(names) == 2:
            chosen[kind] = iter(np.where(rng.random(int(counts[kind].sum())) < 0.5, *names))
    out = []
    for a, duration in enumerate(durations_s):
        kinds = [kind for kind in kinds_order for _ in range(int(counts[kind][a]))]
        if not kinds:
            continue
        answer_variants = {i: next(chosen[kind]) for i, kind in enumerate(kinds) if kind in chosen}
        rng = _rng(seed, stream, index, len(kinds_order), a)
        order = rng.permutation(len(kinds))
        labelled = [(kinds[i], answer_variants.get(i, kinds[i])) for i in order]
        for (kind, variant), start, end, amplitude in _place_moments(rng, labelled, float(duration), config):
            out.append((a, kind, str(variant), start, end, amplitude))
    out.sort(key=lambda m: (m[0], m[3]))
    return out


# --------------------------------------------------------------------------- frames

def _candidate_frames(seed: int, index: int, n_frames: np.ndarray, moments: list[tuple],
                      config: SimulationConfig, second: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """AU intensities (T x 17 float32, NaN where tracking failed) and ``success`` of a candidate."""
    rng = _rng(seed, _FACE, index)
    fps = config.frame_rate
    n_au = len(AUS)
    total = int(n_frames.sum())
    offsets = np.r_[0, np.cumsum(n_frames)[:-1]]
    durations_s = n_frames / fps
    answer_of_frame = np.repeat(np.arange(len(n_frames)), n_frames)

    # per-candidate baselines (gamma: positive, skewed), small per-answer shifts, noise levels
    base = np.array([_BASELINE[au] for au in AUS])
    shape = 1.0 / max(config.baseline_spread, 1e-6) ** 2
    baseline = base * rng.gamma(shape, 1.0 / shape, n_au)
    if second and config.style:  # expression style: a group's resting face, unrelated to quality
        baseline[[_AU_INDEX[au] for au in STYLE_AUS]] += config.style
    shift = rng.normal(0.0, 0.05, (len(n_frames), n_au))
    sd = np.array([_NOISE[au] for au in AUS]) * rng.uniform(0.7, 1.3, n_au)
    x = baseline + shift[answer_of_frame]

    # AR(1) noise, stationary from each answer's first frame
    phi = config.noise_ar ** (10.0 / fps)
    gain = np.sqrt(1 - phi * phi)
    eps = rng.standard_normal((total, n_au))
    start_state = rng.standard_normal((len(n_frames), n_au))
    noise = np.empty((total, n_au))
    for a, (o, n) in enumerate(zip(offsets, n_frames)):
        zi = (phi * start_state[a])[None, :]
        noise[o:o + n] = lfilter([gain], [1.0, -phi], eps[o:o + n], axis=0, zi=zi)[0]
    x += noise * sd
    x += rng.normal(0.0, 0.03, (total, n_au))

    # speech: talk segments and pauses drive the mouth (AU25 lips part, AU26 jaw, AU10)
    talking = np.zeros(total, dtype=bool)
    mean_talk = 4.0  # seconds; pauses last mean_pause on average
    mean_pause = mean_talk * (1 - config.speech_share) / max(config.speech_share, 1e-6)
    for a, (o, n) in enumerate(zip(offsets, n_frames)):
        k = int(durations_s[a] / 1.0) + 10  # more segments than the answer can hold
        talk = rng.exponential(mean_talk, k)
        pause = rng.exponential(max(mean_pause, 1e-6), k)
        bounds = np.cumsum(np.column_stack([talk, pause]).ravel())
        segment = np.searchsorted(bounds, np.arange(n) / fps, side="right")
        if config.speech_share >= 1:
            talking[o:o + n] = True
        elif config.speech_share > 0:
            talking[o:o + n] = segment % 2 == 0
    mouth_phi = 0.5 ** (10.0 / fps)
    mouth = lfilter([np.sqrt(1 - mouth_phi ** 2)], [1.0, -mouth_phi], rng.standard_normal(total))
    mouth = np.clip(0.9 + 0.7 * mouth, 0, None) * talking
    x[:, _AU_INDEX["AU25"]] += 1.0 * mouth
    x[:, _AU_INDEX["AU26"]] += 0.7 * mouth
    x[:, _AU_INDEX["AU10"]] += 0.25 * mouth

    # blinks on AU45: brief humps, at least one frame wide
    rate = rng.uniform(*config.blink_rate)
    answer, start, end = _uniform_events(rng, rate, durations_s, config.blink_duration_s)
    amp = rng.uniform(*config.blink_amplitude, len(start))
    event, frame, t = _event_frames(start, end, offsets[answer], n_frames[answer], fps, min_half=1.0 / fps)
    centre = (start + end) / 2
    half = np.maximum((end - start) / 2, 1.0 / fps)
    hump = np.clip(1 - np.abs(t - centre[event]) / half[event], 0, 1)
    np.add.at(x[:, _AU_INDEX["AU45"]], frame, amp[event] * hump)

    # polite smiles: AU12 with a little AU06, independent of quality
    answer, start, end = _uniform_events(rng, config.smile_rate, durations_s, (1.0, 3.0))
    amp = rng.uniform(0.5, 1.5, len(start))
    event, frame, t = _event_frames(start, end, offsets[answer], n_frames[answer], fps)
    env = amp[event] * _plateau(t, start[event], end[event])
    np.add.at(x[:, _AU_INDEX["AU12"]], frame, env)
    np.add.at(x[:, _AU_INDEX["AU06"]], frame, 0.3 * env)

    # planted moments
    if moments:
        answer = np.array([m[0] for m in moments])
        start = np.array([m[3] for m in moments])
        end = np.array([m[4] for m in moments])
        amp = np.array([m[5] for m in moments])
        variant = np.array([m[2] for m in moments])
        event, frame, t = _event_frames(start, end, offsets[answer], n_frames[answer], fps)
        env = _plateau(t, start[event], end[event])
        for name, signature in SIGNATURES.items():
            mask = variant[event] == name
            if not mask.any():
                continue
            where, strength = frame[mask], env[mask]
            for au, weight in signature.items():
                column = x[:, _AU_INDEX[au]]  # a view: edits go to x
                if weight > 0:
                    np.add.at(column, where, weight * amp[event[mask]] * strength)
                else:  # the AU falls silent during the moment
                    factor = np.ones(total)
                    np.multiply.at(factor, where, 1 - 0.9 * (-weight) * strength)
                    column *= factor

    np.clip(x, 0.0, _MAX_INTENSITY, out=x)

    # tracking failures: the face is lost for a moment
    answer, start, end = _uniform_events(rng, config.failure_rate, durations_s, (0.2, 2.0))
    _, frame, _ = _event_frames(start, end, offsets[answer], n_frames[answer], fps)
    success = np.ones(total, dtype=bool)
    success[frame] = False
    x = x.astype(np.float32)
    x[~success] = np.nan
    return x, success


# --------------------------------------------------------------------------- voice

# Speech runs and pauses: lognormal (median s, log-sd), clipped to (low, high) seconds.
_SPEECH_RUN_S = (2.0, 0.35, 0.8, 4.5)
_PAUSE_S = (0.45, 0.4, 0.15, 1.0)
# F0 registers in semitones from 27.5 Hz: lower voices (about 88-110 Hz), higher (165-220 Hz).
_REGISTERS = ((20.0, 24.0), (31.0, 36.0))
# Frame modes of the voice: what the frame sounds like; the spectral descriptors follow the mode.
_SILENT, _VOICED, _UNVOICED, _BURST, _ROUGH = 0, 1, 2, 3, 4
# Spectral levels per mode (alphaRatio dB, hammarbergIndex dB, mfcc1-4 offsets from the voiced
# level); voiced frames take the candidate's own levels.
_MODE_ALPHA = np.array([-9.0, 0.0, -4.0, -2.0, -5.0], np.float32)
_MODE_HAMMARBERG = np.array([12.0, 0.0, 7.0, 4.0, 8.0], np.float32)
_MODE_MFCC = np.array([[-25.0, -3.0, -4.0, 2.0], [0.0, 0.0, 0.0, 0.0], [-10.0, -6.0, 4.0, -3.0],
                       [-4.0, -8.0, 5.0, -4.0], [-2.0, -4.0, 2.0, -2.0]], np.float32).T  # (4, modes)
# What the prosodic moments do at strength 1 (amplitude 2): "semitones" and "loudness" (a gain
# over the speaker's level) shape pitch and loudness; "flux", "jitter", "shimmer" are gains,
# "hnr", "alpha", "hammarberg" shifts in dB and "mfcc" shifts of mfcc1-4. Tuned so that the
# label-free salience score (toolkit.salience on the voice) finds linked and distractor moments
# alike. Book preset, seeds 0 and 1: mean salience inside linked moments 2.00 and 2.02 times the
# answer's uniform level, inside distractors 2.09 and 2.11; preference of salience slices for
# linked over distractor moments (toolkit.recovery, every answer) 1.02 [0.90, 1.17] and
# 0.92 [0.80, 1.05].
_VOICE_MOMENT = {
    # hesitation: a long unvoiced pause with a breath, or a filled pause ("euh": low, flat, soft, steady)
    "pause": {"breath": 0.15, "flux": 3.0, "alpha": 9.0, "hammarberg": -9.0, "mfcc": (0.0, -11.0, 7.0, -5.0)},
    "filled": {"semitones": -5.0, "loudness": 0.15, "flux": 0.1, "hnr": 10.0, "jitter": 0.4, "shimmer": 0.4,
               "alpha": -7.0, "hammarberg": 9.0, "mfcc": (-8.0, 12.0, -9.0, 6.0)},
    # lively: pitch swings of `swing` semitones around `mean` above the usual contour, louder
    "lively": {"semitones": (3.0, 5.0), "loudness": 1.25, "flux": 2.4, "alpha": 5.0, "hammarberg": -5.0},
    # distractors: a cough (noise bursts, a quarter of their frames rough and voiced), a laugh
    "cough": {"loudness": 0.85, "voiced": 0.25, "flux": 1.5, "hnr": -8.0, "jitter": 3.0, "shimmer": 2.5},
    "laugh": {"semitones": 5.0, "loudness": 1.15, "flux": 2.2, "hnr": -2.0, "jitter": 1.5, "shimmer": 1.3},
}


def _lognormal_clipped(rng, spec, size) -> np.ndarray:
    median, sigma, low, high = spec
    return np.clip(rng.lognormal(np.log(median), sigma, size), low, high)


def _audio_frames(durations_s: np.ndarray, fps: float) -> np.ndarray:
    """Audio frames per answer: the answer's duration at the audio frame rate (at least one)."""
    return np.maximum(np.round(durations_s * fps).astype(np.int64), 1)


def _candidate_voice(seed: int, index: int, durations_s: np.ndarray, moments: list[tuple],
                     config: SimulationConfig) -> tuple[np.ndarray, np.ndarray]:
    """Voice descriptors (float32, one row per :data:`VOICE_DESCRIPTORS`, one column per audio
    frame) and ``voiced`` of a candidate.

    Every array covers all the candidate's answers at once (vectorised, float32 where time
    allows); answer ``a`` holds frames ``offsets[a]:offsets[a] + n[a]``, centred at
    ``(i + 0.5) / audio_fps``.
    """
    f32 = np.float32
    rng = _rng(seed, _VOICE, index)
    fps = config.audio_fps
    n = _audio_frames(durations_s, fps)
    total, n_answers = int(n.sum()), len(n)
    offsets = np.r_[0, np.cumsum(n)[:-1]]
    answer = np.repeat(np.arange(n_answers), n)
    t = (np.arange(total) - offsets[answer] + 0.5) / fps

    # the candidate's voice: register, loudness, voice quality, spectral levels, speech rate
    f0_base = float(rng.uniform(*_REGISTERS[int(rng.random() < 0.5)]))
    expressive = float(rng.uniform(0.7, 1.3))
    level = (rng.uniform(0.6, 1.3) * np.exp(rng.normal(0.0, 0.08, n_answers))).astype(f32)[answer]
    floor = float(rng.uniform(0.03, 0.08))
    jitter_base = float(rng.uniform(0.012, 0.03))
    shimmer_base = float(rng.uniform(0.7, 1.5))
    hnr_base = float(rng.uniform(4.0, 9.0))
    alpha_base = float(rng.uniform(-18.0, -12.0))
    hammarberg_base = float(rng.uniform(14.0, 22.0))
    mfcc_base = rng.uniform([25.0, -5.0, 0.0, -10.0], [40.0, 10.0, 15.0, 5.0]).astype(f32)
    syllable_rate = float(rng.uniform(3.5, 5.0))
    f0_level = (f0_base + rng.normal(0.0, 0.5, n_answers)).astype(f32)[answer]

    # speech runs and pauses; each answer starts at a random point of its first cycle
    pairs = (durations_s / 0.9).astype(np.int64) + 8  # cycles last >= 0.95 s: more than the answer holds
    run = _lognormal_clipped(rng, _SPEECH_RUN_S, int(pairs.sum()))
    pause = _lognormal_clipped(rng, _PAUSE_S, int(pairs.sum()))
    segment_length = np.column_stack([run, pause]).ravel()
    edges = np.r_[0.0, np.cumsum(segment_length)]
    first = np.r_[0, np.cumsum(pairs)[:-1]]
    phase = rng.random(n_answers) * (run[first] + pause[first])
    g = (edges[2 * first] + phase)[answer] + t  # time on the candidate's chain of segments
    segment = np.searchsorted(edges, g, side="right") - 1
    speech = segment % 2 == 0
    within = g - edges[segment]
    r = (within / segment_length[segment]).astype(f32)  # 0 at the start of a run (or pause), 1 at its end
    pair = segment // 2
    accent = rng.normal(0.0, 1.5, len(run)).astype(f32)[pair]
    declination = rng.uniform(1.5, 3.5, len(run)).astype(f32)[pair]
    cycle = ((syllable_rate * within + rng.random(len(run))[pair]) % 1.0).astype(f32)
    syllable = np.sin(np.pi * cycle) ** 2  # 0 between syllables, 1 at a syllable's nucleus
    change = np.abs(np.sin(2 * np.pi * cycle))  # fast spectral change at syllable edges
    consonant = (syllable < 0.12) & (rng.random(total, dtype=f32) < 0.7)

    # noise of unit variance (uniform draws: four times cheaper than normal ones): rows 0-6
    # smoothed over 4 frames (a moving sum) for contours, rows 7-12 white
    noise = (rng.random((13, total + 3), dtype=f32) - 0.5) * np.float32(np.sqrt(12.0))
    smooth = (noise[:7, 3:] + noise[:7, 2:-1] + noise[:7, 1:-2] + noise[:7, :-3]) * np.float32(0.5)
    white = noise[7:, 3:]

    mode = np.where(speech, np.where(consonant, _UNVOICED, _VOICED), _SILENT).astype(np.int8)
    speaking_loudness = level * (0.45 + 0.55 * syllable) * (1 - 0.25 * r) * np.exp(0.12 * smooth[0])
    silent_loudness = floor * np.exp(0.3 * white[0])
    loudness = np.where(speech, speaking_loudness, silent_loudness)
    speaking_f0 = f0_level + expressive * (accent + declination * (0.5 - r) + smooth[1]) + (syllable - 0.5)
    f0 = speaking_f0.copy()
    hnr_shift = np.zeros(total, f32)
    jitter_gain = np.ones(total, f32)
    shimmer_gain = np.ones(total, f32)
    flux_gain = np.ones(total, f32)
    alpha_shift = np.zeros(total, f32)
    hammarberg_shift = np.zeros(total, f32)
    mfcc_shift = np.zeros((4, total), f32)

    # planted prosodic moments: each frame belongs to one moment at most (moments never overlap)
    if moments:
        shape = _VOICE_MOMENT
        m_answer = np.array([m[0] for m in moments])
        m_start = np.array([m[3] for m in moments])
        m_end = np.array([m[4] for m in moments])
        m_strength = np.array([m[5] for m in moments]) / 2.0
        m_variant = np.array([m[2] for m in moments])
        # each moment's own tempo and phase, and a draw per frame, from a stream per answer: an
        # answer whose moments are the same in the effect-0 twin sounds the same there
        m_rate, m_phase = np.empty(len(moments)), np.empty(len(moments))
        frame_draw = np.zeros(total, f32)
        for a in np.unique(m_answer):
            answer_rng = _rng(seed, _VOICE, index, int(a))
            mine = np.flatnonzero(m_answer == a)
            m_rate[mine] = answer_rng.uniform(0.8, 1.25, len(mine))
            m_phase[mine] = answer_rng.random(len(mine))
            frame_draw[offsets[a]:offsets[a] + n[a]] = answer_rng.random(n[a], dtype=f32)
        half = 0.5 / fps
        event, frame, tt = _event_frames(m_start - half, m_end - half, offsets[m_answer], n[m_answer], fps)
        tt = tt + half
        w = _plateau(tt, m_start[event], m_end[event]).astype(f32)
        u = tt - m_start[event]  # seconds since the moment began
        length = (m_end - m_start)[event]
        s = m_strength[event].astype(f32)
        held = w >= 0.5
        variant = m_variant[event]
        tempo, offset = m_rate[event], m_phase[event]

        def blend(array, sel, value):
            f = frame[sel]
            array[f] = (1 - w[sel]) * array[f] + w[sel] * value

        def set_mode(sel, value):
            keep = sel & held
            mode[frame[keep]] = value[held[sel]] if np.ndim(value) else value

        # hesitation, silent: a long pause, unvoiced, with an audible breath (a slow swell of noise)
        sel = variant == "pause"
        f, ss = frame[sel], s[sel]
        spec = shape["pause"]
        swell = np.sin(np.pi * np.clip(u[sel] / length[sel], 0, 1))
        blend(loudness, sel, silent_loudness[f] + level[f] * spec["breath"] * ss * swell)
        set_mode(sel, _SILENT)
        # hesitation, filled ("euh", "uhm"): a flat, low, soft, steady, nasal vowel
        sel = variant == "filled"
        f, ss = frame[sel], s[sel]
        spec = shape["filled"]
        blend(f0, sel, f0_level[f] + spec["semitones"] * ss + 0.3 * smooth[1, f])
        blend(loudness, sel, level[f] * spec["loudness"] * np.exp(0.05 * smooth[0, f]))
        set_mode(sel, _VOICED)
        # lively: speech throughout, wide pitch excursions, louder
        sel = variant == "lively"
        f, ss = frame[sel], s[sel]
        spec = shape["lively"]
        mean, swing = spec["semitones"]
        excursion = mean + swing * np.sin(2 * np.pi * (u[sel] * tempo[sel] / 0.9 + offset[sel]))
        blend(f0, sel, speaking_f0[f] + ss * excursion)
        lively_level = level[f] * (0.45 + 0.55 * syllable[f]) * np.exp(0.12 * smooth[0, f])
        blend(loudness, sel, lively_level * (1 + spec["loudness"] * ss))
        set_mode(sel, np.where(consonant[f], _UNVOICED, _VOICED))
        # cough (distractor): bursts of noise, loud, mostly unvoiced, a few rough voiced frames
        sel = variant == "cough"
        f, ss = frame[sel], s[sel]
        spec = shape["cough"]
        beat = (u[sel] * tempo[sel] / 0.65 + 0.5 * offset[sel]) % 1.0
        burst = beat < 0.4
        pulse = np.sin(np.pi * np.clip(beat / 0.4, 0, 1))
        rough = frame_draw[f] < spec["voiced"]
        cough_level = level[f] * (1 + spec["loudness"] * ss) * (0.4 + 0.6 * pulse) * np.exp(0.12 * smooth[0, f])
        blend(loudness, sel, np.where(burst, cough_level, 2 * silent_loudness[f]))
        set_mode(sel, np.where(burst, np.where(rough, _ROUGH, _BURST), _SILENT))
        blend(f0, sel, f0_level[f] + 3.0 + 3.0 * white[5, f])
        # laugh (distractor): voiced bursts ("ha-ha") at about 5 a second, high and loud
        sel = variant == "laugh"
        f, ss = frame[sel], s[sel]
        spec = shape["laugh"]
        beat = (u[sel] * 5.0 * tempo[sel] + offset[sel]) % 1.0
        ha = beat < 0.55
        pulse = np.where(ha, 0.6 + 0.4 * np.sin(np.pi * beat / 0.55), 0.45)
        blend(f0, sel, f0_level[f] + spec["semitones"] * ss + 1.5 * smooth[1, f])
        laugh_level = level[f] * (1 + spec["loudness"] * ss) * pulse * np.exp(0.12 * smooth[0, f])
        blend(loudness, sel, laugh_level)
        set_mode(sel, np.where(ha, _VOICED, _UNVOICED))
        # what each variant does to voice quality and spectrum, at its strength
        for name, spec in shape.items():
            sel = variant == name
            f, change_w = frame[sel], w[sel] * s[sel]
            flux_gain[f] = np.maximum(1 + change_w * (spec.get("flux", 1.0) - 1), 0.05)
            jitter_gain[f] = np.maximum(1 + change_w * (spec.get("jitter", 1.0) - 1), 0.1)
            shimmer_gain[f] = np.maximum(1 + change_w * (spec.get("shimmer", 1.0) - 1), 0.1)
            hnr_shift[f] = change_w * spec.get("hnr", 0.0)
            alpha_shift[f] = change_w * spec.get("alpha", 0.0)
            hammarberg_shift[f] = change_w * spec.get("hammarberg", 0.0)
            mfcc_shift[:, f] = np.outer(spec.get("mfcc", (0.0, 0.0, 0.0, 0.0)), change_w)

    # descriptors from the frame modes and contours
    out = np.empty((len(VOICE_DESCRIPTORS), total), f32)
    voiced = (mode == _VOICED) | (mode == _ROUGH)
    speaking = mode == _VOICED
    np.maximum(loudness, 1e-3, out=loudness)
    relative = np.log(loudness / level)
    out[0] = loudness
    out[1] = np.where(speaking, alpha_base + 4.0 * relative, _MODE_ALPHA[mode]) + alpha_shift + 1.5 * white[1]
    out[2] = (np.where(speaking, hammarberg_base - 4.0 * relative, _MODE_HAMMARBERG[mode]) + hammarberg_shift
              + 2.0 * white[2])
    spoken = np.where(mode != _SILENT, loudness * (0.2 + 0.8 * change), 0.6 * floor)
    out[3] = spoken * np.exp(0.2 * white[3]) * flux_gain
    out[4:8] = mfcc_base[:, None] + _MODE_MFCC[:, mode] + 3.0 * smooth[3:7] + mfcc_shift
    out[4] += np.where(speaking, 8.0 * relative, 0.0)
    np.clip(f0, 5.0, 60.0, out=out[8])
    jitter = jitter_base * np.exp(0.25 * white[4]) * (1 + 0.4 * (1 - syllable)) * jitter_gain
    np.clip(jitter, 1e-3, 0.2, out=out[9])
    shimmer = shimmer_base * np.exp(0.25 * white[5]) * (1 + 0.3 * (1 - syllable)) * shimmer_gain
    np.clip(shimmer, 0.05, 6.0, out=out[10])
    np.clip(hnr_base + 2.0 * (syllable - 0.5) + 1.2 * smooth[2] + hnr_shift, -10.0, 25.0, out=out[11])
    out[8:12, ~voiced] = 0.0  # openSMILE's *_sma3nz descriptors are 0 on unvoiced frames
    return out, voiced


# --------------------------------------------------------------------------- chunks

def _chunk(plan: pd.DataFrame, config: SimulationConfig,
           seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Frames, episodes and (with a voice, else None) audio of a block of candidates (rows of the plan)."""
    fps = config.frame_rate
    values, successes, times, ids, episodes = [], [], [], [], []
    voice_values, voiced, voice_times, voice_ids, voice_episodes = [], [], [], [], []
    for row in plan.itertuples(index=False):
        n_frames = np.asarray(row.n_frames, dtype=np.int64)
        answer_ids = [f"{row.candidate_id}-q{k}" for k in range(1, config.n_questions + 1)]
        moments = _candidate_moments(seed, row.candidate_index, row.quality, n_frames / fps, config)
        x, success = _candidate_frames(seed, row.candidate_index, n_frames, moments, config, bool(row.second))
        values.append(x)
        successes.append(success)
        times.append(np.concatenate([np.arange(n) / fps for n in n_frames]))
        ids.append(np.repeat(np.array(answer_ids, dtype=object), n_frames))
        for a, kind, _variant, start, end, _amp in moments:
            episodes.append((answer_ids[a], kind, start, end, kind in LINKED_KINDS))
        if config.voice:
            durations_s = n_frames / fps
            prosody = _candidate_voice_moments(seed, row.candidate_index, row.quality, durations_s, config)
            v, is_voiced = _candidate_voice(seed, row.candidate_index, durations_s, prosody, config)
            n_audio = _audio_frames(durations_s, config.audio_fps)
            voice_values.append(v)
            voiced.append(is_voiced)
            voice_times.append(np.concatenate([(np.arange(n) + 0.5) / config.audio_fps for n in n_audio]))
            voice_ids.append((answer_ids, n_audio))
            for a, kind, _variant, start, end, _amp in prosody:
                voice_episodes.append((answer_ids[a], kind, start, end, kind in VOICE_LINKED_KINDS))
    x = np.concatenate(values)
    frames = pd.DataFrame({"answer_id": pd.array(np.concatenate(ids), dtype="str"),
                           "time_s": np.concatenate(times), "success": np.concatenate(successes)})
    frames = pd.concat([frames, pd.DataFrame(x, columns=list(AUS))], axis=1)
    columns = ["answer_id", "kind", "start_s", "end_s", "linked"]
    episodes = pd.DataFrame(episodes, columns=columns)
    if not config.voice:
        return frames, episodes, None
    # one float32 block, no copy (the descriptors are rows of ``values``), then the leading columns
    audio = pd.DataFrame(np.concatenate(voice_values, axis=1).T, columns=list(VOICE_DESCRIPTORS), copy=False)
    audio.insert(0, "voiced", np.concatenate(voiced))
    audio.insert(0, "time_s", np.concatenate(voice_times))
    audio.insert(0, "answer_id", _answer_column(voice_ids))
    episodes = pd.concat([episodes.assign(modality="face"),
                          pd.DataFrame(voice_episodes, columns=columns).assign(modality="voice")], ignore_index=True)
    return frames, episodes, audio


def _answer_column(blocks: list[tuple[list[str], np.ndarray]]):
    """The ``answer_id`` column of ``(answer ids, rows per answer)`` blocks, as a pandas ``str`` array.

    Built with Arrow's take (a string per answer, repeated by index): far faster than
    converting millions of Python strings.
    """
    import pyarrow as pa

    names = [a for ids, _ in blocks for a in ids]
    counts = np.concatenate([n for _, n in blocks])
    taken = pa.array(names, type=pa.large_string()).take(pa.array(np.repeat(np.arange(len(names)), counts)))
    return pd.array(taken, dtype="str")


def _chunks(plan: pd.DataFrame, config: SimulationConfig, seed: int, max_frames: int,
            progress: bool) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]]:
    from tqdm import tqdm

    sizes = np.array([int(np.sum(n)) for n in plan["n_frames"]])
    bar = tqdm(total=len(plan), desc="simulate", unit="candidate", disable=not progress)
    start = 0
    try:
        while start < len(plan):
            stop = start + max(1, int(np.searchsorted(np.cumsum(sizes[start:]), max_frames, side="right")))
            yield _chunk(plan.iloc[start:stop], config, seed)
            bar.update(stop - start)
            start = stop
    finally:
        bar.close()


def _episodes_table(parts: list[pd.DataFrame], voice: bool = False) -> pd.DataFrame:
    """The episodes of all chunks; with a voice, the face's rows first, then the voice's."""
    columns = ["answer_id", "kind", "start_s", "end_s", "linked"] + (["modality"] if voice else [])
    episodes = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    types = {"answer_id": "str", "kind": "str", "start_s": float, "end_s": float, "linked": bool}
    if voice:
        types["modality"] = "str"
        face = episodes["modality"] == "face"
        episodes = pd.concat([episodes[face], episodes[~face]], ignore_index=True)
    episodes = episodes.astype(types)
    return episodes


def _meta(config: SimulationConfig, preset, seed: int) -> dict:
    from . import __version__

    name = preset if isinstance(preset, str) else None
    return json.loads(json.dumps({
        "source": "simulated", "generator": "toolkit.simulate", "frame_rate": config.frame_rate,
        "preset": name, "seed": int(seed), "config": config.to_dict(), "toolkit_version": __version__,
        "kinds": list(KINDS), "linked_kinds": list(LINKED_KINDS),
        **(_voice_meta(config) if config.voice else {}),
    }))


def _voice_meta(config: SimulationConfig) -> dict:
    """What ``corpus.json`` records of the voice: its frame rate and parameters."""
    e = config.voice_link
    return {
        "audio_fps": config.audio_fps,
        "voice": {
            "descriptors": list(VOICE_DESCRIPTORS), "kinds": list(VOICE_KINDS),
            "linked_kinds": list(VOICE_LINKED_KINDS), "variants": {k: list(v) for k, v in VOICE_VARIANTS.items()},
            "effect": e,
            "rates_per_min": {"hesitation": config.anxiety_rate, "lively": config.positive_rate,
                              "distractor": config.distractor_rate},
            "speech_run_s": dict(zip(("median", "log_sd", "min", "max"), _SPEECH_RUN_S)),
            "pause_s": dict(zip(("median", "log_sd", "min", "max"), _PAUSE_S)),
            "registers_semitones": [list(r) for r in _REGISTERS],
            "moment_changes": _VOICE_MOMENT,
        },
    }


def _prepare(preset, seed: int, overrides: dict):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    config = make_config(preset, **overrides)
    return config, _plan(config, int(seed))


# --------------------------------------------------------------------------- public API

def simulate(preset: str | SimulationConfig = "book", seed: int = 0, **overrides):
    """Simulate a corpus in memory.

    Parameters
    ----------
    preset : str or SimulationConfig
        ``"tiny"``, ``"book"`` or ``"paper"`` (see :data:`PRESETS`), or a configuration.
    seed : int
        Seed of every random draw; the same arguments give the same corpus, bit for bit.
    **overrides
        Fields of :class:`SimulationConfig` to change, e.g. ``effect=0``, ``moment_profile="uniform"``.

    Returns
    -------
    toolkit.corpus.Corpus
        ``manifest`` (answer_id, candidate_id, position_id, question, label, duration_s and the
        attribute column), ``frames`` (answer_id, time_s, success and the 17 AUs as float32),
        ``episodes`` (answer_id, kind, start_s, end_s, linked: the kind is one whose rate follows
        the latent quality, anxiety or positive; in an effect-0 corpus these are the kinds that
        *would* be linked, so that the same recovery measures apply to the null twin), and
        ``meta`` (source, frame_rate,
        config, preset, seed). With ``voice=True`` also ``audio`` (answer_id, time_s at frame
        centres, voiced and :data:`VOICE_DESCRIPTORS` as float32, at ``audio_fps``), a
        ``modality`` column in ``episodes`` (``face`` rows first, then ``voice`` rows of kinds
        :data:`VOICE_KINDS`, ``linked`` for :data:`VOICE_LINKED_KINDS`) and ``audio_fps`` and
        ``voice`` (its parameters) in ``meta``.

    Raises
    ------
    ValueError
        For an unknown preset or parameter, or a value out of range (e.g. a negative effect).
    """
    from .corpus import Corpus

    config, plan = _prepare(preset, seed, overrides)
    frames, episodes, audio = [], [], []
    for f, e, a in _chunks(plan, config, int(seed), max_frames=2_000_000, progress=False):
        frames.append(f)
        episodes.append(e)
        audio.append(a)
    frames = pd.concat(frames, ignore_index=True)
    audio = pd.concat(audio, ignore_index=True) if config.voice else None
    return Corpus(_manifest(plan, config), frames, _meta(config, preset, seed),
                  _episodes_table(episodes, config.voice), audio=audio)


def write(out: str | os.PathLike, preset: str | SimulationConfig = "book", seed: int = 0,
          progress: bool = True, chunk_frames: int = 1_000_000, **overrides) -> Path:
    """Simulate a corpus straight into a corpus folder, in chunks of candidates.

    Memory stays flat in the number of candidates: each chunk of about ``chunk_frames`` frames
    becomes one part file of the ``frames.parquet`` folder (and, with a voice, of the
    ``audio.parquet`` folder). Everything is written into a
    temporary folder beside ``out`` that replaces ``out`` at the end, so an interrupted run
    leaves no half-written corpus. The result loads (:func:`toolkit.corpus.load`) to the same
    corpus as :func:`simulate` with the same arguments.

    Parameters
    ----------
    out : path
        The corpus folder to write. An existing corpus folder there is replaced; any other
        non-empty folder is an error.
    preset, seed, **overrides
        As for :func:`simulate`.
    progress : bool
        Show a progress bar over candidates.
    chunk_frames : int
        Frames per part file (and per chunk held in memory).

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    from . import _io

    out = Path(out)
    config, plan = _prepare(preset, seed, overrides)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_corpus_folder(out))):
        raise FileExistsError(f"{out}: exists and is not a corpus folder; choose a new or empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        parts = tmp / "frames.parquet"
        parts.mkdir()
        if config.voice:
            (tmp / "audio.parquet").mkdir()
        episodes = []
        for i, (frames, e, audio) in enumerate(_chunks(plan, config, int(seed), chunk_frames, progress)):
            frames.to_parquet(parts / f"part-{i:05d}.parquet", index=False)
            if audio is not None:
                audio.to_parquet(tmp / "audio.parquet" / f"part-{i:05d}.parquet", index=False)
            episodes.append(e)
        _io.write_csv(tmp / "manifest.csv", _manifest(plan, config))
        _io.write_csv(tmp / "episodes.csv", _episodes_table(episodes, config.voice))
        _io.write_json(tmp / "corpus.json", _meta(config, preset, seed))
        _replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _is_corpus_folder(path: Path) -> bool:
    return (path / "corpus.json").exists() or (path / "manifest.csv").exists()


def _replace_folder(tmp: Path, out: Path) -> None:
    if out.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, trash / out.name)
        os.replace(tmp, out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, out)


def moment_rates(corpus, modality: str | None = None) -> pd.DataFrame:
    """Planted moments per minute of answers, per candidate and kind (simulated corpora).

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
        A corpus with ``episodes`` (ground truth).
    modality : {"face", "voice"}, optional
        Whose moments: the face's (kinds :data:`KINDS`) or the voice's (:data:`VOICE_KINDS`);
        default: the corpus's own stream (the voice for ``corpus.modality("voice")``, else the face).

    Returns
    -------
    pandas.DataFrame
        One row per candidate and kind: ``candidate_id``, ``position_id``, ``label``, the
        attribute column if any, ``kind``, ``linked``, ``count``, ``minutes`` (total answer time)
        and ``rate_per_min``. Candidates without a moment of a kind get a count of 0.

    Raises
    ------
    ValueError
        If the corpus has no episodes, for an unknown modality, or for the voice of a corpus
        simulated without one.
    """
    if corpus.episodes is None:
        raise ValueError("moment_rates needs a simulated corpus with episodes (ground truth)")
    modality = corpus.meta.get("modality", "face") if modality is None else modality
    if modality not in ("face", "voice"):
        raise ValueError(f"moment_rates: modality must be 'face' or 'voice', got {modality!r}")
    episodes = corpus.episodes
    if "modality" in episodes.columns:
        episodes = episodes[episodes["modality"].astype(str) == modality]
    elif modality == "voice":
        raise ValueError("moment_rates: the corpus has no voice episodes (simulate it with voice=True)")
    kinds, linked = (KINDS, LINKED_KINDS) if modality == "face" else (VOICE_KINDS, VOICE_LINKED_KINDS)
    m = corpus.manifest
    if "duration_s" in m.columns:
        seconds = m.set_index("answer_id")["duration_s"]
    else:
        seconds = corpus.frames.groupby("answer_id")["time_s"].max() + 1.0 / corpus.frame_rate
    minutes = seconds.reindex(m["answer_id"]).groupby(m["candidate_id"].to_numpy()).sum() / 60.0
    e = episodes.merge(m[["answer_id", "candidate_id"]], on="answer_id")
    kinds = list(dict.fromkeys([*kinds, *e["kind"].astype(str)]))
    counts = (e.groupby(["candidate_id", "kind"]).size().unstack("kind")
              .reindex(index=minutes.index, columns=kinds).fillna(0).astype(int))
    table = counts.stack().rename("count").reset_index()
    table.columns = ["candidate_id", "kind", "count"]
    table["linked"] = table["kind"].isin(linked)
    table["minutes"] = table["candidate_id"].map(minutes)
    table["rate_per_min"] = table["count"] / table["minutes"]
    table = corpus.candidates.merge(table, on="candidate_id")
    return table
