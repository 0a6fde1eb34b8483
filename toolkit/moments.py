"""Key moments with a positive or negative impact on the decision (the poster's first future direction).

A **key moment** is a peak of an answer's attention curve above the uniform level, cut by the slice
rule of :mod:`toolkit.slices` (moving average, half-prominence boundaries, 0.5 to 4 s): the highest
peak of an answer gives its attention slice (rank 0), the lower ones are kept when they do not
overlap a higher one (:func:`key_moments`).

The **signed impact** of a moment is how much it moves the candidate's score, in logits, on the model
of the fold that never saw the candidate (:func:`impacts`), by two methods:

occlusion
    the moment taken out and the candidate scored again: ``impact_occlusion = logit(observed) -
    logit(without the moment)``, positive when the moment raises the candidate's score. By default
    the moment is left out of its answer's frame attention (the other windows' weights
    renormalised); ``occlusion="usual"`` instead replaces its windows by the answer's usual values
    (its mean over the frames with a face) and encodes the answer again;
integrated gradients (Sundararajan et al. 2017, with Captum)
    the attribution of the logit along the straight path from a baseline in which every window of
    every answer holds its answer's usual values to the observed input, summed over the moment's
    windows: ``impact_ig``. The attributions of all windows add up to ``logit(observed) -
    logit(baseline)`` (completeness). By default they attribute to each window's contribution
    :math:`a_t h_t` to its answer vector, which runs the network twice; ``attribution="states"``
    (the frame GRU's states) and ``attribution="input"`` (the input windows, the whole network at
    every point of the path) cost more (``benchmarks/bench_moments.py`` compares all of them).

Both work on what the network reads: frames averaged in windows of ``pool`` frames, standardised
with the fold's standardiser; a window with no frame with a face stays masked.

:func:`by_expression` groups moments by the AU that sets them apart, beside null reference networks;
:func:`plot_candidate` and :func:`feedback_html` draw one candidate's interview (the feedback view).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import runs, training
from . import slices as slices_mod

__all__ = ["MOMENT_COLUMNS", "OCCLUSIONS", "ATTRIBUTIONS", "key_moments", "impacts", "integrated_gradients",
           "by_expression", "plot_candidate", "feedback_html", "still_frames", "PLANTED_SIGN", "planted_truth",
           "sign_recovery"]

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

#: Ways of taking a moment out (:func:`impacts` ``occlusion``).
OCCLUSIONS = ("attention", "usual")
#: Where integrated gradients attribute (:func:`impacts` ``attribution``), cheapest first.
ATTRIBUTIONS = ("contributions", "states", "input")


def _contributions(model, x, lengths, mask, questions) -> torch.Tensor:
    """Each window's contribution a_t h_t to its answer vector, (answers, steps, states)."""
    h = model.encode_frames(x, lengths)
    _, weights = model.attend_frames(h, mask, questions)
    return weights[..., None] * h


def _candidate_major(t: torch.Tensor, answer_index: torch.Tensor) -> torch.Tensor:
    """Rows of ``t`` (answers, ...) laid out as (candidates, answers, ...), zeros where a candidate has no answer."""
    padded = torch.cat([t, t.new_zeros((1, *t.shape[1:]))])
    index = torch.where(answer_index >= 0, answer_index, torch.full_like(answer_index, t.shape[0]))
    return padded[index]


def _logit_of_states(model, frame_mask, questions, present):
    """Candidate logits as a function of the frame states laid out (candidates, answers, steps, states)."""

    def forward(h4, *_):
        n_candidates, n_answers = h4.shape[:2]
        h = h4.reshape(n_candidates * n_answers, *h4.shape[2:])
        repeat = n_candidates // present.shape[0]  # captum stacks the path's points along the first axis
        vectors, _ = model.attend_frames(h, frame_mask.repeat(repeat, 1), questions.repeat(repeat))
        index = torch.arange(n_candidates * n_answers, device=h4.device).reshape(n_candidates, n_answers)
        index = torch.where(present.repeat(repeat, 1), index, torch.full_like(index, -1))
        return model.decide(vectors, index)[0]

    return forward


def _ig_of_contributions(model, observed: torch.Tensor, reference: torch.Tensor, answer_index: torch.Tensor,
                         steps: int):
    """Integrated gradients with respect to the windows' contributions a_t h_t (answers, steps, states).

    The logit depends on the contributions only through their sums, the answer vectors, so the
    integrated gradient of every window of an answer is that of its answer vector along the path
    from the baseline's answer vectors (Captum, without the input factor); a window's attribution
    is its change of contribution times that gradient, summed over the states.
    """
    from captum.attr import IntegratedGradients

    present = answer_index >= 0

    def forward(s4):
        repeat = s4.shape[0] // present.shape[0]  # captum stacks the path's points along the first axis
        index = torch.arange(s4.shape[0] * s4.shape[1]).reshape(s4.shape[:2])
        index = torch.where(present.repeat(repeat, 1), index, torch.full_like(index, -1))
        return model.decide(s4.reshape(-1, s4.shape[-1]), index)[0]

    s4 = _candidate_major(observed.sum(1), answer_index)
    b4 = _candidate_major(reference.sum(1), answer_index)
    with torch.enable_grad():
        gradient4 = IntegratedGradients(forward, multiply_by_inputs=False).attribute(s4, baselines=b4, n_steps=steps)
    with torch.no_grad():
        gap = forward(s4) - forward(b4)
    per_window = torch.einsum("atd,ad->at", observed - reference, gradient4[present])
    return per_window.detach(), gap.detach()


