"""Training HireNet: grouped cross-validation, early stopping, out-of-fold predictions and attention.

:func:`fit` trains one network per fold of a cross-validation grouped by position (each fold: the
standardisation fitted on its training candidates, an inner validation split grouped by position
for early stopping on validation AUC, the best epoch's weights kept) and returns, in memory, every
candidate's out-of-fold score and every answer's out-of-fold attention, from the model that never
saw the candidate. Writing and reading run folders is :mod:`toolkit.runs`; the cached stage is
:func:`toolkit.stages.train`.

Attention is brought back to frame times by sharing each window's weight equally among its
measured frames, so the weights of an answer still sum to 1 over its measured frames.

Bad input: an answer without frames, or whose frames all have ``success`` false, has no usable
frame: it is left out of the interview (it gets no answer-level attention) and all its frames get
attention weight 0 (an answer without frames has no rows in the attention table). A candidate with
no usable answer at all, a corpus with one label only, fewer positions than folds are refused with
a message (:func:`toolkit.stages.train` leaves such candidates out beforehand, see
:func:`toolkit.corpus.exclude_untracked`).
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import stats
from .folds import fold_ids
from .model import HireNet, HireNetConfig, Standardiser
from .models import logistic_baseline

__all__ = ["TrainConfig", "Fitted", "fit", "attention_weights"]

_METRICS = ("auc", "f1_invited", "f1_not_invited", "f1_macro")
#: What a network can read: the face, the voice, or both.
MODALITIES = ("face", "voice", "both")


@dataclass(frozen=True)
class TrainConfig:
    """How to train and evaluate.

    Parameters
    ----------
    folds : int
        Outer cross-validation folds, grouped by ``position_id``.
    epochs : int
        Maximum epochs per fold. 8 (with ``patience`` 3) by default: on the book corpus the
        validation AUC has mostly levelled off by then, and a null study trains dozens of times
        (``benchmarks/bench_replicate.py`` gives the time and the results before and after).
    patience : int
        Stop after this many epochs without a better validation AUC (keep the best epoch).
    lr, weight_decay : float
        Adam's learning rate and L2 penalty.
    batch_size : int
        Candidates per batch.
    seed : int
        Seed of folds, initial weights, batch order and dropout.
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    val_fraction : float
        Share of the training positions held out (grouped by position) for early stopping.
    untrained : bool
        No training: keep the initial weights (the untrained control of DESIGN section 6).
    pos_weight : float, "balanced" or None
        Weight of positive candidates in the loss; "balanced": negatives / positives of the
        training part; None: 1.
    num_threads : int
        Torch CPU threads during training (0: leave torch's setting).
    grad_clip : float
        Gradient norm clipping.
    adversary : float
        Strength of adversarial debiasing (0: off): an adversary head reads the network's
        representation through a gradient reversal layer that multiplies the gradient flowing
        back into the network by ``-adversary``, so that the network learns to defeat it
        (Ganin and Lempitsky's gradient reversal).
    adversary_kind : {"direct", "indirect"} or None
        ``"direct"``: the adversary predicts ``attribute`` from the candidate representation
        (the interview vector :math:`v`); ``"indirect"``: it must tell whether two answer vectors
        come from the same candidate, which needs no sensitive label (as in Hemamou et al.,
        ACII 2021). None: direct when ``attribute`` is given, indirect otherwise.
    attribute : str or None
        The manifest column of a sensitive attribute, one value per candidate (the direct
        adversary's target; not used otherwise).
    modality : {"face", "voice", "both"}
        What the network reads: the face's frames, the voice's audio frames (``audio.parquet``,
        through :meth:`toolkit.corpus.Corpus.modality`), or both, each with its own frame GRU and
        attention, fused per answer (:class:`toolkit.model.HireNetConfig` ``fusion``).
    """

    folds: int = 5
    epochs: int = 8
    patience: int = 3
    lr: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    seed: int = 0
    device: str = "auto"
    val_fraction: float = 0.2
    untrained: bool = False
    pos_weight: float | str | None = "balanced"
    num_threads: int = 1
    grad_clip: float = 5.0
    adversary: float = 0.0
    adversary_kind: str | None = None
    attribute: str | None = None
    modality: str = "face"

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise ValueError(f"TrainConfig.modality: one of {', '.join(MODALITIES)}, got {self.modality!r}")
        if not (isinstance(self.adversary, (int, float)) and np.isfinite(self.adversary) and self.adversary >= 0):
            raise ValueError(f"TrainConfig.adversary: a strength >= 0 (0: off), got {self.adversary!r}")
        if self.adversary_kind not in (None, "direct", "indirect"):
            raise ValueError(f"TrainConfig.adversary_kind: 'direct', 'indirect' or None, got {self.adversary_kind!r}")
        if self.adversary and self.adversary_kind == "direct" and not self.attribute:
            raise ValueError("TrainConfig: the direct adversary needs the sensitive attribute's column "
                             "(attribute, --attribute COL); the indirect one needs none")
        if int(self.folds) != self.folds or self.folds < 2:
            raise ValueError(f"TrainConfig.folds: need at least 2 folds, got {self.folds!r}")
        for name in ("epochs", "patience", "batch_size"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name}: must be a positive integer, got {getattr(self, name)!r}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"TrainConfig.val_fraction: must lie in (0, 1), got {self.val_fraction!r}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ValueError(f"TrainConfig.device: 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if not (self.pos_weight is None or self.pos_weight == "balanced"
                or (isinstance(self.pos_weight, (int, float)) and self.pos_weight > 0)):
            raise ValueError(f"TrainConfig.pos_weight: a positive number, 'balanced' or None, "
                             f"got {self.pos_weight!r}")

    def to_dict(self) -> dict:
        """JSON-ready configuration."""
        return dataclasses.asdict(self)


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available (torch "
                           f"{torch.__version__}); use --device cpu or auto")
    return torch.device(device)


# --------------------------------------------------------------------------- data

@dataclass
class _Data:
    """A corpus prepared for the network: pooled raw windows per answer, candidates, labels."""

    features: tuple[str, ...]
    pool: int
    answer_ids: list[str]
    times: list[np.ndarray]
    success: list[np.ndarray]
    windows: list[np.ndarray]          # raw pooled means over measured frames (0 where none)
    counts: list[np.ndarray]           # measured frames per window
    sums: np.ndarray                   # (answers, features) sums over measured frames
    sumsq: np.ndarray
    n_success: np.ndarray              # (answers,)
    question: np.ndarray               # 0-based
    candidate_ids: np.ndarray          # one per candidate, in manifest order
    positions: np.ndarray
    labels: np.ndarray
    answers_of: list[np.ndarray]       # usable answers of each candidate, in question order
    all_answers_of: list[np.ndarray]   # every answer of each candidate (manifest order)
    n_questions: int
    attribute: np.ndarray | None = None  # code of each candidate's sensitive attribute (direct adversary)
    voice: "_Data | None" = None         # the voice stream of the same answers (a network with two streams)


def _pool(X: np.ndarray, success: np.ndarray, k: int):
    n, f = X.shape
    n_win = -(-n // k)
    Xz = np.where(success[:, None], np.nan_to_num(X, nan=0.0), 0.0)
    pad = n_win * k - n
    if pad:
        Xz = np.vstack([Xz, np.zeros((pad, f), Xz.dtype)])
        success = np.r_[success, np.zeros(pad, bool)]
    counts = success.reshape(n_win, k).sum(1)
    sums = Xz.reshape(n_win, k, f).sum(1, dtype=np.float64)
    windows = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], 0.0)
    return windows.astype(np.float32), counts.astype(np.int64)


def _prepare(corpus, features: tuple[str, ...], pool: int, n_questions: int | None = None) -> _Data:
    manifest = corpus.manifest
    missing = [f for f in features if f not in corpus.frames.columns]
    if missing:
        raise ValueError(f"frames.parquet: feature column(s) {missing} of the model are missing")
    times, success, windows, counts = [], [], [], []
    n_answers = len(manifest)
    sums = np.zeros((n_answers, len(features)))
    sumsq = np.zeros((n_answers, len(features)))
    n_success = np.zeros(n_answers, np.int64)
    for i, (answer_id, t, X, ok) in enumerate(corpus.iter_answers(list(features))):
        times.append(t)
        success.append(ok)
        if len(t) == 0:
            windows.append(np.zeros((0, len(features)), np.float32))
            counts.append(np.zeros(0, np.int64))
            continue
        w, c = _pool(X, ok, pool)
        windows.append(w)
        counts.append(c)
        Xs = X[ok].astype(np.float64)
        sums[i], sumsq[i], n_success[i] = Xs.sum(0), (Xs ** 2).sum(0), len(Xs)
    question = manifest["question"].to_numpy(np.int64) - 1
    nq = int(question.max()) + 1
    if n_questions is not None:
        if nq > n_questions:
            raise ValueError(f"manifest.csv: question {nq} exceeds the model's {n_questions} questions")
        nq = n_questions
    cand_codes, candidate_ids = pd.factorize(manifest["candidate_id"], sort=False)
    first = pd.Series(np.arange(n_answers)).groupby(cand_codes).first().to_numpy()
    answers_of, all_answers_of = [], []
    order = np.lexsort((question, cand_codes))
    groups = np.split(order, np.flatnonzero(np.diff(cand_codes[order])) + 1)
    for g in groups:
        all_answers_of.append(np.sort(g))
        answers_of.append(g[n_success[g] > 0])
    return _Data(
        features=tuple(features), pool=pool, answer_ids=list(manifest["answer_id"]), times=times,
        success=success, windows=windows, counts=counts, sums=sums, sumsq=sumsq,
        n_success=n_success, question=question, candidate_ids=np.asarray(candidate_ids, dtype=object),
        positions=manifest["position_id"].to_numpy()[first],
        labels=manifest["label"].to_numpy(np.int64)[first],
        answers_of=answers_of, all_answers_of=all_answers_of, n_questions=nq,
    )


def _fit_standardiser(data: _Data, candidates: np.ndarray) -> Standardiser:
    answers = np.concatenate([data.all_answers_of[c] for c in candidates])
    n = data.n_success[answers].sum()
    mean = data.sums[answers].sum(0) / max(n, 1)
    var = data.sumsq[answers].sum(0) / max(n, 1) - mean ** 2
    std = np.sqrt(np.maximum(var, 0.0))
    std = np.where(std > 1e-8, std, 1.0)  # a constant feature stays 0 after centring
    return Standardiser(data.features, mean, std)


def _collate(data: _Data, candidates, standardiser: Standardiser, device) -> dict:
    answers = [a for c in candidates for a in data.answers_of[c]]
    lengths = np.array([len(data.windows[a]) for a in answers], np.int64)
    steps = int(lengths.max())
    x = np.zeros((len(answers), steps, len(data.features)), np.float32)
    mask = np.zeros((len(answers), steps), bool)
    mean = standardiser.mean.astype(np.float32)
    std = standardiser.std.astype(np.float32)
    for i, a in enumerate(answers):
        ok = data.counts[a] > 0
        x[i, :len(ok)] = np.where(ok[:, None], (data.windows[a] - mean) / std, 0.0)
        mask[i, :len(ok)] = ok
    n_answers = [len(data.answers_of[c]) for c in candidates]
    index = np.full((len(candidates), max(n_answers)), -1, np.int64)
    start = 0
    for row, n in enumerate(n_answers):
        index[row, :n] = np.arange(start, start + n)
        start += n
    as_tensor = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    batch = {
        "x": as_tensor(x), "lengths": torch.from_numpy(lengths).to(device), "frame_mask": as_tensor(mask),
        "questions": as_tensor(data.question[answers]), "answer_index": as_tensor(index),
        "labels": as_tensor(data.labels[list(candidates)].astype(np.float32)), "answers": answers,
    }
    if data.voice is not None:
        vx, v_lengths, v_mask = _collate_stream(data.voice, answers, standardiser.voice)
        batch["voice"] = (as_tensor(vx), torch.from_numpy(v_lengths).to(device), as_tensor(v_mask))
    return batch


def _collate_stream(data: _Data, answers: list, standardiser: Standardiser):
    """The padded windows of a second stream for the given answers (an answer without any: one masked step)."""
    lengths = np.array([max(len(data.windows[a]), 1) for a in answers], np.int64)
    x = np.zeros((len(answers), int(lengths.max()), len(data.features)), np.float32)
    mask = np.zeros(x.shape[:2], bool)
    mean, std = standardiser.mean.astype(np.float32), standardiser.std.astype(np.float32)
    for i, a in enumerate(answers):
        ok = data.counts[a] > 0
        x[i, :len(ok)] = np.where(ok[:, None], (data.windows[a] - mean) / std, 0.0)
        mask[i, :len(ok)] = ok
    return x, lengths, mask


def _encode(model: HireNet, batch: dict):
    """Answer vectors and frame attention of a batch (both streams when the network has two)."""
    return model.encode_answers(batch["x"], batch["lengths"], batch["frame_mask"], batch["questions"],
                                batch.get("voice"))


def _forward(model: HireNet, batch: dict):
    return model(batch["x"], batch["lengths"], batch["frame_mask"], batch["questions"], batch["answer_index"],
                 batch.get("voice"))


def _batches(data: _Data, candidates: np.ndarray, batch_size: int, rng=None) -> list[np.ndarray]:
    """Batches of candidates with similar answer lengths (less padding); shuffled when ``rng``."""
    longest = np.array([max(len(data.windows[a]) for a in data.answers_of[c]) for c in candidates])
    if rng is None:
        order = candidates[np.argsort(longest, kind="stable")]
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    perm = rng.permutation(len(candidates))
    chunk = batch_size * 20
    batches = []
    for i in range(0, len(perm), chunk):
        part = perm[i:i + chunk]
        part = part[np.argsort(longest[part], kind="stable")]
        batches += [candidates[part[j:j + batch_size]] for j in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _frame_weights(data: _Data, answer: int, window_weights: np.ndarray | None) -> np.ndarray:
    """Window attention spread back onto the answer's frames (measured frames share equally)."""
    n = len(data.times[answer])
    weights = np.zeros(n)
    if window_weights is None or n == 0:
        return weights
    counts = data.counts[answer]
    per_frame = np.where(counts > 0, window_weights[:len(counts)] / np.maximum(counts, 1), 0.0)
    window_of = np.arange(n) // data.pool
    return np.where(data.success[answer], per_frame[window_of], 0.0)


@torch.no_grad()
def _predict(model: HireNet, data: _Data, candidates: np.ndarray, standardiser, device, batch_size: int,
             want_attention: bool = False):
    """Scores of ``candidates``; with ``want_attention`` also, per answer, its window attention.

    The attention is a dict: ``frames`` (answer -> window weights), ``answers`` (answer -> its
    weight in the candidate's interview) and, for a network with a voice stream, ``voice`` and
    ``modality`` (answer -> the face and voice weights).
    """
    model.eval()
    scores = np.zeros(len(candidates))
    position = {c: i for i, c in enumerate(candidates)}
    attention: dict[str, dict] = {"frames": {}, "answers": {}}
    if data.voice is not None:
        attention.update(voice={}, modality={})
    for batch_c in _batches(data, np.asarray(candidates), batch_size):
        batch = _collate(data, batch_c, standardiser, device)
        logits, frame_w, answer_w = _forward(model, batch)
        for c, s in zip(batch_c, torch.sigmoid(logits).double().cpu().numpy()):
            scores[position[c]] = s
        if want_attention:
            streams = frame_w if isinstance(frame_w, dict) else {"frames": frame_w}
            for name, weights in streams.items():
                w = weights.double().cpu().numpy()
                for row, a in enumerate(batch["answers"]):
                    attention[name][a] = w[row]
            aw = answer_w.double().cpu().numpy()
            index = batch["answer_index"].cpu().numpy()
            for row in range(len(batch_c)):
                for j, r in enumerate(index[row]):
                    if r >= 0:
                        attention["answers"][batch["answers"][r]] = aw[row, j]
    return scores, attention


# --------------------------------------------------------------------------- metrics

def _fold_metrics(y, score) -> dict:
    from sklearn.metrics import f1_score

    y = np.asarray(y, int)
    pred = (np.asarray(score) >= 0.5).astype(int)
    f1 = f1_score(y, pred, labels=[1, 0], average=None, zero_division=0)
    return {"auc": stats.auc_or_nan(y, score), "f1_invited": float(f1[0]), "f1_not_invited": float(f1[1]),
            "f1_macro": float(np.mean(f1))}


def _summary(model_name: str, per_fold: list[dict]) -> list[dict]:
    from scipy import stats

    rows = []
    for metric in _METRICS:
        values = np.array([m[metric] for m in per_fold], float)
        values = values[np.isfinite(values)]
        mean = float(values.mean()) if len(values) else float("nan")
        if len(values) > 1:
            half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
        else:
            half = float("nan")
        rows.append({"model": model_name, "metric": metric, "value": mean,
                     "ci_low": mean - half, "ci_high": mean + half})
    return rows


def _mean_features(data: _Data) -> np.ndarray:
    """Candidate x (question x feature) answer-level means over measured frames; NaN if missing."""
    n_c, n_f = len(data.candidate_ids), len(data.features)
    table = np.full((n_c, data.n_questions * n_f), np.nan)
    for c, answers in enumerate(data.answers_of):
        for a in answers:
            q = data.question[a]
            table[c, q * n_f:(q + 1) * n_f] = data.sums[a] / data.n_success[a]
    return table


def _baselines(data: _Data, folds: np.ndarray, seed: int) -> tuple[pd.DataFrame, list[dict], list[dict]]:
    X = _mean_features(data)
    y = data.labels
    majority, logistic = [], []
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        prevalence = y[train].mean()
        majority.append(_fold_metrics(y[test], np.full(test.sum(), float(prevalence >= 0.5))))
        model = logistic_baseline(seed)
        model.fit(X[train], y[train])
        logistic.append(_fold_metrics(y[test], model.predict_proba(X[test])[:, 1]))
    return X, majority, logistic


# --------------------------------------------------------------------------- checks and folds

def _check(corpus, data: _Data, config: TrainConfig) -> None:
    labels = np.unique(data.labels)
    if len(labels) < 2:
        raise ValueError(f"manifest.csv: every candidate has label {labels[0]}; training needs both "
                         f"invited (1) and not-invited (0) candidates")
    n_positions = len(np.unique(data.positions))
    if n_positions < 2:
        raise ValueError("manifest.csv: a single position_id; folds are grouped by position, so at least 2 "
                         "positions are needed. For a one-position corpus, group by candidate instead by "
                         "giving each candidate its own position_id (then no candidate is in both training "
                         "and test, but the model may learn the position's questions)")
    if n_positions < config.folds:
        raise ValueError(f"manifest.csv: {n_positions} position(s) for {config.folds} folds; folds are "
                         f"grouped by position_id, so each needs at least one position: lower folds "
                         f"(--folds) or add positions")
    empty = [str(data.candidate_ids[c]) for c, a in enumerate(data.answers_of) if len(a) == 0]
    if empty:
        raise ValueError(f"frames.parquet: candidate(s) {', '.join(empty[:5])}"
                         f"{' ...' if len(empty) > 5 else ''} have no frame with success true in any "
                         f"answer; remove them from manifest.csv")


def _outer_folds(data: _Data, config: TrainConfig) -> np.ndarray:
    """Fold of each candidate: stratified by label, grouped by position (:func:`toolkit.folds.fold_ids`)."""
    return fold_ids(data.positions, config.folds, config.seed, label=data.labels, group_name="position")


def _inner_split(data: _Data, candidates: np.ndarray, config: TrainConfig, fold: int):
    """Training and validation candidates (grouped by position); no validation if < 2 positions."""
    groups = data.positions[candidates]
    n_splits = min(max(2, round(1 / config.val_fraction)), len(np.unique(groups)))
    if n_splits < 2:
        return candidates, candidates[:0]
    # the first fold of a stratified grouped split holds the validation positions
    inner = fold_ids(groups, n_splits, config.seed + 1000 + fold, label=data.labels[candidates],
                     group_name="position")
    return candidates[inner != 0], candidates[inner == 0]


# --------------------------------------------------------------------------- adversarial debiasing

class _GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient multiplied by ``-strength`` backward (Ganin and Lempitsky 2015)."""

    @staticmethod
    def forward(ctx, x, strength: float):
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.strength * grad, None


def _adversary_kind(config: TrainConfig) -> str:
    return config.adversary_kind or ("direct" if config.attribute else "indirect")


class _Adversary(nn.Module):
    """A small network that reads a representation through a gradient reversal layer.

    ``direct``: the attribute's group from the candidate representation :math:`v`;
    ``indirect``: whether two answer vectors come from the same candidate, from their absolute
    difference and their product.
    """

    def __init__(self, kind: str, size: int, n_out: int, strength: float, hidden: int = 32):
        super().__init__()
        self.kind, self.strength = kind, float(strength)
        width = size if kind == "direct" else 2 * size
        self.net = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, n_out))

    def loss(self, v, vectors, batch: dict, attribute, rng) -> torch.Tensor:
        if self.kind == "direct":
            target = torch.as_tensor(attribute, device=v.device)
            return nn.functional.cross_entropy(self.net(_GradientReversal.apply(v, self.strength)), target)
        # indirect: each answer paired with another answer of its candidate (same) and one of another (different)
        index = batch["answer_index"].cpu().numpy()
        first, second, same = [], [], []
        rows_of = [row[row >= 0] for row in index]
        for c, rows in enumerate(rows_of):
            others = [k for k in range(len(rows_of)) if k != c and len(rows_of[k])]
            for i, a in enumerate(rows):
                if len(rows) > 1:
                    first.append(a)
                    second.append(rows[(i + 1 + rng.integers(len(rows) - 1)) % len(rows)])
                    same.append(1.0)
                if others:
                    k = others[rng.integers(len(others))]
                    first.append(a)
                    second.append(rows_of[k][rng.integers(len(rows_of[k]))])
                    same.append(0.0)
        if not first:
            return vectors.sum() * 0.0
        s = _GradientReversal.apply(vectors, self.strength)
        a, b = s[torch.as_tensor(first)], s[torch.as_tensor(second)]
        logits = self.net(torch.cat([(a - b).abs(), a * b], 1)).squeeze(-1)
        return nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(same, device=logits.device))


# --------------------------------------------------------------------------- training

def _train_epoch(model, data, candidates, standardiser, optimizer, loss_fn, config, rng, device,
                 adversary: _Adversary | None = None) -> float:
    """One pass over ``candidates`` in length-bucketed, shuffled batches; the mean training loss."""
    model.train()
    total, count = 0.0, 0
    for batch_c in _batches(data, candidates, config.batch_size, rng):
        batch = _collate(data, batch_c, standardiser, device)
        if adversary is None:
            logits, _, _ = _forward(model, batch)
            loss = loss_fn(logits, batch["labels"])
        else:
            adversary.train()
            vectors, _ = _encode(model, batch)
            v, _ = model.represent(vectors, batch["answer_index"])
            logits = model.output(v).squeeze(-1)
            attribute = data.attribute[batch_c] if data.attribute is not None else None
            loss = loss_fn(logits, batch["labels"]) + adversary.loss(v, vectors, batch, attribute, rng)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        total += loss.item() * len(batch_c)
        count += len(batch_c)
    return total / count


def _train_fold(data, fold, train_c, val_c, model_config, config, device, progress):
    """Train one fold's model; return it, its standardiser and its history rows."""
    from tqdm import tqdm

    standardiser = _fit_standardiser(data, np.r_[train_c, val_c])
    if data.voice is not None:
        standardiser.voice = _fit_standardiser(data.voice, np.r_[train_c, val_c])
    torch.manual_seed(config.seed * 1000 + fold)
    model = HireNet(model_config)
    model.feature_mean.copy_(torch.from_numpy(standardiser.mean))
    model.feature_std.copy_(torch.from_numpy(standardiser.std))
    if standardiser.voice is not None:
        model.voice_mean.copy_(torch.from_numpy(standardiser.voice.mean))
        model.voice_std.copy_(torch.from_numpy(standardiser.voice.std))
    model.to(device)
    history = []
    if config.untrained:
        return model, standardiser, history
    y = data.labels[train_c]
    if config.pos_weight == "balanced":
        pos_weight = float((y == 0).sum() / max((y == 1).sum(), 1))
    else:
        pos_weight = float(config.pos_weight or 1.0)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, device=device))
    adversary = None
    if config.adversary:
        kind = _adversary_kind(config)
        size = model.output.in_features if kind == "direct" else model.frame_attention.project.in_features
        n_out = int(data.attribute.max()) + 1 if kind == "direct" else 1
        with torch.random.fork_rng(devices=[]):  # the network's initial weights stay those of no adversary
            torch.manual_seed(config.seed * 1000 + fold + 500)
            adversary = _Adversary(kind, size, n_out, config.adversary).to(device)
    groups = [{"params": list(model.parameters())}]
    if adversary is not None:
        # the adversary learns ten times faster than the network: it sees few batches, and a slow
        # adversary reverses little
        groups.append({"params": list(adversary.parameters()), "lr": 10 * config.lr})
    optimizer = torch.optim.Adam(groups, lr=config.lr, weight_decay=config.weight_decay)
    best = (-math.inf, None, 0)
    stale = 0
    bar = tqdm(total=config.epochs, desc=f"fold {fold}", disable=not progress, leave=False)
    for epoch in range(1, config.epochs + 1):
        tic = time.perf_counter()
        rng = np.random.default_rng([config.seed, fold, epoch])
        train_loss = _train_epoch(model, data, train_c, standardiser, optimizer, loss_fn, config, rng, device,
                                  adversary)
        val_auc, val_loss = float("nan"), float("nan")
        if len(val_c):
            scores, _ = _predict(model, data, val_c, standardiser, device, config.batch_size * 2)
            val_auc = stats.auc_or_nan(data.labels[val_c], scores)
            p = np.clip(scores, 1e-7, 1 - 1e-7)
            yv = data.labels[val_c]
            val_loss = float(-np.mean(pos_weight * yv * np.log(p) + (1 - yv) * np.log(1 - p)))
        history.append({"fold": fold, "epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                        "val_auc": val_auc, "seconds": round(time.perf_counter() - tic, 3)})
        bar.update(1)
        bar.set_postfix(val_auc=f"{val_auc:.3f}")
        if not len(val_c):
            continue
        # early stopping on validation AUC (on validation loss when the AUC is undefined)
        criterion = val_auc if np.isfinite(val_auc) else -val_loss
        if criterion > best[0]:
            best = (criterion, {k: v.detach().clone() for k, v in model.state_dict().items()}, epoch)
            stale = 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    bar.close()
    if best[1] is not None:
        model.load_state_dict(best[1])
    for row in history:
        row["best"] = row["epoch"] == best[2]
    return model, standardiser, history


@dataclass
class Fitted:
    """What :func:`fit` returns, in memory: one network per fold and the out-of-fold results.

    Attributes
    ----------
    config : dict
        Training and model configuration, corpus fingerprint, device, sizes, seconds, versions.
    predictions : DataFrame
        ``candidate_id, fold, label, score`` (out-of-fold).
    attention : DataFrame
        ``answer_id, time_s, weight`` (out-of-fold).
    history : DataFrame
        ``fold, epoch, train_loss, val_loss, val_auc, seconds, best``.
    metrics : DataFrame
        ``model, metric, value, ci_low, ci_high``: HireNet and two baselines, per fold then summarised.
    folds : list of dict
        Per fold: ``fold``, ``model`` (configuration), ``standardiser``, ``best_epoch``,
        ``test_candidates`` and ``state_dict`` (CPU tensors).
    answer_attention : DataFrame or None
        ``answer_id, question, weight`` (out-of-fold): each answer's weight in its candidate's
        interview; for a network reading face and voice also ``face`` and ``voice``, the weights
        of the two streams in the answer's vector.
    voice_attention : DataFrame or None
        ``answer_id, time_s, weight`` over the audio frames (a network reading face and voice).
    """

    config: dict
    predictions: pd.DataFrame
    attention: pd.DataFrame
    history: pd.DataFrame
    metrics: pd.DataFrame
    folds: list = field(default_factory=list)
    answer_attention: pd.DataFrame | None = None
    voice_attention: pd.DataFrame | None = None


_POOL: dict = {}  # workers -> the kept ProcessPoolExecutor
_EXIT_HOOK: list = []
_POOL_LOCK = threading.Lock()  # trainings may start from several threads (toolkit.controls.run_controls)


def _process_pool(n_workers: int):
    """A pool of ``n_workers`` spawned processes, kept for the next trainings of this process.

    Starting a worker (a fresh interpreter importing torch and the toolkit) takes seconds; a null
    study trains dozens of times, so the pool is made once and reused. It is shut down at exit.
    """
    import atexit
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with _POOL_LOCK:
        pool = _POOL.get(n_workers)
        if pool is not None and not getattr(pool, "_broken", False) and not getattr(pool, "_shutdown_thread", False):
            return pool
        for old in _POOL.values():
            old.shutdown(wait=False, cancel_futures=True)
        _POOL.clear()
        # spawn: a fresh interpreter per worker (torch's thread pools are not fork-safe)
        pool = ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn"))
        _POOL[n_workers] = pool
        if not _EXIT_HOOK:
            atexit.register(_shutdown_pools)
            _EXIT_HOOK.append(True)
        return pool


def _shutdown_pools() -> None:
    for pool in list(_POOL.values()):
        pool.shutdown(wait=True, cancel_futures=True)
    _POOL.clear()


def _workers(workers: int | None, config: TrainConfig, device, corpus) -> int:
    """Processes over folds: ``workers``, or by default one per core (at most one per fold) for a
    corpus large enough to repay starting them (200,000 frames), on the CPU only, when there is
    something to train."""
    import os

    if device.type != "cpu" or config.untrained:  # nothing to train: not worth starting processes
        return 1
    if workers is None:
        workers = min(config.folds, os.cpu_count() or 1) if len(corpus.frames) >= 200_000 else 1
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers: a positive number of processes, got {workers!r}")
    return int(min(workers, config.folds))


def _fit_fold(data: _Data, folds: np.ndarray, k: int, model_config: HireNetConfig, config: TrainConfig,
              device_name: str, progress: bool):
    """Train fold ``k`` and score its test candidates (in this process or in a worker).

    Everything random is seeded by the fold (initial weights, batch order, dropout), so a fold gives the
    same result in any process and in any order.

    Returns
    -------
    tuple
        (test candidates, their scores, their answers' window attention, history rows, checkpoint record)
    """
    device = torch.device(device_name)
    threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            test_c = np.flatnonzero(folds == k)
            train_c, val_c = _inner_split(data, np.flatnonzero(folds != k), config, k)
            model, standardiser, rows = _train_fold(data, k, train_c, val_c, model_config, config, device, progress)
            s, att = _predict(model, data, test_c, standardiser, device, config.batch_size * 2, want_attention=True)
    finally:
        torch.set_num_threads(threads)
    record = {
        "fold": k, "model": model_config.to_dict(), "standardiser": standardiser.to_dict(),
        "best_epoch": next((r["epoch"] for r in rows if r.get("best")), None),
        "test_candidates": [str(c) for c in data.candidate_ids[test_c]],
        "state_dict": {n: t.detach().cpu() for n, t in model.state_dict().items()},
    }
    return test_c, s, att, rows, record


def fit(corpus, config: TrainConfig | None = None, model_config: HireNetConfig | None = None,
        progress: bool = True, workers: int | None = None) -> Fitted:
    """Train HireNet with cross-validation grouped by position (in memory; nothing is written).

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
    config : TrainConfig, optional
    model_config : HireNetConfig, optional
        ``n_questions`` and ``features`` default to the corpus's.
    progress : bool
        A progress bar per fold and epoch (validation AUC shown), or per fold with several workers.
    workers : int, optional
        Processes training folds side by side on the CPU (default: one per core, at most one per fold,
        for corpora of 200,000 frames or more; 1 otherwise). The result does not depend on it: every
        fold is seeded by its number.

    Returns
    -------
    Fitted

    Raises
    ------
    ValueError
        On a corpus with one label only, fewer positions than folds, a candidate without any
        measured frame, or no feature column.
    """
    from . import __version__
    from .cache import corpus_fingerprint

    config = config or TrainConfig()
    model_config = model_config or HireNetConfig()
    voice = None
    if config.modality != "face":
        voice = corpus.modality("voice")
        pool = model_config.voice_pool or voice_pool(corpus, model_config.pool)
        if config.modality == "voice":
            corpus, voice = voice, None
            # the pool is recorded as voice_pool too, so that a training again from the run's
            # configuration (cross-fitting) keeps it instead of scaling it a second time
            model_config = dataclasses.replace(model_config, pool=pool, voice_pool=pool, voice_features=None)
        else:
            model_config = dataclasses.replace(model_config, voice_pool=pool, voice_features=tuple(
                model_config.voice_features or voice.features))
    elif model_config.voice_features:
        raise ValueError("HireNetConfig.voice_features is set but TrainConfig.modality is 'face': "
                         "train with modality='both' to read the voice too")
    # Canonical AUs only by default: tracker extras (confidence, pose_Tx in mm, frame counters)
    # would let the model read the recording instead of the face, or time itself.
    features = model_config.features or tuple(corpus.aus or corpus.features)
    if not features:
        raise ValueError("frames.parquet: no float feature column to train on")
    n_questions = int(corpus.manifest["question"].max())
    if model_config.n_questions:
        n_questions = max(n_questions, model_config.n_questions)
    model_config = dataclasses.replace(model_config, features=tuple(features), n_questions=n_questions)

    data = _prepare(corpus, model_config.features, model_config.pool, model_config.n_questions)
    if voice is not None:
        data.voice = _prepare(voice, model_config.voice_features, model_config.voice_pool, model_config.n_questions)
    _check(corpus, data, config)
    if config.adversary and _adversary_kind(config) == "direct":
        from .fairness import candidate_attribute

        values = candidate_attribute(corpus.manifest, config.attribute)
        codes, _ = pd.factorize(values.reindex(data.candidate_ids.astype(str)), sort=True)
        data = dataclasses.replace(data, attribute=codes.astype(np.int64))
    device = _resolve_device(config.device)
    folds = _outer_folds(data, config)
    start = time.perf_counter()
    n_workers = _workers(workers, config, device, corpus)
    jobs = [(data, folds, k, model_config, config, str(device), progress and n_workers == 1)
            for k in range(config.folds)]
    if n_workers == 1:
        done = [_fit_fold(*job) for job in jobs]
    else:
        from tqdm import tqdm

        pool = _process_pool(n_workers)
        try:
            done = list(tqdm(pool.map(_fit_fold, *zip(*jobs)), total=len(jobs), desc="folds", unit="fold",
                             disable=not progress))
        except BaseException:
            # a failed or interrupted training leaves no half-used pool behind
            with _POOL_LOCK:
                if _POOL.get(n_workers) is pool:
                    _POOL.pop(n_workers)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    scores = np.full(len(data.labels), np.nan)
    attention: dict[str, dict] = {}
    history: list[dict] = []
    per_fold: list[dict] = []
    fold_models: list[dict] = []
    for k, (test_c, s, att, rows, record) in enumerate(done):
        history += rows
        scores[test_c] = s
        for name, part in att.items():
            attention.setdefault(name, {}).update(part)
        per_fold.append(_fold_metrics(data.labels[test_c], s))
        fold_models.append(record)
    seconds = time.perf_counter() - start

    predictions = pd.DataFrame({
        "candidate_id": pd.array(data.candidate_ids.astype(str), dtype="string"),
        "fold": folds.astype(np.int64), "label": data.labels, "score": scores,
    })
    attention_table = _attention_table(data, attention["frames"])
    voice_table = _attention_table(data.voice, attention["voice"]) if data.voice is not None else None
    answer_table = _answer_table(data, attention)
    history_table = pd.DataFrame(history, columns=["fold", "epoch", "train_loss", "val_loss", "val_auc", "seconds",
                                                   "best"])
    _, majority, logistic = _baselines(data, folds, config.seed)
    metrics = pd.DataFrame(_summary("hirenet", per_fold) + _summary("majority", majority)
                           + _summary("logistic_regression", logistic))
    run_config = {
        "train": config.to_dict(), "model": model_config.to_dict(), "device": str(device),
        "corpus_fingerprint": corpus_fingerprint(corpus),
        "n_candidates": int(len(data.labels)), "n_answers": int(len(data.answer_ids)),
        "training_seconds": round(seconds, 2), "toolkit_version": __version__,
        "torch_version": torch.__version__,
    }
    return Fitted(run_config, predictions, attention_table, history_table, metrics, fold_models, answer_table,
                  voice_table)


def voice_pool(corpus, pool: int) -> int:
    """Audio frames per window of the voice stream so that its windows last as long as the face's."""
    frame_rate, audio_rate = float(corpus.meta.get("face_frame_rate", corpus.frame_rate)), corpus.audio_rate
    if not (np.isfinite(frame_rate) and np.isfinite(audio_rate)):
        return int(pool)
    return max(1, int(round(pool * audio_rate / frame_rate)))


def _attention_table(data: _Data, window_weights: dict) -> pd.DataFrame:
    """``answer_id, time_s, weight``: window attention spread back onto each answer's frames."""
    parts = []
    for a, answer_id in enumerate(data.answer_ids):
        if len(data.times[a]):
            parts.append((answer_id, data.times[a], _frame_weights(data, a, window_weights.get(a))))
    return pd.DataFrame({
        "answer_id": pd.array(np.repeat([p[0] for p in parts], [len(p[1]) for p in parts]), dtype="string"),
        "time_s": np.concatenate([p[1] for p in parts]) if parts else np.zeros(0),
        "weight": np.concatenate([p[2] for p in parts]) if parts else np.zeros(0),
    })


def _answer_table(data: _Data, attention: dict) -> pd.DataFrame:
    """``answer_id, question, weight`` (and ``face``, ``voice``) of the answers the network read."""
    answers = sorted(attention["answers"])
    table = pd.DataFrame({
        "answer_id": pd.array([data.answer_ids[a] for a in answers], dtype="string"),
        "question": (data.question[answers] + 1).astype(np.int64),
        "weight": np.array([attention["answers"][a] for a in answers], np.float64),
    })
    if "modality" in attention:
        beta = np.array([attention["modality"][a] for a in answers], np.float64).reshape(-1, 2)
        table["face"], table["voice"] = beta[:, 0], beta[:, 1]
    return table


def standardiser_of(model: HireNet) -> Standardiser:
    """The standardisation a model carries in its buffers (both streams')."""
    cfg = model.config
    as_array = lambda t: t.double().cpu().numpy()  # noqa: E731
    voice = None
    if model.voice_gru is not None:
        voice = Standardiser(cfg.voice_features, as_array(model.voice_mean), as_array(model.voice_std))
    return Standardiser(cfg.features, as_array(model.feature_mean), as_array(model.feature_std), voice)


def stream(corpus, modality: str):
    """The corpus a network of ``modality`` reads as its frames: the voice for ``"voice"``, else the corpus."""
    return corpus.modality("voice") if modality == "voice" and corpus.meta.get("modality") != "voice" else corpus


def prepare_for(model: HireNet, corpus) -> _Data:
    """``corpus`` prepared for ``model``: its frames (and its voice, for a network with two streams)."""
    cfg = model.config
    if cfg.features and cfg.features[0] not in corpus.frames.columns and corpus.audio is not None:
        corpus = corpus.modality("voice")  # a network trained on the voice alone
    data = _prepare(corpus, cfg.features, cfg.pool, cfg.n_questions)
    if model.voice_gru is not None:
        data.voice = _prepare(corpus.modality("voice"), cfg.voice_features, cfg.voice_pool, cfg.n_questions)
    return data


def attention_weights(model: HireNet, corpus, answer_ids, standardiser: Standardiser | None = None,
                      batch_size: int = 64) -> pd.DataFrame:
    """Recompute the frame attention of some answers with a given model.

    Parameters
    ----------
    model : HireNet
    corpus : toolkit.corpus.Corpus
        Holds the answers (and the model's feature columns).
    answer_ids : iterable of str
    standardiser : Standardiser, optional
        Default: the one stored in the model's buffers.

    Returns
    -------
    DataFrame
        ``answer_id, time_s, weight``; weights sum to 1 over each answer's measured frames (0 on
        every frame of an answer without a measured frame).
    """
    answer_ids = [str(a) for a in answer_ids]
    known = set(corpus.manifest["answer_id"])
    unknown = [a for a in answer_ids if a not in known]
    if unknown:
        raise KeyError(f"answer_id(s) {unknown[:5]} are not in the corpus manifest")
    sub = corpus.subset(answer_ids=answer_ids)
    if standardiser is None:
        standardiser = standardiser_of(model)
    data = prepare_for(model, sub)
    device = next(model.parameters()).device
    model.eval()
    usable = [a for a in range(len(data.answer_ids)) if data.n_success[a] > 0]
    weights: dict[int, np.ndarray] = {}
    with torch.no_grad():
        for i in range(0, len(usable), batch_size):
            chunk = usable[i:i + batch_size]
            fake = dataclasses.replace(data, answers_of=[np.array([a]) for a in chunk],
                                       labels=np.zeros(len(chunk), np.int64))
            batch = _collate(fake, np.arange(len(chunk)), standardiser, device)
            _, w = _encode(model, batch)
            w = w["frames"] if isinstance(w, dict) else w
            for row, a in enumerate(chunk):
                weights[a] = w[row].double().cpu().numpy()
    parts = [(data.answer_ids[a], data.times[a], _frame_weights(data, a, weights.get(a)))
             for a in range(len(data.answer_ids)) if len(data.times[a])]
    return pd.DataFrame({
        "answer_id": pd.array(np.repeat([p[0] for p in parts], [len(p[1]) for p in parts]), dtype="string"),
        "time_s": np.concatenate([p[1] for p in parts]) if parts else np.zeros(0),
        "weight": np.concatenate([p[2] for p in parts]) if parts else np.zeros(0),
    })
