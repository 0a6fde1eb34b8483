"""Face, voice or both: the ablation of HireNet's modalities and what each stream's attention finds.

HireNet reads the face (``frames.parquet``), the voice (``audio.parquet``) or both
(:class:`toolkit.training.TrainConfig` ``modality``). :func:`ablation` sets the out-of-fold AUC of
networks trained on each side by side, with intervals, and tests whether reading both beats the
better single modality on the same candidates. :func:`stream_attention` gives the attention table
and the corpus of one stream of a run, so that slices, recovery and the null references run on
the voice exactly as on the face.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ablation", "fused_vs_single", "late_fusion", "LateFusion", "stream_attention", "streams_of",
           "plot_ablation"]


def streams_of(modality: str) -> tuple[str, ...]:
    """The streams a network of ``modality`` attends over: ``("face",)``, ``("voice",)`` or both."""
    if modality not in ("face", "voice", "both"):
        raise ValueError(f"modality: one of face, voice, both; got {modality!r}")
    return ("face", "voice") if modality == "both" else (modality,)


def stream_attention(run, corpus, stream: str):
    """The corpus of one stream of a run and the attention over it, ready for the slice stages.

    Parameters
    ----------
    run : toolkit.runs.Run
    corpus : toolkit.corpus.Corpus
        The corpus the run was trained on (with its ``audio.parquet`` for the voice).
    stream : {"face", "voice"}

    Returns
    -------
    (toolkit.corpus.Corpus, run or pandas.DataFrame)
        The stream's corpus and the run itself (a single-stream network: its attention is the
        stream's, and cross-fitting can train it again) or, for the voice of a network reading
        both, its ``voice_attention`` table.

    Raises
    ------
    ValueError
        For a stream the run did not read.
    """
    from . import corpus as corpus_mod

    modality = getattr(run, "modality", "face")
    if stream not in streams_of(modality):
        raise ValueError(f"the run read {modality}; it has no attention over the {stream}")
    view = corpus.modality("voice") if stream == "voice" else corpus
    view, _ = corpus_mod.exclude_untracked(view)
    if modality == "both" and stream == "voice":
        return view, run.voice_attention
    return view, run


@dataclass
class LateFusion:
    """Scores of a candidate from two single-modality networks, combined after training (:func:`late_fusion`)."""

    predictions: pd.DataFrame
    modality: str = "both"


def late_fusion(face, voice) -> LateFusion:
    """The sum of the logits of a face network and a voice network, each trained on its own: a baseline.

    Each network's out-of-fold score of a candidate comes from the model of the fold that never saw
    the candidate, and both networks use the same folds (grouped by position, the same seed), so the
    sum is out of fold too. Nothing is fitted: the two logits count equally. It is the reference a
    network that fuses the streams inside (per answer) should reach.

    Returns
    -------
    LateFusion
        ``predictions`` (``candidate_id``, ``fold``, ``label``, ``score``: the sigmoid of the sum),
        ``modality`` "both"; :func:`ablation` and :func:`fused_vs_single` take it as a run.

    Raises
    ------
    ValueError
        When the two runs do not hold the same candidates in the same folds.
    """
    f = face.predictions.assign(candidate_id=face.predictions["candidate_id"].astype(str))
    v = voice.predictions.assign(candidate_id=voice.predictions["candidate_id"].astype(str))
    both = f.merge(v, on="candidate_id", suffixes=("_face", "_voice"), validate="one_to_one")
    if len(both) != len(f) or len(both) != len(v) or (both["fold_face"] != both["fold_voice"]).any():
        raise ValueError("late_fusion: the two runs must hold the same candidates in the same folds (train both with "
                         "the same corpus, folds and seed)")

    def logit(p):
        p = np.clip(p.to_numpy(float), 1e-7, 1 - 1e-7)
        return np.log(p / (1 - p))

    total = logit(both["score_face"]) + logit(both["score_voice"])
    predictions = pd.DataFrame({"candidate_id": both["candidate_id"], "fold": both["fold_face"],
                                "label": both["label_face"], "score": 1 / (1 + np.exp(-total))})
    return LateFusion(predictions)


def _scores(run, corpus) -> pd.DataFrame:
    p = run.predictions.assign(candidate_id=run.predictions["candidate_id"].astype(str))
    positions = corpus.candidates.assign(candidate_id=corpus.candidates["candidate_id"].astype(str)).set_index(
        "candidate_id")["position_id"]
    p["position_id"] = positions.reindex(p["candidate_id"]).to_numpy()
    return p.dropna(subset=["score"]).set_index("candidate_id")


def ablation(runs: dict, corpus, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Out-of-fold AUC of each network, with a bootstrap interval over positions.

    Parameters
    ----------
    runs : dict
        Name (e.g. ``"face"``, ``"voice"``, ``"both (attention)"``) -> run.
    corpus : toolkit.corpus.Corpus
        Gives each candidate's position (the bootstrap resamples whole positions, as the
        cross-validation is grouped by position).
    n_boot : int
    seed : int

    Returns
    -------
    pandas.DataFrame
        ``network``, ``modality``, ``auc``, ``ci_low``, ``ci_high``, ``n_candidates``. The
        intervals are conditional on the trained networks (one training per network).
    """
    from . import stats

    rows = []
    for name, run in runs.items():
        p = _scores(run, corpus)
        ci = stats.bootstrap_auc_ci(p["label"].to_numpy(int), p["score"].to_numpy(float), n_boot=n_boot, seed=seed,
                                    groups=p["position_id"].to_numpy())
        rows.append({"network": name, "modality": getattr(run, "modality", "face"), "auc": ci.auc,
                     "ci_low": ci.ci_low, "ci_high": ci.ci_high, "n_candidates": int(len(p))})
    return pd.DataFrame(rows)