def _logit_of_input(model, lengths, frame_mask, questions, present):
    """Candidate logits as a function of the input windows laid out (candidates, answers, steps, features)."""

    def forward(x4, *_):
        n_candidates, n_answers = x4.shape[:2]
        x = x4.reshape(n_candidates * n_answers, *x4.shape[2:])
        repeat = n_candidates // present.shape[0]
        index = torch.arange(n_candidates * n_answers, device=x4.device).reshape(n_candidates, n_answers)
        index = torch.where(present.repeat(repeat, 1), index, torch.full_like(index, -1))
        return model(x, lengths.repeat(repeat), frame_mask.repeat(repeat, 1), questions.repeat(repeat), index)[0]

    return forward


def integrated_gradients(model, batch: dict, baseline: torch.Tensor, steps: int = 16, at: str = "input",
                         internal_batch_size: int | None = None):
    """Integrated gradients of each candidate's logit (Captum), per answer and window.

    Parameters
    ----------
    model : toolkit.model.HireNet
    batch : dict
        Candidates as :func:`toolkit.training._collate` gives them (``x``, ``lengths``,
        ``frame_mask``, ``questions``, ``answer_index``).
    baseline : Tensor
        The baseline input, the shape of ``batch["x"]``.
    steps : int
        Points of Captum's Gauss-Legendre rule along the path.
    at : {"input", "states", "contributions"}
        ``"input"``: attribute to the input windows (the path runs from ``baseline`` to the input
        through the whole network, ``steps`` times); ``"states"``: attribute to the frame GRU's
        states, the path running from the states of ``baseline`` to the observed states through the
        frame attention and the interview level; ``"contributions"``: attribute to each window's
        contribution :math:`a_t h_t` to its answer vector, the path running from the baseline's
        contributions through the interview level only (the GRU and the attention run twice, not
        ``steps`` times). All three add up to the same gap (completeness).
    internal_batch_size : int, optional
        Candidates per forward pass along the path (Captum), to bound memory.

    Returns
    -------
    attributions : Tensor (answers, steps)
        Summed over the features (or states) of each window, rows as in ``batch["x"]``.
    gap : Tensor (candidates,)
        ``logit(input) - logit(baseline)`` of each candidate, which its attributions add up to
        (completeness) up to the error of the rule.
    """
    from captum.attr import IntegratedGradients

    if at not in ATTRIBUTIONS:
        raise ValueError(f"at: one of {ATTRIBUTIONS}, got {at!r}")
    x, lengths, mask = batch["x"], batch["lengths"], batch["frame_mask"]
    questions, answer_index = batch["questions"], batch["answer_index"]
    present = answer_index >= 0
    # padded answers of a candidate: one masked step, never attended
    lengths4 = torch.where(present, _candidate_major(lengths, answer_index), torch.ones((), dtype=lengths.dtype))
    lengths4 = lengths4.reshape(-1)
    mask4 = _candidate_major(mask, answer_index).reshape(-1, mask.shape[1])
    questions4 = _candidate_major(questions, answer_index).reshape(-1)
    with torch.no_grad():
        if at == "states":
            inputs = model.encode_frames(x, lengths)
            reference = model.encode_frames(baseline, lengths)
            forward = _logit_of_states(model, mask4, questions4, present)
        elif at == "contributions":
            observed = _contributions(model, x, lengths, mask, questions)
            return _ig_of_contributions(model, observed, _contributions(model, baseline, lengths, mask, questions),
                                        answer_index, steps)
        else:
            inputs, reference = x, baseline
            forward = _logit_of_input(model, lengths4, mask4, questions4, present)
    inputs4 = _candidate_major(inputs, answer_index)
    reference4 = _candidate_major(reference, answer_index)
    with torch.enable_grad():
        attributions4 = IntegratedGradients(forward).attribute(
            inputs4, baselines=reference4, n_steps=steps, internal_batch_size=internal_batch_size)
    with torch.no_grad():
        gap = forward(inputs4) - forward(reference4)
    # back to the rows of batch["x"], summed over features; masked windows attribute nothing
    per_window = attributions4.sum(-1)[present] * mask
    return per_window.detach(), gap.detach()


def _cut(data, answer: int, start_s: float, end_s: float) -> tuple[int, int]:
    """The windows ``lo:hi`` of an answer that hold a frame of [start_s, end_s] (``lo == hi``: none)."""
    t = data.times[answer]
    first = int(np.searchsorted(t, start_s, side="left"))
    last = int(np.searchsorted(t, end_s, side="right")) - 1
    if last < first:
        return 0, 0
    return first // data.pool, last // data.pool + 1


