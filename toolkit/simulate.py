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
* an optional sensitive attribute (``gender``) with an optional recruiter bias on the label.

All planted kinds share one positional profile (``ends``, ``uniform`` or ``middle``), so the
position of a moment in its answer says nothing about its kind.

Reproducibility: every random draw comes from a generator derived from
``np.random.SeedSequence(seed, spawn_key=...)``: one stream for the plan (positions, labels,
durations), one per candidate for the face, one per candidate and moment kind (counts), one
per answer (where its moments sit). Chunking therefore never changes the result, and changing
``effect`` only redraws the linked moments: :func:`effect_zero_twin` gives the same corpus
(same candidates, labels, durations, face dynamics, numbers of distractor moments) in a world
where the label no longer depends on moments.

Typical use::

    corpus = tk.simulate.simulate("tiny", seed=1)              # in memory
    tk.simulate.write("data/corpora/book", preset="book")      # a corpus folder, streamed
    null = tk.simulate.simulate(tk.simulate.effect_zero_twin("book"), seed=0)
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
]

#: Kinds of planted moments, in the order of ``episodes.csv``.
KINDS: tuple[str, ...] = ("anxiety", "positive", "distractor")
#: Kinds whose rate depends on the latent quality when ``effect > 0`` (the ``linked`` column of
#: ``episodes.csv``; it marks them in an effect-0 corpus too, where nothing is truly linked).
LINKED_KINDS: tuple[str, ...] = ("anxiety", "positive")
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
_PLAN, _FACE, _MOMENTS = 0, 1, 2


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

    def to_dict(self) -> dict:
        """The configuration as JSON-ready data (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> "SimulationConfig":
        """The configuration from :meth:`to_dict` output (e.g. ``corpus.meta["config"]``)."""
        return make_config(cls(), **data)

    @property
    def n_candidates_range(self) -> tuple[int, int]:
        """Smallest and largest possible number of candidates."""
        lo, hi = self.candidates_per_position
        return self.n_positions * lo, self.n_positions * hi


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
    """The null twin of a configuration: the same everything, with ``effect=0``.

    Simulated with the same seed, the twin has the same positions, candidates, labels,
    attributes, answer durations, face dynamics (baselines, noise, blinks, speech, smiles,
    tracking failures) and numbers of distractor moments; only the anxiety and positive moments
    are redrawn, at rates that no longer depend on quality (same mean rate). As all the moments
    of an answer share its places, distractors move only in answers whose linked moments
    changed; answers without linked moments in either world are identical, frame for frame.
    Equivalent to ``simulate(preset, seed, effect=0)``.
    """
    return make_config(config, effect=0.0)


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
    counts, variants = {}, None
    for k, kind in enumerate(KINDS):
        rng = _rng(seed, _MOMENTS, index, k)
        counts[kind] = rng.poisson(rates[kind] * durations_s / 60.0)
        if kind == "distractor":
            variants = iter(np.where(rng.random(int(counts[kind].sum())) < 0.5, "cough", "glance"))
    out = []
    for a, duration in enumerate(durations_s):
        kinds = [kind for kind in KINDS for _ in range(int(counts[kind][a]))]
        if not kinds:
            continue
        answer_variants = {i: next(variants) for i, kind in enumerate(kinds) if kind == "distractor"}
        rng = _rng(seed, _MOMENTS, index, len(KINDS), a)
        order = rng.permutation(len(kinds))
        labelled = [(kinds[i], answer_variants.get(i, kinds[i])) for i in order]
        for (kind, variant), start, end, amplitude in _place_moments(rng, labelled, float(duration), config):
            out.append((a, kind, variant, start, end, amplitude))
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


# --------------------------------------------------------------------------- chunks

def _chunk(plan: pd.DataFrame, config: SimulationConfig, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Frames and episodes of a block of candidates (rows of the plan)."""
    fps = config.frame_rate
    values, successes, times, ids, episodes = [], [], [], [], []
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
    x = np.concatenate(values)
    frames = pd.DataFrame({"answer_id": pd.array(np.concatenate(ids), dtype="str"),
                           "time_s": np.concatenate(times), "success": np.concatenate(successes)})
    frames = pd.concat([frames, pd.DataFrame(x, columns=list(AUS))], axis=1)
    episodes = pd.DataFrame(episodes, columns=["answer_id", "kind", "start_s", "end_s", "linked"])
    return frames, episodes


