"""Where do slices fall, and do they find the planted moments? Positions and ground-truth recovery.

- :func:`slice_positions`, :func:`location_of`: duration and place of each slice in its answer
  (start = first 20 %, end = last 20 %, middle).
- :func:`recovery`: on a simulated corpus, how often slices hit the planted moments, and the
  preference for label-linked over label-free moments.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .slices import _as_table

__all__ = ["recovery", "slice_positions", "location_of", "EDGE_FRACTION"]

#: Fractions of an answer that count as its start and its end.
EDGE_FRACTION = 0.2


def location_of(relative_time) -> np.ndarray:
    """``start`` (first 20 % of the answer), ``end`` (last 20 %) or ``middle``."""
    r = np.asarray(relative_time, dtype=np.float64)
    return np.where(r < EDGE_FRACTION, "start", np.where(r > 1 - EDGE_FRACTION, "end", "middle"))


def _answer_spans(corpus, answers) -> pd.DataFrame:
    frames = corpus.frames[corpus.frames["answer_id"].isin(set(answers))]
    span = frames.groupby("answer_id")["time_s"].agg(["min", "max"])
    missing = set(answers) - set(span.index)
    if missing:
        raise ValueError(f"answer {sorted(missing)[0]!r} has no frames in the corpus")
    return span.rename(columns={"min": "t0", "max": "t1"})


def slice_positions(slices, corpus) -> pd.DataFrame:
    """Duration and place of each slice in its answer.

    Returns
    -------
    pandas.DataFrame
        ``slice_id``, ``answer_id``, ``kind``, ``duration_s``, ``answer_duration_s``,
        ``relative_time`` (slice centre, 0 = answer start, 1 = end), ``relative_peak``
        (attention slices), ``location`` (start / middle / end, from the centre).
    """
    table = _as_table(slices)
    span = _answer_spans(corpus, table["answer_id"].unique())
    t0 = table["answer_id"].map(span["t0"]).to_numpy()
    t1 = table["answer_id"].map(span["t1"]).to_numpy()
    length = np.where(t1 > t0, t1 - t0, np.nan)
    centre = (table["start_s"].to_numpy() + table["end_s"].to_numpy()) / 2
    out = table[["slice_id", "answer_id", "kind"]].copy()
    out["duration_s"] = table["end_s"].to_numpy() - table["start_s"].to_numpy()
    out["answer_duration_s"] = t1 - t0
    out["relative_time"] = (centre - t0) / length
    peak = table["peak_s"].to_numpy(np.float64) if "peak_s" in table else np.full(len(table), np.nan)
    out["relative_peak"] = (peak - t0) / length
    out["location"] = location_of(out["relative_time"])
    return out


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, -np.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def _chance(duration: float, t0: float, t1: float, episodes: list[tuple[float, float]]) -> float:
    """Probability that a slice of ``duration`` with a uniform start in the answer overlaps an episode."""
    if not episodes:
        return 0.0
    last = t1 - duration
    if last <= t0:
        return 1.0 if any(a < t1 and b > t0 for a, b in episodes) else 0.0
    # Overlap when start in (a - duration, b); intersect with the allowed starts [t0, last].
    hits = [(max(a - duration, t0), min(b, last)) for a, b in episodes]
    hits = [(a, b) for a, b in hits if b > a]
    return _union_length(hits) / (last - t0)


def recovery(slices, episodes: pd.DataFrame, corpus, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """How often slices overlap the planted moments of a simulated corpus.

    For each kind of moment (``linked`` = the label-linked kinds, anxiety and positive, then
    each kind, ``distractor`` among them) and each location of the moment in the answer
    (``all``, ``start`` = centre in the first 20 %, ``middle``, ``end`` = last 20 %), among the
    answers that hold such a moment:

    ``p_attention``
        share of attention slices that overlap one (any positive-length intersection);
    ``p_random``
        the same for random slices (averaged over an answer's random slices);
    ``p_chance``
        the expected overlap of an interval of the attention slice's duration with a uniform
        start in the answer, computed exactly;
    ``ratio``
        ``p_attention / p_random``;
    ``preference`` (moment ``linked vs distractor``)
        ``(p_att(linked) / p_rand(linked)) / (p_att(distractor) / p_rand(distractor))``: the
        preference for label-linked over equally salient label-free moments, relative to
        random slices (1 = none; DESIGN section 6).

    Intervals come from a bootstrap over candidates (``n_boot`` resamples).

    Parameters
    ----------
    slices : SliceSet or pandas.DataFrame
    episodes : pandas.DataFrame
        ``answer_id``, ``kind``, ``start_s``, ``end_s``, optionally ``linked`` (bool; default:
        every kind but ``distractor`` is linked).
    corpus : toolkit.corpus.Corpus
        For the answers' spans.

    Returns
    -------
    pandas.DataFrame
        ``moment``, ``location``, ``metric``, ``value``, ``ci_low``, ``ci_high``, ``n_answers``.
    """
    table = _as_table(slices)
    missing = [c for c in ("answer_id", "kind", "start_s", "end_s") if c not in episodes.columns]
    if missing:
        raise ValueError(f"episodes: missing column(s) {missing}")
    att = table[table["kind"] == "attention"].drop_duplicates("answer_id").set_index("answer_id")
    if att.empty:
        raise ValueError("slices: no attention slice")
    rnd = table[(table["kind"] == "random") & table["answer_id"].isin(att.index)]
    answers = np.asarray(att.index, dtype=object)
    span = _answer_spans(corpus, answers)
    eps = episodes.assign(answer_id=episodes["answer_id"].astype(str))
    eps = eps[eps["answer_id"].isin(set(answers))].copy()
    if "linked" in eps.columns:
        linked = eps["linked"].astype(str).str.lower().isin(["true", "1"])
    else:
        linked = eps["kind"].astype(str) != "distractor"
    eps["linked"] = linked.to_numpy()
    t0 = eps["answer_id"].map(span["t0"]).to_numpy()
    t1 = eps["answer_id"].map(span["t1"]).to_numpy()
    centre = (eps["start_s"].to_numpy() + eps["end_s"].to_numpy()) / 2
    eps["location"] = location_of((centre - t0) / np.where(t1 > t0, t1 - t0, np.nan))

    groups = [("linked", eps["linked"].to_numpy(bool))]
    groups += [(k, (eps["kind"].astype(str) == k).to_numpy(bool)) for k in sorted(eps["kind"].astype(str).unique())]
    locations = ["all", "start", "middle", "end"]
    group_mask = np.stack([m for _, m in groups])                                   # (groups, episodes)
    loc_mask = np.stack([np.ones(len(eps), bool)] +
                        [(eps["location"] == loc).to_numpy(bool) for loc in locations[1:]])  # (locations, episodes)
    ep_start, ep_end = eps["start_s"].to_numpy(np.float64), eps["end_s"].to_numpy(np.float64)
    ep_answer = eps["answer_id"].to_numpy()
    rnd_by_answer = {a: g[["start_s", "end_s"]].to_numpy(np.float64) for a, g in rnd.groupby("answer_id")}
    n_a = len(answers)
    shape = (len(groups), len(locations), n_a)
    has, hit_att, hit_rnd, chance = (np.zeros(shape) for _ in range(4))
    order = np.argsort(ep_answer, kind="stable")
    bounds = np.searchsorted(ep_answer[order], answers, side="left"), np.searchsorted(ep_answer[order], answers,
                                                                                      side="right")
    att_start = att.loc[answers, "start_s"].to_numpy(np.float64)
    att_end = att.loc[answers, "end_s"].to_numpy(np.float64)
    for ai, a in enumerate(answers):
        idx = order[bounds[0][ai]:bounds[1][ai]]
        if len(idx) == 0:
            continue
        s_att, e_att = att_start[ai], att_end[ai]
        a0, a1 = ep_start[idx], ep_end[idx]
        over_att = (s_att < a1) & (e_att > a0)                                       # (episodes,)
        r = rnd_by_answer.get(a, np.empty((0, 2)))
        over_rnd = (r[:, [0]] < a1) & (r[:, [1]] > a0)                              # (random slices, episodes)
        member = group_mask[:, None, idx] & loc_mask[None, :, idx]                 # (groups, locations, episodes)
        present = member.any(axis=2)
        has[:, :, ai] = present
        hit_att[:, :, ai] = (member & over_att).any(axis=2)
        if len(r):
            hit_rnd[:, :, ai] = (member[:, :, None, :] & over_rnd[None, None]).any(axis=3).mean(axis=2)
        else:
            hit_rnd[:, :, ai] = np.nan
        t0, t1 = span.loc[a, "t0"], span.loc[a, "t1"]
        for gi, li in zip(*np.nonzero(present)):
            sel = member[gi, li]
            chance[gi, li, ai] = _chance(e_att - s_att, t0, t1, list(zip(a0[sel], a1[sel])))

    # Bootstrap weights over candidates, mapped to answers (weight 1 = the observed sample).
    cand = att.loc[answers, "candidate_id"].astype(str).to_numpy()
    codes, uniq = pd.factorize(cand)
    rng = np.random.default_rng(seed)
    W = rng.multinomial(len(uniq), np.full(len(uniq), 1 / len(uniq)), size=n_boot)[:, codes].astype(float)
    W = np.vstack([np.ones(n_a), W])  # row 0: the sample itself

    def rate(hits):
        with np.errstate(invalid="ignore", divide="ignore"):
            return (np.nan_to_num(hits * has) @ W.T) / (has @ W.T)  # (groups, locations, 1 + n_boot)

    p_att, p_rnd, p_chance = rate(hit_att), rate(hit_rnd), rate(chance)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = p_att / p_rnd
    n_answers = has.sum(axis=2)
    rows = []

    def add(moment, loc, metric, boot, n):
        ci = np.nanpercentile(boot[1:], [2.5, 97.5]) if np.isfinite(boot[1:]).any() else (np.nan, np.nan)
        rows.append((moment, loc, metric, float(boot[0]), float(ci[0]), float(ci[1]), int(n)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for gi, (name, _) in enumerate(groups):
            for li, loc in enumerate(locations):
                if n_answers[gi, li] == 0:
                    continue
                for metric, arr in [("p_attention", p_att), ("p_random", p_rnd), ("p_chance", p_chance),
                                    ("ratio", ratio)]:
                    add(name, loc, metric, arr[gi, li], n_answers[gi, li])
        names = [g[0] for g in groups]
        if "distractor" in names:
            di = names.index("distractor")
            for li, loc in enumerate(locations):
                if n_answers[0, li] and n_answers[di, li]:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        pref = ratio[0, li] / ratio[di, li]
                    add("linked vs distractor", loc, "preference", pref, min(n_answers[0, li], n_answers[di, li]))
    return pd.DataFrame(rows, columns=["moment", "location", "metric", "value", "ci_low", "ci_high", "n_answers"])