def _candidate_of(answer_index: torch.Tensor, n_rows: int) -> torch.Tensor:
    """The candidate (row of ``answer_index``) of every answer row."""
    candidate_of = torch.full((n_rows,), -1, dtype=torch.long)
    c, a = torch.nonzero(answer_index >= 0, as_tuple=True)
    candidate_of[answer_index[c, a]] = c
    return candidate_of


def _decide_with(model, vectors, answer_index, rows, replaced) -> np.ndarray:
    """Candidate logit with answer ``rows[j]``'s vector replaced by ``replaced[j]``, one replacement at a time."""
    index = answer_index[_candidate_of(answer_index, vectors.shape[0])[rows]]
    index = torch.where(index == rows[:, None], torch.arange(len(rows))[:, None] + vectors.shape[0], index)
    return model.decide(torch.cat([vectors, replaced.to(vectors.dtype)]), index)[0].double().cpu().numpy()


@torch.no_grad()
def _occlusion(model, batch: dict, baseline: torch.Tensor, rows, lo, hi, chunk: int = 512) -> np.ndarray:
    """Candidate logit with windows ``lo[j]:hi[j]`` of answer row ``rows[j]`` replaced by ``baseline``.

    Each cut is taken out alone: its answer is encoded again, and the interview level runs on the
    candidate's answer vectors with that answer's vector replaced.
    """
    x, lengths, mask, questions = batch["x"], batch["lengths"], batch["frame_mask"], batch["questions"]
    rows, lo, hi = (torch.as_tensor(np.asarray(v), dtype=torch.long) for v in (rows, lo, hi))
    vectors, _ = model.encode_answers(x, lengths, mask, questions)
    steps = torch.arange(x.shape[1])
    out = []
    for start in range(0, len(rows), chunk):
        r = rows[start:start + chunk]
        cut = (steps[None, :] >= lo[start:start + chunk, None]) & (steps[None, :] < hi[start:start + chunk, None])
        x_cut = torch.where(cut[..., None], baseline[r], x[r])
        occluded, _ = model.encode_answers(x_cut, lengths[r], mask[r], questions[r])
        out.append(_decide_with(model, vectors, batch["answer_index"], r, occluded))
    return np.concatenate(out) if out else np.zeros(0)


@torch.no_grad()
def _occlusion_by_attention(model, h, weights, answer_index, rows, lo, hi) -> np.ndarray:
    """Candidate logit with windows ``lo[j]:hi[j]`` of answer row ``rows[j]`` left out of its frame attention.

    The attention scores of the other windows do not depend on the cut, so the renormalised
    answer vector is ``(s - sum_cut a_t h_t) / (1 - sum_cut a_t)`` (zero when the cut holds all
    the attention, as the masked softmax gives), from cumulative sums over the windows: neither
    the GRU nor the attention layer runs again.
    """
    rows, lo, hi = (torch.as_tensor(np.asarray(v), dtype=torch.long) for v in (rows, lo, hi))
    if len(rows) == 0:
        return np.zeros(0)
    w = weights.double()
    wh = w[..., None] * h.double()
    cum_w = torch.cat([w.new_zeros(w.shape[0], 1), w.cumsum(1)], 1)
    cum_wh = torch.cat([wh.new_zeros(wh.shape[0], 1, wh.shape[2]), wh.cumsum(1)], 1)
    vectors = wh.sum(1)
    left = 1.0 - (cum_w[rows, hi] - cum_w[rows, lo])
    kept = vectors[rows] - (cum_wh[rows, hi] - cum_wh[rows, lo])
    occluded = torch.where(left[:, None] > 1e-9, kept / left.clamp_min(1e-9)[:, None], 0.0)
    return _decide_with(model, vectors.to(h.dtype), answer_index, rows, occluded)


def _chunk_impacts(model, batch: dict, baseline: torch.Tensor, rows, lo, hi, steps: int, occlusion: str,
                   attribution: str):
    """Observed logits, the logit with each cut taken out, and each cut's integrated gradients, for one batch."""
    x, lengths, mask, questions = batch["x"], batch["lengths"], batch["frame_mask"], batch["questions"]
    answer_index = batch["answer_index"]
    with torch.no_grad():
        h = model.encode_frames(x, lengths)
        vectors, weights = model.attend_frames(h, mask, questions)
        logits = model.decide(vectors, answer_index)[0].double().numpy()
    if occlusion == "attention":
        occluded = _occlusion_by_attention(model, h, weights, answer_index, rows, lo, hi)
    else:
        occluded = _occlusion(model, batch, baseline, rows, lo, hi)
    if attribution == "contributions":
        with torch.no_grad():
            reference = _contributions(model, baseline, lengths, mask, questions)
        per_window, _ = _ig_of_contributions(model, weights[..., None] * h, reference, answer_index, steps)
    else:
        per_window, _ = integrated_gradients(model, batch, baseline, steps=steps, at=attribution)
    cum = np.concatenate([np.zeros((per_window.shape[0], 1)), per_window.double().numpy().cumsum(1)], 1)
    ig = cum[rows, hi] - cum[rows, lo]
    return logits, occluded, ig