def fused_vs_single(fused, singles: dict, corpus, n_permutations: int = 10_000, n_boot: int = 2000,
                    seed: int = 0) -> pd.DataFrame:
    """Does the network reading both beat each single modality on the same candidates?

    Parameters
    ----------
    fused : toolkit.runs.Run
    singles : dict
        Name -> run of a single modality.
    corpus : toolkit.corpus.Corpus

    Returns
    -------
    pandas.DataFrame
        Per single network: ``against``, ``auc_fused``, ``auc_single``, ``difference`` (fused
        minus single) with a paired bootstrap interval over positions (``ci_low``, ``ci_high``),
        ``p`` (one-sided paired permutation test, fused greater) and ``n_candidates``. Both are
        conditional on the trained networks: the permutation test swaps the two scores of each
        candidate and ignores the variance of training, which made such per-candidate tests too
        liberal on cross-validated scores (chapter 08 of the book); compare networks over several
        trainings (``benchmarks/bench_modalities.py``) before calling a difference real.
    """
    from . import stats

    f = _scores(fused, corpus)
    rows = []
    for name, run in singles.items():
        s = _scores(run, corpus)
        common = f.index.intersection(s.index)
        y = f.loc[common, "label"].to_numpy(int)
        a, b = f.loc[common, "score"].to_numpy(float), s.loc[common, "score"].to_numpy(float)
        test = stats.paired_permutation_test(y, a, b, n_permutations=n_permutations, seed=seed)
        groups = f.loc[common, "position_id"].to_numpy()
        codes, _ = pd.factorize(groups)
        members = [np.flatnonzero(codes == g) for g in range(codes.max() + 1)]
        rng = np.random.default_rng(seed)
        boot = []
        for _ in range(n_boot):
            rows_ = np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))])
            if len(np.unique(y[rows_])) < 2:
                continue
            boot.append(stats.auc(y[rows_], a[rows_]) - stats.auc(y[rows_], b[rows_]))
        lo, hi = np.quantile(boot, [0.025, 0.975]) if boot else (np.nan, np.nan)
        rows.append({"against": name, "auc_fused": test.auc_a, "auc_single": test.auc_b,
                     "difference": test.difference, "ci_low": float(lo), "ci_high": float(hi), "p": test.p_value,
                     "n_candidates": int(len(common))})
    return pd.DataFrame(rows)


def plot_ablation(table: pd.DataFrame, ax=None):
    """The ablation's AUCs with their intervals, one row per network."""
    from .plots import COLORS, new_figure

    if ax is None:
        _, ax = new_figure(figsize=(6.5, 0.55 * len(table) + 1.2))
    colour = {m: COLORS[m] for m in ("face", "voice", "both")}
    y = np.arange(len(table))[::-1]
    for yi, row in zip(y, table.itertuples(index=False)):
        ax.errorbar(row.auc, yi, xerr=[[row.auc - row.ci_low], [row.ci_high - row.auc]], fmt="o", capsize=3,
                    color=colour.get(row.modality, "#555555"))
    ax.set_yticks(y, table["network"])
    ax.axvline(0.5, color="#888888", lw=0.8, ls="--")
    ax.set_xlabel("out-of-fold AUC (95 % interval over positions)")
    return ax