def _chunks(plan: pd.DataFrame, config: SimulationConfig, seed: int, max_frames: int,
            progress: bool) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
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


def _episodes_table(parts: list[pd.DataFrame]) -> pd.DataFrame:
    episodes = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["answer_id", "kind", "start_s", "end_s", "linked"])
    episodes = episodes.astype({"answer_id": "str", "kind": "str", "start_s": float, "end_s": float,
                                "linked": bool})
    return episodes


def _meta(config: SimulationConfig, preset, seed: int) -> dict:
    from . import __version__

    name = preset if isinstance(preset, str) else None
    return json.loads(json.dumps({
        "source": "simulated", "generator": "toolkit.simulate", "frame_rate": config.frame_rate,
        "preset": name, "seed": int(seed), "config": config.to_dict(), "toolkit_version": __version__,
        "kinds": list(KINDS), "linked_kinds": list(LINKED_KINDS),
    }))


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
        config, preset, seed).

    Raises
    ------
    ValueError
        For an unknown preset or parameter, or a value out of range (e.g. a negative effect).
    """
    from .corpus import Corpus

    config, plan = _prepare(preset, seed, overrides)
    frames, episodes = [], []
    for f, e in _chunks(plan, config, int(seed), max_frames=2_000_000, progress=False):
        frames.append(f)
        episodes.append(e)
    frames = pd.concat(frames, ignore_index=True)
    return Corpus(_manifest(plan, config), frames, _meta(config, preset, seed), _episodes_table(episodes))


def write(out: str | os.PathLike, preset: str | SimulationConfig = "book", seed: int = 0,
          progress: bool = True, chunk_frames: int = 1_000_000, **overrides) -> Path:
    """Simulate a corpus straight into a corpus folder, in chunks of candidates.

    Memory stays flat in the number of candidates: each chunk of about ``chunk_frames`` frames
    becomes one part file of the ``frames.parquet`` folder. Everything is written into a
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
        episodes = []
        for i, (frames, e) in enumerate(_chunks(plan, config, int(seed), chunk_frames, progress)):
            frames.to_parquet(parts / f"part-{i:05d}.parquet", index=False)
            episodes.append(e)
        _io.write_csv(tmp / "manifest.csv", _manifest(plan, config))
        _io.write_csv(tmp / "episodes.csv", _episodes_table(episodes))
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


def moment_rates(corpus) -> pd.DataFrame:
    """Planted moments per minute of answers, per candidate and kind (simulated corpora).

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
        A corpus with ``episodes`` (ground truth).

    Returns
    -------
    pandas.DataFrame
        One row per candidate and kind: ``candidate_id``, ``position_id``, ``label``, the
        attribute column if any, ``kind``, ``linked``, ``count``, ``minutes`` (total answer time)
        and ``rate_per_min``. Candidates without a moment of a kind get a count of 0.

    Raises
    ------
    ValueError
        If the corpus has no episodes.
    """
    if corpus.episodes is None:
        raise ValueError("moment_rates needs a simulated corpus with episodes (ground truth)")
    m = corpus.manifest
    if "duration_s" in m.columns:
        seconds = m.set_index("answer_id")["duration_s"]
    else:
        seconds = corpus.frames.groupby("answer_id")["time_s"].max() + 1.0 / corpus.frame_rate
    minutes = seconds.reindex(m["answer_id"]).groupby(m["candidate_id"].to_numpy()).sum() / 60.0
    e = corpus.episodes.merge(m[["answer_id", "candidate_id"]], on="answer_id")
    kinds = list(dict.fromkeys([*KINDS, *e["kind"].astype(str)]))
    counts = (e.groupby(["candidate_id", "kind"]).size().unstack("kind")
              .reindex(index=minutes.index, columns=kinds).fillna(0).astype(int))
    table = counts.stack().rename("count").reset_index()
    table.columns = ["candidate_id", "kind", "count"]
    table["linked"] = table["kind"].isin(LINKED_KINDS)
    table["minutes"] = table["candidate_id"].map(minutes)
    table["rate_per_min"] = table["count"] / table["minutes"]
    table = corpus.candidates.merge(table, on="candidate_id")
    return table