def _fold_impacts(run_path, k: int, corpus, moment_answer: np.ndarray, moment_candidate: np.ndarray,
                  start_s: np.ndarray, end_s: np.ndarray, steps: int, occlusion: str, attribution: str,
                  chunk: int, threads: int = 0):
    """The impacts of the moments of fold ``k``'s candidates (``corpus``: theirs only).

    ``moment_answer`` and ``moment_candidate`` index the corpus manifest's answers and its
    candidates in order of appearance (-1: an answer not in the manifest). Returns ``logit``, ``impact_occlusion`` and ``impact_ig`` per moment
    (NaN where there was nothing to take out). Runs in a worker process as well.
    """
    if threads:
        torch.set_num_threads(threads)
    model, standardiser = runs.load_model(run_path, int(k))
    for p in model.parameters():
        p.requires_grad_(False)
    cfg = model.config
    data = training._prepare(corpus, cfg.features, cfg.pool, cfg.n_questions)
    out = {name: np.full(len(moment_answer), np.nan) for name in ("logit", "impact_occlusion", "impact_ig")}
    mean = standardiser.mean.astype(np.float32)
    std = standardiser.std.astype(np.float32)
    usable = [c for c in range(len(data.candidate_ids)) if len(data.answers_of[c])]
    for first in range(0, len(usable), chunk):
        group = usable[first:first + chunk]
        batch = training._collate(data, group, standardiser, "cpu")
        answers = list(batch["answers"])
        row_of = np.full(len(data.answer_ids), -1)
        row_of[answers] = np.arange(len(answers))
        usual = np.stack([((data.sums[a] / data.n_success[a]).astype(np.float32) - mean) / std for a in answers])
        baseline = torch.where(batch["frame_mask"][..., None], torch.from_numpy(usual)[:, None, :],
                               torch.zeros((), dtype=batch["x"].dtype))
        # the moments of this batch on an answer with a face (an answer without one has nothing to take out)
        here = np.isin(moment_candidate, group) & (moment_answer >= 0)
        here[here] = row_of[moment_answer[here]] >= 0
        rows = row_of[moment_answer[here]]
        cuts = np.array([_cut(data, a, s0, s1) for a, s0, s1 in zip(moment_answer[here], start_s[here], end_s[here])],
                        dtype=np.int64).reshape(-1, 2)
        logits, occluded, ig = _chunk_impacts(model, batch, baseline, rows, cuts[:, 0], cuts[:, 1], steps, occlusion,
                                              attribution)
        logit = logits[np.searchsorted(np.asarray(group), moment_candidate[here])]
        out["logit"][here] = logit
        out["impact_occlusion"][here] = logit - occluded
        out["impact_ig"][here] = ig
    return out


