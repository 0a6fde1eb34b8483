"""Key moments with a positive or negative impact on the decision (the poster's first future direction).

A **key moment** is a peak of an answer's attention curve above the uniform level, cut by the slice
rule of :mod:`toolkit.slices` (moving average, half-prominence boundaries, 0.5 to 4 s): the highest
peak of an answer gives its attention slice (rank 0), the lower ones are kept when they do not
overlap a higher one (:func:`key_moments`).

The **signed impact** of a moment is how much it moves the candidate's score, in logits, on the model
of the fold that never saw the candidate (:func:`impacts`), by two methods:

occlusion
    the windows of the moment replaced by the same answer's usual values (its mean over the frames
    with a face); ``impact_occlusion = logit(observed) - logit(occluded)``: positive when the
    moment raises the candidate's score, negative when it lowers it;
integrated gradients (Sundararajan et al. 2017)
    the attribution of the logit to every input window along the straight path from a baseline in
    which every window of every answer holds its answer's usual values to the observed input
    (midpoint rule, ``steps`` points), summed over the moment's windows and the features:
    ``impact_ig``. The attributions of all windows add up to ``logit(observed) - logit(baseline)``
    up to the error of the sum (:func:`integrated_gradients` returns both).

Both work on what the network reads: frames averaged in windows of ``pool`` frames, standardised
with the fold's standardiser; a window with no frame with a face stays masked.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from . import slices as slices_mod

__all__ = ["MOMENT_COLUMNS", "key_moments", "impacts", "integrated_gradients", "by_expression", "plot_candidate"]

#: The columns of :func:`key_moments`; :func:`impacts` adds ``fold``, ``logit``, ``score``,
#: ``impact_occlusion`` and ``impact_ig``.
MOMENT_COLUMNS = ("moment_id", "answer_id", "candidate_id", "question", "rank", "start_s", "end_s", "peak_s",
                  "attention")


# --------------------------------------------------------------------------- key moments

def _answer_moments(t: np.ndarray, w: np.ndarray, smooth_s: float, min_s: float, max_s: float) -> list[dict]:
    """Every peak of one answer above uniform, highest first, each cut by the slice rule, none overlapping."""
    keep = np.isfinite(w) & np.isfinite(t)
    t, w = t[keep], w[keep]
    if len(w) < 3 or w.sum() <= 0 or t[-1] - t[0] < min_s:
        return []
    # the slice rule's own peaks, so that rank 0 is the attention slice
    s, uniform, peaks = slices_mod.peaks_above_uniform(t, w / w.sum(), smooth_s)
    if peaks is None:
        return []
    order = peaks[np.argsort(-s[peaks], kind="stable")]
    kept: list[dict] = []
    for i in order:
        _, left, right = slices_mod._half_prominence(t, s, int(i))
        start, end = slices_mod._clip_duration(left, right, float(t[i]), float(t[0]), float(t[-1]), min_s, max_s)
        if any(start < m["end_s"] and m["start_s"] < end for m in kept):
            continue
        kept.append({"start_s": start, "end_s": end, "peak_s": float(t[i]), "attention": float(s[i] / uniform)})
    return kept


def key_moments(attention: pd.DataFrame, corpus, question: int | None = None, smooth_s: float = 0.5,
                min_s: float = 0.5, max_s: float = 4.0) -> pd.DataFrame:
    """Every key moment of the answers: peaks of attention above the uniform level, cut by the slice rule.

    Parameters
    ----------
    attention : pandas.DataFrame
        ``answer_id``, ``time_s``, ``weight`` (a run's out-of-fold attention).
    corpus : toolkit.corpus.Corpus
        Gives each answer's candidate and question.
    question : int, optional
        Only the answers to this question (default: every question).
    smooth_s, min_s, max_s : float
        The slice rule (:func:`toolkit.slices.find_slice`).

    Returns
    -------
    pandas.DataFrame
        :data:`MOMENT_COLUMNS`, one row per moment: ``rank`` 0 is the answer's attention slice
        (the same as :func:`toolkit.slices.attention_slice`), ``attention`` the smoothed peak
        over the uniform level (2: twice the uniform weight).
    """
    for col in ("answer_id", "time_s", "weight"):
        if col not in attention.columns:
            raise ValueError(f"attention table: missing column {col!r}")
    manifest = corpus.manifest.set_index("answer_id")
    unknown = sorted(set(attention["answer_id"].astype(str)) - set(manifest.index.astype(str)))
    if unknown:
        raise ValueError(f"attention table: answer_id {unknown[0]!r} is not in the corpus manifest")
    rows = []
    table = attention[["answer_id", "time_s", "weight"]].assign(answer_id=attention["answer_id"].astype(str))
    # as in the slice rule: frames without a face carry no weight and do not count in the uniform level
    frames = corpus.frames.loc[corpus.frames["answer_id"].isin(set(table["answer_id"])),
                               ["answer_id", "time_s", "success"]]
    table = table.merge(frames.assign(answer_id=frames["answer_id"].astype(str)), on=["answer_id", "time_s"],
                        how="left")
    table.loc[table["success"].eq(False).fillna(False).to_numpy(bool), "weight"] = np.nan
    table = table.sort_values(["answer_id", "time_s"], kind="stable")
    for answer_id, part in table.groupby("answer_id", sort=False):
        info = manifest.loc[answer_id]
        if question is not None and int(info["question"]) != question:
            continue
        found = _answer_moments(part["time_s"].to_numpy(float), part["weight"].to_numpy(float), smooth_s, min_s,
                                max_s)
        for rank, m in enumerate(found):
            rows.append({"moment_id": f"{answer_id}:m{rank}", "answer_id": answer_id,
                         "candidate_id": str(info["candidate_id"]), "question": int(info["question"]), "rank": rank,
                         **m})
    out = pd.DataFrame(rows, columns=list(MOMENT_COLUMNS))
    for col in ("moment_id", "answer_id", "candidate_id"):
        out[col] = out[col].astype("string")
    return out.astype({"question": "int64", "rank": "int64"})


# --------------------------------------------------------------------------- signed impact

def integrated_gradients(model, batch: dict, baseline: torch.Tensor, steps: int = 16):
    """Integrated gradients of one candidate's logit with respect to its input windows.

    Parameters
    ----------
    model : toolkit.model.HireNet
    batch : dict
        One candidate (:func:`toolkit.training._collate` of a single candidate).
    baseline : Tensor
        The baseline input, the shape of ``batch["x"]``.
    steps : int
        Points of the midpoint rule along the path.

    Returns
    -------
    attributions : Tensor
        The shape of ``batch["x"]``: (input - baseline) x the mean gradient along the path.
    gap : float
        ``logit(input) - logit(baseline)``, which the attributions add up to (completeness).
    """
    x = batch["x"]
    n_answers = x.shape[0]
    alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps
    path = baseline[None] + alphas[:, None, None, None] * (x - baseline)[None]
    path = path.reshape(steps * n_answers, *x.shape[1:]).detach().requires_grad_(True)
    index = torch.arange(steps * n_answers, device=x.device).reshape(steps, n_answers)
    index = torch.where(batch["answer_index"][0][None, :] >= 0, index, torch.full_like(index, -1))
    with torch.enable_grad():
        logits, _, _ = model(path, batch["lengths"].repeat(steps), batch["frame_mask"].repeat(steps, 1),
                             batch["questions"].repeat(steps), index)
        (grad,) = torch.autograd.grad(logits.sum(), path)
    mean_grad = grad.reshape(steps, *x.shape).mean(0)
    with torch.no_grad():
        ends = torch.stack([baseline, x]).reshape(2 * n_answers, *x.shape[1:])
        end_index = torch.arange(2 * n_answers, device=x.device).reshape(2, n_answers)
        end_logits, _, _ = model(ends, batch["lengths"].repeat(2), batch["frame_mask"].repeat(2, 1),
                                 batch["questions"].repeat(2), end_index)
    return (x - baseline) * mean_grad, float(end_logits[1] - end_logits[0])


def _windows(data, answer: int, start_s: float, end_s: float) -> np.ndarray:
    """The measured windows of an answer that hold a frame of [start_s, end_s]."""
    t = data.times[answer]
    frames = np.flatnonzero((t >= start_s) & (t <= end_s))
    windows = np.unique(frames // data.pool)
    counts = data.counts[answer]
    return windows[counts[windows] > 0]


@torch.no_grad()
def _occlusion(model, batch: dict, baseline: torch.Tensor, cuts: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """Logit of the candidate with each cut (row, windows) replaced by the baseline, one cut at a time."""
    x = batch["x"]
    n_answers = x.shape[0]
    m = len(cuts)
    occluded = x[None].repeat(m, 1, 1, 1)
    for j, (row, windows) in enumerate(cuts):
        w = torch.as_tensor(windows, dtype=torch.long, device=x.device)
        occluded[j, row, w] = baseline[row, w]
    index = torch.arange(m * n_answers, device=x.device).reshape(m, n_answers)
    logits, _, _ = model(occluded.reshape(m * n_answers, *x.shape[1:]), batch["lengths"].repeat(m),
                         batch["frame_mask"].repeat(m, 1), batch["questions"].repeat(m), index)
    return logits.double().cpu().numpy()


def impacts(run, corpus, moments: pd.DataFrame, steps: int = 16, progress: bool = False) -> pd.DataFrame:
    """The signed impact of every key moment on its candidate's out-of-fold score (occlusion, integrated gradients).

    Parameters
    ----------
    run : toolkit.runs.Run
        A run folder with its checkpoints: each candidate is scored by the model of its fold.
    corpus : toolkit.corpus.Corpus
        The corpus the run was trained on.
    moments : pandas.DataFrame
        :func:`key_moments` of the run's attention.
    steps : int
        Points of the integrated-gradients path.
    progress : bool

    Returns
    -------
    pandas.DataFrame
        ``moments`` with ``fold``, ``logit`` (the candidate's observed out-of-fold logit), ``score``
        (its probability), ``impact_occlusion`` and ``impact_ig`` (in logits; positive: the moment
        raises the score).
    """
    from . import runs, training

    missing = [c for c in MOMENT_COLUMNS if c not in moments.columns]
    if missing:
        raise ValueError(f"moments table: missing column(s) {missing}")
    fold_of = run.predictions.assign(candidate_id=run.predictions["candidate_id"].astype(str)).set_index(
        "candidate_id")["fold"]
    unknown = sorted(set(moments["candidate_id"].astype(str)) - set(fold_of.index))
    if unknown:
        raise ValueError(f"moments table: candidate {unknown[0]!r} has no out-of-fold score in the run")
    out = []
    by_candidate = {str(c): g for c, g in moments.groupby(moments["candidate_id"].astype(str), sort=False)}
    folds = sorted(fold_of.reindex(list(by_candidate)).unique())
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(by_candidate), desc="impact of key moments", unit="candidate")
    for k in folds:
        model, standardiser = runs.load_model(run.path, int(k))
        for p in model.parameters():
            p.requires_grad_(False)
        cfg = model.config
        candidates = [c for c in by_candidate if fold_of[c] == k]
        data = training._prepare(corpus.subset(candidate_ids=candidates), cfg.features, cfg.pool, cfg.n_questions)
        answer_row = {aid: i for i, aid in enumerate(data.answer_ids)}
        mean = standardiser.mean.astype(np.float32)
        std = standardiser.std.astype(np.float32)
        for c, candidate_id in enumerate(data.candidate_ids):
            mine = by_candidate.get(str(candidate_id))
            if mine is None or len(data.answers_of[c]) == 0:
                continue
            batch = training._collate(data, [c], standardiser, "cpu")
            answers = list(batch["answers"])
            usual = np.stack([((data.sums[a] / data.n_success[a]).astype(np.float32) - mean) / std for a in answers])
            baseline = torch.where(batch["frame_mask"][..., None], torch.from_numpy(usual)[:, None, :],
                                   torch.zeros((), dtype=batch["x"].dtype))
            cuts, rows = [], []
            for moment in mine.itertuples(index=False):
                a = answer_row.get(str(moment.answer_id))
                if a is None or a not in answers:  # an answer without a face: nothing to occlude
                    continue
                cuts.append((answers.index(a), _windows(data, a, moment.start_s, moment.end_s)))
                rows.append(moment)
            if not cuts:
                continue
            with torch.no_grad():
                logit = float(model(batch["x"], batch["lengths"], batch["frame_mask"], batch["questions"],
                                    batch["answer_index"])[0][0])
            occluded = _occlusion(model, batch, baseline, cuts)
            attributions, _ = integrated_gradients(model, batch, baseline, steps=steps)
            per_window = attributions.sum(-1).double().cpu().numpy()
            for (row, windows), moment, occ in zip(cuts, rows, occluded):
                out.append({**moment._asdict(), "fold": int(k), "logit": logit, "score": 1 / (1 + np.exp(-logit)),
                            "impact_occlusion": logit - float(occ),
                            "impact_ig": float(per_window[row, windows].sum())})
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    columns = [*MOMENT_COLUMNS, "fold", "logit", "score", "impact_occlusion", "impact_ig"]
    table = pd.DataFrame(out, columns=columns)
    for col in ("moment_id", "answer_id", "candidate_id"):
        table[col] = table[col].astype("string")
    return table


# --------------------------------------------------------------------------- what pushes which way

def by_expression(table: pd.DataFrame, method: str = "impact_occlusion", min_moments: int = 10,
                  n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Mean impact of the key moments grouped by the expression that sets them apart.

    Each moment is labelled by its most deviating AU: the ``*_delta`` feature (slice mean minus the
    answer's usual) with the largest absolute value once every feature is divided by its standard
    deviation over the moments, and its direction ("AU45 up": eyes more closed than usual). Per
    label: the number of moments and candidates, the mean impact and a 95 % bootstrap interval that
    resamples candidates (a candidate's moments share a model input and a score).

    Parameters
    ----------
    table : pandas.DataFrame
        Moments with impacts and slice features (:func:`toolkit.stages.moments`).
    method : {"impact_occlusion", "impact_ig"}
    min_moments : int
        Groups with fewer moments are left out.
    n_boot, seed : int
        Bootstrap replicates and seed.

    Returns
    -------
    pandas.DataFrame
        ``expression``, ``au``, ``direction``, ``n_moments``, ``n_candidates``, ``mean_impact``,
        ``ci_low``, ``ci_high``, sorted by ``mean_impact``.
    """
    if method not in ("impact_occlusion", "impact_ig"):
        raise ValueError(f"method: 'impact_occlusion' or 'impact_ig', got {method!r}")
    deltas = [c for c in table.columns if c.endswith("_delta")]
    if not deltas:
        raise ValueError("moments table: no *_delta feature column (use toolkit.stages.moments, which adds them)")
    if method not in table.columns:
        raise ValueError(f"moments table: no {method!r} column")
    usable = table.dropna(subset=[method]).copy()
    z = usable[deltas].astype(float) / usable[deltas].astype(float).std(ddof=0).replace(0, np.nan)
    usable = usable[z.notna().any(axis=1)]
    z = z.loc[usable.index]
    top = z.abs().fillna(-1).to_numpy().argmax(1)
    au = np.array([deltas[i].removesuffix("_delta") for i in top])
    up = z.to_numpy()[np.arange(len(z)), top] > 0
    usable["au"], usable["direction"] = au, np.where(up, "up", "down")
    usable["expression"] = usable["au"] + " " + usable["direction"]
    rng = np.random.default_rng(seed)
    rows = []
    for expression, g in usable.groupby("expression", sort=True):
        if len(g) < min_moments:
            continue
        codes, _ = pd.factorize(g["candidate_id"])
        sums = np.bincount(codes, weights=g[method].to_numpy(float))
        counts = np.bincount(codes).astype(float)
        draws = rng.integers(0, len(sums), size=(n_boot, len(sums)))
        boot = sums[draws].sum(1) / counts[draws].sum(1)
        rows.append({"expression": expression, "au": g["au"].iloc[0], "direction": g["direction"].iloc[0],
                     "n_moments": len(g), "n_candidates": len(sums), "mean_impact": float(g[method].mean()),
                     "ci_low": float(np.quantile(boot, 0.025)), "ci_high": float(np.quantile(boot, 0.975))})
    out = pd.DataFrame(rows, columns=["expression", "au", "direction", "n_moments", "n_candidates", "mean_impact",
                                      "ci_low", "ci_high"])
    return out.sort_values("mean_impact", ignore_index=True)


# --------------------------------------------------------------------------- feedback view

def plot_candidate(corpus, attention: pd.DataFrame, table: pd.DataFrame, candidate_id: str,
                   method: str = "impact_occlusion", aus=("AU45", "AU12", "AU20", "AU23"), axes=None):
    """One candidate's interview, answer by answer: AU traces, attention, and the key moments by impact.

    Each row is one answer (question order): the AU traces (thin lines, left axis), the attention
    curve smoothed as by the slice rule (black, right axis) and every key moment shaded by the sign
    of its impact (blue: raises the candidate's score, orange: lowers it), darker the larger the
    impact, with the impact in logits written above it.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
    attention : pandas.DataFrame
        The run's attention (``answer_id``, ``time_s``, ``weight``).
    table : pandas.DataFrame
        :func:`impacts` (or ``moments.parquet`` of a run folder).
    candidate_id : str
    method : {"impact_occlusion", "impact_ig"}
    aus : sequence of str
        The AU traces to draw (those the corpus has).
    axes : sequence of matplotlib Axes, optional
        One per answer.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from .plots import COLORS, OKABE_ITO

    if method not in ("impact_occlusion", "impact_ig"):
        raise ValueError(f"method: 'impact_occlusion' or 'impact_ig', got {method!r}")
    candidate_id = str(candidate_id)
    manifest = corpus.manifest[corpus.manifest["candidate_id"].astype(str) == candidate_id].sort_values("question")
    if manifest.empty:
        raise ValueError(f"candidate_id {candidate_id!r} is not in the corpus manifest")
    mine = table[table["candidate_id"].astype(str) == candidate_id]
    if axes is None:
        fig, axes = plt.subplots(len(manifest), 1, figsize=(9, 1.9 * len(manifest) + 0.6), squeeze=False)
        axes = axes[:, 0]
    fig = axes[0].figure
    scale = float(mine[method].abs().max()) if len(mine) else 0.0
    palette = [OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["green"], OKABE_ITO["purple"]]
    for ax, answer in zip(axes, manifest.itertuples(index=False)):
        frames = corpus.answer_frames(answer.answer_id)
        measured = frames[frames["success"].astype(bool)]
        for i, au in enumerate(a for a in aus if a in frames.columns):
            ax.plot(measured["time_s"], measured[au], lw=0.7, color=palette[i % len(palette)], alpha=0.8, label=au)
        ax.set_ylabel(f"question {answer.question}\nAU intensity", fontsize=9)
        curve = attention[attention["answer_id"].astype(str) == str(answer.answer_id)].sort_values("time_s")
        twin = ax.twinx()
        if len(curve) >= 3 and curve["weight"].sum() > 0:
            w = curve["weight"].to_numpy(float)
            t = curve["time_s"].to_numpy(float)
            twin.plot(t, slices_mod.smooth(t, w / w.sum(), 0.5) * len(w), color="black", lw=1.2, label="attention")
            twin.axhline(1.0, color=COLORS["null"], ls=":", lw=0.8)
        twin.set_ylabel("attention\n(x uniform)", fontsize=9)
        twin.grid(False)
        for m in mine[mine["answer_id"].astype(str) == str(answer.answer_id)].itertuples(index=False):
            value = getattr(m, method)
            color = COLORS["invited"] if value > 0 else COLORS["not invited"]
            strength = abs(value) / scale if scale > 0 else 0.0
            ax.axvspan(m.start_s, m.end_s, color=color, alpha=0.15 + 0.5 * strength, lw=0)
            ax.annotate(f"{value:+.2f}", ((m.start_s + m.end_s) / 2, 1.0), xycoords=("data", "axes fraction"),
                        ha="center", va="bottom", fontsize=7, color=color)
    axes[-1].set_xlabel("time in the answer (s)")
    label = manifest["label"].iloc[0]
    score = f", out-of-fold score {mine['score'].iloc[0]:.2f}" if len(mine) else ""
    fig.suptitle(f"candidate {candidate_id} ({'invited' if label == 1 else 'not invited'}{score}); key moments: "
                 f"blue raises the score, orange lowers it ({method.replace('impact_', '')}, logits)", fontsize=10)
    handles, names = axes[0].get_legend_handles_labels()
    if handles:
        axes[0].legend(handles, names, loc="upper left", fontsize=7, ncols=len(handles))
    fig.tight_layout()
    return fig
