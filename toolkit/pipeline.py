"""The whole pipeline on one corpus, written as a run folder: ``python -m toolkit run CORPUS RUN``.

:func:`run` calls the stages of :mod:`toolkit.stages` in order, with their defaults, and writes
what they return into the run folder (DESIGN section 3). Every stage is cached, so the chapters
of the book, which call the same stages with the same defaults, show the same numbers, and a
second run with the same corpus and options loads instead of recomputing.

1. :func:`~toolkit.stages.train`: grouped cross-validation, out-of-fold predictions and attention
   (candidates without a tracked frame go to ``excluded.csv``);
2. :func:`~toolkit.stages.slices`, :func:`~toolkit.stages.slice_features`: ``slices.parquet``;
3. :func:`~toolkit.stages.attention_vs_random`, :func:`~toolkit.stages.importances`,
   :func:`~toolkit.stages.recovery` (simulated corpora): ``results/*.csv``;
4. :func:`~toolkit.stages.hirability`, :func:`~toolkit.stages.tests`: ``results/*.csv``;
5. :func:`~toolkit.stages.moments`: every key moment with its signed impact, ``moments.parquet``;
6. with ``null > 0``, :func:`~toolkit.stages.controls`: ``results/controls*.csv``.

With ``question="all"`` the slices cover every answer and each analysis runs per question (the
tables gain a ``question`` column), and ``results/question_attention.csv`` gives the weight HireNet
puts on each question beside the untrained network's. With ``modality="voice"`` the network reads
the voice and everything runs on the audio frames; with ``"both"`` the face's analyses are written
as usual and the voice's beside them with the suffix ``_voice`` (``slices_voice.parquet``,
``results/attention_vs_random_voice.csv``, ...).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import _io

__all__ = ["PipelineResult", "run", "results", "write_run_file"]


@dataclass
class PipelineResult:
    """What :func:`run` produced; every table is also a file of the run folder."""

    path: Path
    run: object
    slices: object
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"PipelineResult({self.path}, tables={sorted(self.tables)})"


def write_run_file(run_dir, corpus, **options) -> Path:
    """Write ``RUN/run.json``: the corpus folder relative to the run folder, and the options of the run.

    No absolute path is written, so a run folder stays valid when the corpus and the run move together.
    """
    run_dir = Path(run_dir)
    corpus_path = os.path.relpath(Path(corpus.path).resolve(), run_dir.resolve()) if corpus.path else None
    return _io.write_json(run_dir / "run.json", {"corpus": corpus_path, **options})


def results(corpus, trained, question: int | str | None = 1, n_random: int = 4, seed: int = 0, folds: int = 5,
            repeats: int = 5, redraws: int = 199, progress: bool = False) -> dict[str, pd.DataFrame]:
    """The result tables of a trained run (``results/*.csv`` of the run folder), from the cached stages.

    ``question``: the question whose answers are sliced (1, the poster's), None (every answer in
    one analysis) or ``"all"``: each question in turn, the tables stacked with a ``question``
    column (:func:`toolkit.questions.stack`). ``trained`` may also be an attention table (the
    voice of a network reading both streams).

    Hirability: the AUC table and the paired tests use tuned models on attention slices and one
    random draw; the redraw test uses ``redraws`` random draws and the attention slices with fixed
    hyper-parameters (the same procedure for every draw; tuning 199 draws would cost minutes).

    Returns
    -------
    dict
        ``attention_vs_random`` (means with intervals), ``importances``, ``recovery`` (simulated
        corpora only), ``hirability_auc``, ``hirability_redraws`` (the AUC of every draw),
        ``permutation_tests``.
    """
    from . import classify, questions, stages

    question = questions.parse(question)
    if question == questions.ALL:
        return questions.stack({q: results(corpus, trained, question=q, n_random=n_random, seed=seed, folds=folds,
                                           repeats=repeats, redraws=redraws, progress=progress)
                                for q in questions.questions_of(corpus)})
    sliced = stages.slices(corpus, trained, question=question, n_random=n_random, seed=seed)
    features = stages.slice_features(corpus, sliced)
    tables = {
        "attention_vs_random": classify.summarize(
            stages.attention_vs_random(features, folds=folds, repeats=repeats, seed=seed, progress=progress),
            n_splits=folds),
        "importances": stages.importances(features, folds=folds, seed=seed, progress=progress).table,
    }
    from .corpus import planted

    if planted(corpus) is not None and len(planted(corpus)):
        tables["recovery"] = stages.recovery(corpus, sliced, seed=seed)
    hir = stages.hirability(corpus, trained, question=question, folds=folds, redraws=1, seed=seed,
                            progress=progress)
    null = stages.hirability(corpus, trained, question=question, folds=folds, redraws=redraws, seed=seed,
                             tune=False, n_boot=0, progress=progress)
    tables["hirability_auc"] = hir.table
    tables["hirability_redraws"] = null.redraws
    tables["permutation_tests"] = stages.tests(hir, seed=seed, redraw_null=null)
    return tables


def run(corpus, run_dir, folds: int = 5, seed: int = 0, epochs: int = 8, device: str = "auto", threads: int = 1,
        question: int | str | None = 1, n_random: int = 4, repeats: int = 5, redraws: int = 199, null: int = 0,
        strict: bool = False, workers: int | None = None, seeds: int = 1, attribute: str | None = None,
        adversary: float = 0.0, adversary_kind: str | None = None, modality: str = "face",
        fusion: str = "attention", progress: bool = True) -> PipelineResult:
    """Train HireNet, extract slices, run every analysis and write the run folder.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus or str or Path
        The corpus, or its folder.
    run_dir : str or Path
        The run folder (created if needed).
    folds, seed, epochs, device, threads, workers :
        Training (:func:`toolkit.stages.train`); ``folds`` and ``seed`` also for the analyses.
    question : int, "all" or None
        The question whose answers are sliced (the poster uses the first); ``"all"``: every
        question in turn, each table with a ``question`` column, and the answer attention per
        question (``results/question_attention.csv``).
    n_random : int
        Random slices per answer.
    repeats : int
        Repeats of the attention-vs-random cross-validation.
    redraws : int
        Random-slice draws of the hirability redraw null (fixed hyper-parameters, see :func:`results`).
    null : int
        Replicates of each null reference (0: no null controls; the face only).
    seeds : int
        Trained networks compared with the null references (the run and ``seeds - 1`` more seeds).
    strict : bool
        Refuse a corpus with candidates or answers without any tracked frame (default: leave them
        out, list them in ``excluded.csv``, warn once).
    attribute : str, optional
        A sensitive attribute column of the manifest: the fairness audit of HireNet and of the
        slice models by its groups, ``results/fairness.csv`` (:func:`toolkit.stages.fairness`).
    adversary : float
        Strength of adversarial debiasing during training (0: off; :class:`toolkit.training.TrainConfig`).
    adversary_kind : {"direct", "indirect"}, optional
        Against ``attribute`` (direct, the default when it is given) or against recognising the
        candidate (indirect, needs no sensitive label).
    modality : {"face", "voice", "both"}
        What HireNet reads (``voice`` and ``both`` need the corpus's ``audio.parquet``). With
        ``both`` the voice's slices and analyses are written beside the face's, suffixed ``_voice``.
    fusion : {"attention", "concat"}
        How a network reading both fuses an answer's face and voice (:class:`toolkit.model.HireNetConfig`).
    progress : bool
        Show progress bars.

    Returns
    -------
    PipelineResult
    """
    from . import controls, corpus as corpus_mod, modalities, questions, stages

    if not isinstance(corpus, corpus_mod.Corpus):
        corpus = corpus_mod.load(corpus)
    question = questions.parse(question)
    streams = modalities.streams_of(modality)
    if modality != "face":
        corpus.modality("voice")  # a corpus without a voice fails before the training
        if null:
            raise ValueError("run: the null references (--null) are computed for face networks only so far; "
                             "run them with --modality face")
    if attribute is not None:
        from .fairness import candidate_attribute

        candidate_attribute(corpus.manifest, attribute)  # a bad column fails before the training
    source = corpus  # the corpus folder recorded in run.json, even when some clips are left out
    run_dir = Path(run_dir)
    results_dir = run_dir / "results"
    seconds: dict[str, float] = {}

    t = time.perf_counter()
    debiasing = {"adversary": adversary, "adversary_kind": adversary_kind, "attribute": attribute} if adversary else None
    from .model import HireNetConfig

    model = HireNetConfig(fusion=fusion) if fusion != "attention" else None
    trained = stages.train(corpus, folds=folds, seed=seed, epochs=epochs, device=device, threads=threads,
                           strict=strict, workers=workers, options=debiasing, modality=modality, model=model,
                           progress=progress)
    trained.save(run_dir)
    seconds["train"] = time.perf_counter() - t
    if len(trained.excluded) and modality != "voice":
        corpus, _ = corpus_mod.exclude_untracked(corpus)

    t = time.perf_counter()
    tables: dict[str, pd.DataFrame] = {}
    first = None
    for stream in streams:
        view, attention = modalities.stream_attention(trained, corpus, stream)
        suffix = "" if stream == streams[0] else f"_{stream}"
        sliced = stages.slices(view, attention, question=None if question == questions.ALL else question,
                               n_random=n_random, seed=seed)
        first = first or sliced
        _io.write_parquet(run_dir / f"slices{suffix}.parquet", sliced.table)
        _io.write_csv(run_dir / f"slices_skipped{suffix}.csv", sliced.skipped)
        stream_tables = results(view, attention, question=question, n_random=n_random, seed=seed, folds=folds,
                                repeats=repeats, redraws=redraws, progress=progress)
        tables.update({f"{name}{suffix}": table for name, table in stream_tables.items()})
    if question == questions.ALL:
        untrained = stages.train(corpus, folds=folds, seed=seed, epochs=epochs, untrained=True, device=device,
                                 modality=modality, model=model, progress=False)
        tables["question_attention"] = questions.answer_attention({"trained": trained, "untrained": untrained},
                                                                  corpus, seed=seed)
    seconds["analyses"] = time.perf_counter() - t
    view = modalities.stream_attention(trained, corpus, streams[0])[0]

    if attribute is not None:
        t = time.perf_counter()
        hir = stages.hirability(view, trained, question=question if question != questions.ALL else 1, folds=folds,
                                redraws=1, seed=seed, progress=progress)  # as in results(): loaded from the cache
        tables["fairness"] = stages.fairness(view, trained, attribute, hirability=hir, seed=seed)
        seconds["fairness"] = time.perf_counter() - t

    if modality != "both":
        t = time.perf_counter()
        key_moments = stages.moments(view, trained, progress=progress)
        _io.write_parquet(run_dir / "moments.parquet", key_moments)
        seconds["moments"] = time.perf_counter() - t

    if null > 0:
        t = time.perf_counter()
        references = [r for r in controls.REFERENCES if r != "twin" or corpus.meta.get("source") == "simulated"]
        replicates = stages.controls(corpus, trained, replicates=null, references=tuple(references), seed=seed,
                                     question=1 if question == questions.ALL else question, n_random=n_random,
                                     folds=folds, seeds=seeds,
                                     progress=progress)
        tables["controls_replicates"] = replicates
        tables["controls"] = controls.compare(replicates)
        seconds["controls"] = time.perf_counter() - t

    for name, table in tables.items():
        _io.write_csv(results_dir / f"{name}.csv", table)
    write_run_file(run_dir, source, folds=folds, seed=seed, epochs=epochs, question=question, n_random=n_random,
                   repeats=repeats, redraws=redraws, null=null, seeds=seeds, attribute=attribute,
                   adversary=adversary, adversary_kind=adversary_kind, modality=modality, fusion=fusion,
                   seconds={k: round(v, 1) for k, v in seconds.items()})
    return PipelineResult(run_dir, trained, first, tables, seconds)