def impacts(run, corpus, moments: pd.DataFrame, steps: int = 16, occlusion: str = "attention",
            attribution: str = "contributions", chunk: int = 32, workers: int | None = None,
            progress: bool = False) -> pd.DataFrame:
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
        Points of the integrated-gradients path (Captum's Gauss-Legendre rule).
    occlusion : {"attention", "usual"}
        How a moment is taken out: left out of its answer's frame attention (default; computed
        from the states of one pass of the GRU), or its windows replaced by the answer's usual
        values (the answer is encoded again for every moment, several times the cost).
    attribution : {"contributions", "states", "input"}
        Where integrated gradients attribute (:func:`integrated_gradients`): to each window's
        contribution to its answer vector (default, the cheapest), to the frame GRU's states, or to
        the input windows (the whole network ``steps`` times). ``benchmarks/bench_moments.py``
        compares them and their cost.
    chunk : int
        Candidates per batch.
    workers : int, optional
        Processes over folds (the training's worker pool); default: one per core, at most one per
        fold, on a corpus of at least 200,000 frames (as :func:`toolkit.training.fit`), else 1.
    progress : bool

    Returns
    -------
    pandas.DataFrame
        The rows of ``moments`` (in their order) with ``fold``, ``logit`` (the candidate's observed
        out-of-fold logit), ``score`` (its probability), ``impact_occlusion`` and ``impact_ig`` (in
        logits; positive: the moment raises the score). A moment of an answer without a tracked
        frame is left out (nothing to take out).
    """
    if occlusion not in OCCLUSIONS:
        raise ValueError(f"occlusion: one of {OCCLUSIONS}, got {occlusion!r}")
    if attribution not in ATTRIBUTIONS:
        raise ValueError(f"attribution: one of {ATTRIBUTIONS}, got {attribution!r}")
    missing = [c for c in MOMENT_COLUMNS if c not in moments.columns]
    if missing:
        raise ValueError(f"moments table: missing column(s) {missing}")
    fold_of = run.predictions.assign(candidate_id=run.predictions["candidate_id"].astype(str)).set_index(
        "candidate_id")["fold"]
    table = moments[list(MOMENT_COLUMNS)].reset_index(drop=True)
    candidate = table["candidate_id"].astype(str)
    unknown = sorted(set(candidate) - set(fold_of.index))
    if unknown:
        raise ValueError(f"moments table: candidate {unknown[0]!r} has no out-of-fold score in the run")
    answer = table["answer_id"].astype(str).to_numpy()
    start_s, end_s = table["start_s"].to_numpy(float), table["end_s"].to_numpy(float)
    result = {name: np.full(len(table), np.nan) for name in ("fold", "logit", "impact_occlusion", "impact_ig")}
    moment_fold = candidate.map(fold_of).to_numpy()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=candidate.nunique(), desc="impact of key moments", unit="candidate")
    jobs = []
    for k in sorted(pd.unique(moment_fold)):
        mine = np.flatnonzero(moment_fold == k)
        part = corpus.subset(candidate_ids=list(pd.unique(candidate.to_numpy()[mine])))
        # the rows of training._prepare(part): answers in manifest order, candidates in order of appearance
        answer_row = {str(aid): i for i, aid in enumerate(part.manifest["answer_id"])}
        code_of = {str(c): i for i, c in enumerate(pd.unique(part.manifest["candidate_id"]))}
        jobs.append((mine, (run.path, int(k), part, np.array([answer_row.get(a, -1) for a in answer[mine]]),
                            np.array([code_of[c] for c in candidate.to_numpy()[mine]]), start_s[mine], end_s[mine],
                            steps, occlusion, attribution, chunk)))
    n_workers = min(len(jobs), int(workers)) if workers is not None else (
        min(len(jobs), os.cpu_count() or 1) if len(corpus.frames) >= 200_000 else 1)
    if n_workers > 1:
        done = training._process_pool(n_workers).map(_fold_impacts, *zip(*[(*args, 1) for _, args in jobs]))
    else:
        done = (_fold_impacts(*args) for _, args in jobs)
    for (mine, args), part in zip(jobs, done):
        result["fold"][mine] = args[1]
        for name, values in part.items():
            result[name][mine] = values
        if bar is not None:
            bar.update(int(args[2].manifest["candidate_id"].nunique()))
    if bar is not None:
        bar.close()
    out = table.assign(fold=result["fold"], logit=result["logit"], score=1 / (1 + np.exp(-result["logit"])),
                       impact_occlusion=result["impact_occlusion"], impact_ig=result["impact_ig"])
    out = out[np.isfinite(result["logit"])].reset_index(drop=True)
    for col in ("moment_id", "answer_id", "candidate_id"):
        out[col] = out[col].astype("string")
    return out.astype({"fold": "int64"})


# --------------------------------------------------------------------------- planted truth

#: The sign a key moment should have by the kind of planted moment it overlaps (simulated corpora).
PLANTED_SIGN = {"anxiety": -1, "distractor": 0, "positive": 1, "hesitation": -1, "lively": 1}


def planted_truth(table: pd.DataFrame, episodes: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``planted``: the kind of the planted moment each key moment overlaps most ("none": none).

    Parameters
    ----------
    table : pandas.DataFrame
        Key moments (``answer_id``, ``start_s``, ``end_s``).
    episodes : pandas.DataFrame
        The corpus's planted moments (``episodes.csv``: ``answer_id``, ``kind``, ``start_s``, ``end_s``).
    """
    if episodes is None:
        raise ValueError("planted truth needs a simulated corpus's episodes (episodes.csv); this corpus has none")
    by_answer = {str(a): g for a, g in episodes.groupby("answer_id")}
    kinds = []
    for answer_id, start, end in zip(table["answer_id"].astype(str), table["start_s"], table["end_s"]):
        g = by_answer.get(answer_id)
        if g is None:
            kinds.append("none")
            continue
        overlap = (np.minimum(g["end_s"].to_numpy(), end) - np.maximum(g["start_s"].to_numpy(), start)).clip(min=0)
        kinds.append(str(g["kind"].iloc[int(overlap.argmax())]) if overlap.max() > 0 else "none")
    return table.assign(planted=kinds)


def _candidate_bootstrap(candidates: np.ndarray, statistic, n_boot: int, seed: int) -> tuple[float, float]:
    """95 % interval of ``statistic(rows)`` over ``n_boot`` resamples of the candidates (with their rows)."""
    codes, _ = pd.factorize(candidates)
    order = np.argsort(codes, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(codes))[:-1])
    rng = np.random.default_rng(seed)
    boot = [statistic(np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))]))
            for _ in range(n_boot)]
    return float(np.nanquantile(boot, 0.025)), float(np.nanquantile(boot, 0.975))


def sign_recovery(tables: dict, episodes: pd.DataFrame, methods=("impact_occlusion", "impact_ig"),
                  n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """How well the impacts recover the sign of the planted moments, per network and method.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        Moments with impacts (:func:`impacts`) by network name (e.g. ``trained``, ``untrained``,
        ``permuted``).
    episodes : pandas.DataFrame
        The corpus's planted moments.
    methods : sequence of str
    n_boot, seed : int
        Bootstrap replicates over candidates and seed.

    Returns
    -------
    pandas.DataFrame
        ``network``, ``method``, ``sign_accuracy`` (the share of the moments on a planted linked
        moment, anxiety-like or positive, whose impact has its sign), ``ci_low``, ``ci_high``,
        ``n_linked_moments``, ``spearman`` (rank correlation of the impact with the planted sign,
        anxiety -1, distractor 0, positive +1, over the moments on a planted moment),
        ``spearman_low``, ``spearman_high``; 95 % bootstrap intervals over candidates.
    """
    from scipy import stats as sps

    rows = []
    for network, table in tables.items():
        truth = planted_truth(table, episodes)
        on = truth[truth["planted"] != "none"]
        sign = on["planted"].map(PLANTED_SIGN).to_numpy(float)
        linked = sign != 0
        candidates = on["candidate_id"].astype(str).to_numpy()
        for method in methods:
            impact = on[method].to_numpy(float)
            correct = (np.sign(impact) == sign)[linked].astype(float)

            def spearman(r, impact=impact):
                return float(sps.spearmanr(impact[r], sign[r]).statistic) if len(r) > 2 else np.nan

            acc_low = acc_high = rho_low = rho_high = np.nan
            if linked.any():
                acc_low, acc_high = _candidate_bootstrap(candidates[linked], lambda r, c=correct: c[r].mean(), n_boot,
                                                         seed)
            if len(on) > 2:
                rho_low, rho_high = _candidate_bootstrap(candidates, spearman, n_boot, seed)
            rows.append({"network": network, "method": method,
                         "sign_accuracy": float(correct.mean()) if linked.any() else np.nan, "ci_low": acc_low,
                         "ci_high": acc_high, "n_linked_moments": int(linked.sum()),
                         "spearman": spearman(np.arange(len(on))), "spearman_low": rho_low,
                         "spearman_high": rho_high})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- what pushes which way

def _expression_groups(table: pd.DataFrame, method: str, min_moments: int, n_boot: int, seed: int) -> pd.DataFrame:
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
    return pd.DataFrame(rows, columns=["expression", "au", "direction", "n_moments", "n_candidates", "mean_impact",
                                       "ci_low", "ci_high"])


def by_expression(table: pd.DataFrame, method: str = "impact_occlusion", min_moments: int = 10,
                  n_boot: int = 2000, seed: int = 0, null: dict | None = None) -> pd.DataFrame:
    """Mean impact of the key moments grouped by the expression that sets them apart, beside null references.

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
    null : dict of str to pandas.DataFrame, optional
        The same table of null reference networks (:func:`toolkit.stages.moments_reference`), by
        name. Each adds ``<name>_mean``, ``<name>_ci_low`` and ``<name>_ci_high`` for the same
        expression (NaN where the reference has fewer than ``min_moments`` such moments).

    Returns
    -------
    pandas.DataFrame
        ``expression``, ``au``, ``direction``, ``n_moments``, ``n_candidates``, ``mean_impact``,
        ``ci_low``, ``ci_high``, then per reference its three columns and ``sign_counts``: the
        interval excludes 0 and every reference's interval (a sign only counts where it leaves
        the null references); sorted by ``mean_impact``.
    """
    if method not in ("impact_occlusion", "impact_ig"):
        raise ValueError(f"method: 'impact_occlusion' or 'impact_ig', got {method!r}")
    out = _expression_groups(table, method, min_moments, n_boot, seed)
    counts = (out["ci_low"] > 0) | (out["ci_high"] < 0)
    for name, reference in (null or {}).items():
        groups = _expression_groups(reference, method, min_moments, n_boot, seed).set_index("expression")
        mean = out["expression"].map(groups["mean_impact"])
        low = out["expression"].map(groups["ci_low"])
        high = out["expression"].map(groups["ci_high"])
        out[f"{name}_mean"], out[f"{name}_ci_low"], out[f"{name}_ci_high"] = mean, low, high
        apart = (out["ci_low"] > high) | (out["ci_high"] < low)
        counts &= apart | mean.isna()
    out["sign_counts"] = counts.astype(bool)
    return out.sort_values("mean_impact", ignore_index=True)


# --------------------------------------------------------------------------- feedback view

def _candidate_rows(corpus, table: pd.DataFrame, candidate_id: str, method: str):
    """One candidate's answers (manifest rows, in question order) and key moments, the method checked."""
    if method not in ("impact_occlusion", "impact_ig"):
        raise ValueError(f"method: 'impact_occlusion' or 'impact_ig', got {method!r}")
    manifest = corpus.manifest[corpus.manifest["candidate_id"].astype(str) == candidate_id].sort_values("question")
    if manifest.empty:
        raise ValueError(f"candidate_id {candidate_id!r} is not in the corpus manifest")
    return manifest, table[table["candidate_id"].astype(str) == candidate_id]


def plot_candidate(corpus, attention: pd.DataFrame, table: pd.DataFrame, candidate_id: str,
                   method: str = "impact_occlusion", aus=("AU45", "AU12", "AU20", "AU23"), axes=None,
                   stills: bool = False):
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
    stills : bool
        Show the video's frame at the peak of each key moment (:func:`still_frames`). Off by
        default: a still shows the candidate's face, which a feedback document shared beyond the
        candidate should not carry without their consent; the traces say what the moment was.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from .plots import COLORS, OKABE_ITO

    candidate_id = str(candidate_id)
    manifest, mine = _candidate_rows(corpus, table, candidate_id, method)
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
        if stills:
            _draw_stills(ax, corpus, answer.answer_id, mine[mine["answer_id"].astype(str) == str(answer.answer_id)])
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


def still_frames(corpus, answer_id: str, times_s) -> list:
    """The video frames of one answer at the given times (RGB arrays; None where none could be read).

    Raises
    ------
    ValueError
        When the corpus manifest has no ``video`` for the answer, or the corpus has no folder to
        find it in.
    FileNotFoundError
        When the video file is missing.
    """
    import cv2

    row = corpus.manifest[corpus.manifest["answer_id"].astype(str) == str(answer_id)]
    if row.empty:
        raise ValueError(f"answer_id {answer_id!r} is not in the corpus manifest")
    video = row["video"].iloc[0] if "video" in row.columns else None
    if video is None or pd.isna(video) or not str(video).strip():
        raise ValueError(f"manifest.csv: answer {answer_id!r} has no video (column 'video'); still frames need one")
    if corpus.path is None:
        raise ValueError("still frames: the corpus was not loaded from a folder, so its videos cannot be found")
    path = Path(corpus.path) / str(video)
    if not path.exists():
        raise FileNotFoundError(f"{path}: the video of answer {answer_id!r} (manifest.csv, column 'video') is missing")
    capture = cv2.VideoCapture(str(path))
    frames = []
    try:
        for t in times_s:
            capture.set(cv2.CAP_PROP_POS_MSEC, float(t) * 1000.0)
            ok, image = capture.read()
            frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if ok else None)
    finally:
        capture.release()
    return frames


def _draw_stills(ax, corpus, answer_id: str, answer_moments: pd.DataFrame) -> None:
    """A small still at the peak of each key moment of one answer, above its span."""
    if answer_moments.empty:
        return
    frames = still_frames(corpus, answer_id, answer_moments["peak_s"].to_numpy(float))
    x0, x1 = ax.get_xlim()
    for m, image in zip(answer_moments.itertuples(index=False), frames):
        if image is None:
            continue
        where = (float(m.peak_s) - x0) / (x1 - x0)
        inset = ax.inset_axes([min(max(where - 0.05, 0.0), 0.9), 0.5, 0.1, 0.48])
        inset.imshow(image)
        inset.set_axis_off()


class FeedbackView(str):
    """HTML of the interactive feedback view; shown as HTML in Jupyter, a plain string elsewhere."""

    def _repr_html_(self) -> str:
        return str(self)


def _summary(moment, method: str, deltas: list[str], n_top: int = 3) -> str:
    """The tooltip of one moment: when, its impact by both methods, its attention and what sets it apart."""
    lines = [f"{moment['start_s']:.1f} to {moment['end_s']:.1f} s, attention {moment['attention']:.1f} x uniform",
             f"impact: occlusion {moment['impact_occlusion']:+.3f}, integrated gradients {moment['impact_ig']:+.3f} "
             f"logits ({'raises' if moment[method] > 0 else 'lowers'} the score)"]
    values = {d.removesuffix("_delta"): moment[d] for d in deltas if pd.notna(moment.get(d))}
    if values:
        top = sorted(values.items(), key=lambda kv: -abs(kv[1]))[:n_top]
        lines.append("against the answer's usual: " + ", ".join(
            f"{au} {'up' if v > 0 else 'down'} {abs(v):.2f}" for au, v in top))
    return "\n".join(lines)


def feedback_html(corpus, attention: pd.DataFrame, table: pd.DataFrame, candidate_id: str,
                  method: str = "impact_occlusion", aus=("AU45", "AU12", "AU20", "AU23"), width: int = 720) -> FeedbackView:
    """The feedback view of one candidate as interactive HTML: hovering a key moment shows its summary.

    The same content as :func:`plot_candidate` (per answer: AU traces, attention over the uniform
    level, key moments shaded by the sign and size of their impact), drawn as inline SVG with no
    script and no download: each moment's tooltip gives its time, its impact by both methods, its
    attention and the AUs that deviate most from the answer's usual (``*_delta`` columns of
    :func:`toolkit.stages.moments`).

    Returns
    -------
    FeedbackView
        A string of HTML, displayed as such in Jupyter (and in the book).
    """
    import html

    from .plots import COLORS, OKABE_ITO

    candidate_id = str(candidate_id)
    manifest, mine = _candidate_rows(corpus, table, candidate_id, method)
    deltas = [c for c in table.columns if c.endswith("_delta")]
    scale = float(mine[method].abs().max()) if len(mine) else 0.0
    palette = [OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["green"], OKABE_ITO["purple"]]
    row_h, left, right = 110, 70, 20
    plot_w = width - left - right
    label = manifest["label"].iloc[0]
    score = f", out-of-fold score {mine['score'].iloc[0]:.2f}" if len(mine) else ""
    parts = [f"<div class='feedback-view'><p><b>Candidate {html.escape(candidate_id)}</b> "
             f"({'invited' if label == 1 else 'not invited'}{score}). Key moments: "
             f"<span style='color:{COLORS['invited']}'>blue raises the score</span>, "
             f"<span style='color:{COLORS['not invited']}'>orange lowers it</span> "
             f"({method.replace('impact_', '').replace('ig', 'integrated gradients')}, darker: larger); "
             f"hover a moment for its summary. Black: attention (dotted: uniform level).</p>"]
    traces = [a for a in aus if a in corpus.frames.columns]
    parts.append("<p style='font-size:0.85em'>" + " ".join(
        f"<span style='color:{palette[i % len(palette)]}'>&#9644; {html.escape(a)}</span>"
        for i, a in enumerate(traces)) + "</p>")
    for answer in manifest.itertuples(index=False):
        frames = corpus.answer_frames(answer.answer_id)
        measured = frames[frames["success"].astype(bool)]
        t_max = float(frames["time_s"].max()) if len(frames) else 1.0
        x = lambda t: left + plot_w * float(t) / max(t_max, 1e-9)  # noqa: E731
        svg = [f"<svg width='{width}' height='{row_h}' viewBox='0 0 {width} {row_h}' role='img' "
               f"aria-label='question {answer.question}' xmlns='http://www.w3.org/2000/svg' "
               f"style='font-family:sans-serif;font-size:11px'>",
               f"<text x='4' y='{row_h / 2:.0f}'>question {answer.question}</text>",
               f"<line x1='{left}' y1='{row_h - 15}' x2='{width - right}' y2='{row_h - 15}' stroke='#999'/>",
               f"<text x='{width - right}' y='{row_h - 2}' text-anchor='end' fill='#555'>{t_max:.0f} s</text>"]
        top, bottom = 8, row_h - 16
        for m in mine[mine["answer_id"].astype(str) == str(answer.answer_id)].itertuples(index=False):
            value = getattr(m, method)
            color = COLORS["invited"] if value > 0 else COLORS["not invited"]
            strength = abs(value) / scale if scale > 0 else 0.0
            tip = html.escape(_summary(m._asdict(), method, deltas))
            svg.append(f"<rect class='key-moment' x='{x(m.start_s):.1f}' y='{top}' "
                       f"width='{max(x(m.end_s) - x(m.start_s), 1):.1f}' height='{bottom - top}' fill='{color}' "
                       f"fill-opacity='{0.15 + 0.5 * strength:.2f}'><title>{tip}</title></rect>")
        for i, au in enumerate(traces):
            values = measured[au].to_numpy(float)
            hi = max(float(np.nanmax(values)) if len(values) else 1.0, 1e-9)
            points = " ".join(f"{x(t):.1f},{bottom - (bottom - top) * v / hi:.1f}"
                              for t, v in zip(measured["time_s"], values) if np.isfinite(v))
            svg.append(f"<polyline points='{points}' fill='none' stroke='{palette[i % len(palette)]}' "
                       f"stroke-width='0.8' stroke-opacity='0.7' pointer-events='none'/>")
        curve = attention[attention["answer_id"].astype(str) == str(answer.answer_id)].sort_values("time_s")
        if len(curve) >= 3 and curve["weight"].sum() > 0:
            w = curve["weight"].to_numpy(float)
            t = curve["time_s"].to_numpy(float)
            a = slices_mod.smooth(t, w / w.sum(), 0.5) * len(w)
            hi = max(float(np.nanmax(a)), 1.0) * 1.05
            points = " ".join(f"{x(ti):.1f},{bottom - (bottom - top) * ai / hi:.1f}" for ti, ai in zip(t, a)
                              if np.isfinite(ai))
            y1 = bottom - (bottom - top) / hi
            svg += [f"<polyline points='{points}' fill='none' stroke='black' stroke-width='1.3' pointer-events='none'/>",
                    f"<line x1='{left}' y1='{y1:.1f}' x2='{width - right}' y2='{y1:.1f}' stroke='#777' "
                    f"stroke-dasharray='2,3' pointer-events='none'/>"]
        svg.append("</svg>")
        parts.append("".join(svg))
    parts.append("</div>")
    return FeedbackView("\n".join(parts))
