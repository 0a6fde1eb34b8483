"""The whole pipeline on one corpus: ``python -m toolkit run CORPUS RUN``.

Stages, each cached in the run folder (a rerun with the same corpus, parameters and code loads
instead of recomputing):

1. :func:`toolkit.hirenet.train`: grouped cross-validation, out-of-fold predictions and attention;
2. :func:`toolkit.slices.extract`: attention slices and random slices -> ``slices.parquet``;
3. :func:`toolkit.analysis.attention_vs_random`, :func:`~toolkit.analysis.importances`,
   :func:`~toolkit.analysis.recovery` (simulated corpora) -> ``results/*.csv``;
4. :func:`toolkit.hirability.analyze`: hirability AUC and the paired tests -> ``results/*.csv``;
5. optionally :func:`toolkit.controls.run_controls`: the null references -> ``results/controls*.csv``.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import _io


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


def run(corpus, run_dir, train_config=None, model_config=None, question: int = 1, n_random: int = 4,
        seed: int = 0, n_repeats: int = 5, n_redraws: int = 19, n_null: int = 0,
        progress: bool = True) -> PipelineResult:
    """Train HireNet, extract slices and run every analysis; write the run folder.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus or str or Path
        The corpus, or its folder.
    run_dir : str or Path
        The run folder (created if needed).
    train_config, model_config :
        Passed to :func:`toolkit.hirenet.train` (None: the defaults).
    question : int
        The question whose answers are sliced (the poster uses the first).
    n_random : int
        Random slices per answer.
    seed : int
        Seed of the slices and of the analyses.
    n_repeats : int
        Repeats of the attention-vs-random cross-validation.
    n_redraws : int
        Random-slice redraws of the hirability analysis.
    n_null : int
        Replicates of each null reference (0: no null controls).
    progress : bool
        Show progress bars.

    Returns
    -------
    PipelineResult
    """
    from . import analysis, cache, corpus as corpus_mod, hirability, hirenet, slices as slices_mod

    if not isinstance(corpus, corpus_mod.Corpus):
        corpus = corpus_mod.load(corpus)
    run_dir = Path(run_dir)
    results = run_dir / "results"
    seconds: dict[str, float] = {}

    t = time.perf_counter()
    trained = hirenet.train(corpus, run_dir, config=train_config, model_config=model_config, progress=progress)
    seconds["train"] = time.perf_counter() - t

    t = time.perf_counter()
    slice_key = {"attention": trained.attention, "corpus": cache.corpus_fingerprint(corpus), "question": question,
                 "n_random": n_random, "seed": seed}
    sliceset = analysis.cached(run_dir, "slices", slice_key, lambda: slices_mod.extract(
        trained.attention, corpus, question=question, n_random=n_random, seed=seed))
    _io.write_parquet(run_dir / "slices.parquet", sliceset.table)
    _io.write_csv(run_dir / "slices_skipped.csv", sliceset.skipped)
    features = analysis.cached(run_dir, "features", slice_key, lambda: slices_mod.features(corpus, sliceset))
    seconds["slices"] = time.perf_counter() - t

    tables: dict[str, pd.DataFrame] = {}
    t = time.perf_counter()
    key = {**slice_key, "n_repeats": n_repeats}
    tables["attention_vs_random"] = analysis.cached(
        run_dir, "attention_vs_random", key,
        lambda: analysis.attention_vs_random(features, seed=seed, n_repeats=n_repeats, progress=progress))
    tables["importances"] = analysis.cached(
        run_dir, "importances", slice_key, lambda: analysis.importances(features, seed=seed, progress=progress))
    if corpus.episodes is not None:
        tables["recovery"] = analysis.cached(
            run_dir, "recovery", slice_key, lambda: analysis.recovery(sliceset, corpus.episodes, corpus, seed=seed))
    for name, table in tables.items():
        _io.write_csv(results / f"{name}.csv", table)
    seconds["analyze"] = time.perf_counter() - t

    t = time.perf_counter()
    hir, tests = hirability.analyze(trained.attention, corpus, results, question=question,
                                    n_splits=int(trained.config["train"]["folds"]), n_redraws=n_redraws,
                                    seed=seed, progress=progress)
    tables["hirability_auc"] = hir.table
    tables["permutation_tests"] = tests
    seconds["hirability"] = time.perf_counter() - t

    if n_null > 0:
        from . import controls

        t = time.perf_counter()
        references = [r for r in controls.REFERENCES if r != "twin" or corpus.meta.get("source") == "simulated"]
        null = controls.run_controls(corpus, run_dir, n_replicates=n_null, references=references, seed=seed,
                                     attention=trained.attention, train_config=train_config,
                                     model_config=model_config, question=question, n_random=n_random,
                                     progress=progress)
        tables["controls"] = controls.compare(null)
        _io.write_csv(results / "controls_replicates.csv", null)
        _io.write_csv(results / "controls.csv", tables["controls"])
        seconds["controls"] = time.perf_counter() - t

    _io.write_json(run_dir / "pipeline.json", {"question": question, "n_random": n_random, "seed": seed,
                                               "n_repeats": n_repeats, "n_redraws": n_redraws, "n_null": n_null,
                                               "seconds": {k: round(v, 1) for k, v in seconds.items()}})
    return PipelineResult(run_dir, trained, sliceset, tables, seconds)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m toolkit run",
        description="The whole pipeline: train HireNet, extract attention and random slices, run every "
                    "analysis (and, with --null, the null references). Each stage is cached in RUN.")
    parser.add_argument("corpus", type=Path, help="corpus folder")
    parser.add_argument("run", type=Path, help="run folder (created)")
    parser.add_argument("--question", type=int, default=1, help="question whose answers are sliced (default 1)")
    parser.add_argument("--n-random", type=int, default=4, help="random slices per answer (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of training, slices and analyses (default 0)")
    parser.add_argument("--folds", type=int, default=None, help="cross-validation folds of HireNet")
    parser.add_argument("--epochs", type=int, default=None, help="maximum training epochs of HireNet")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto (default auto)")
    parser.add_argument("--n-repeats", type=int, default=5,
                        help="repeats of the attention-vs-random cross-validation (default 5)")
    parser.add_argument("--n-redraws", type=int, default=19,
                        help="random-slice redraws of the hirability analysis (default 19)")
    parser.add_argument("--null", type=int, default=0, metavar="N",
                        help="replicates of each null reference: label-permuted, untrained, salience and "
                             "(simulated corpora only) the effect-free twin")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from . import hirenet

    overrides = {k: v for k, v in (("folds", args.folds), ("epochs", args.epochs), ("device", args.device))
                 if v is not None}
    train_config = hirenet.TrainConfig(seed=args.seed, **overrides)
    result = run(args.corpus, args.run, train_config=train_config, question=args.question,
                 n_random=args.n_random, seed=args.seed, n_repeats=args.n_repeats, n_redraws=args.n_redraws,
                 n_null=args.null, progress=not args.quiet)
    timing = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    print(f"run written to {result.path} ({timing}); summary: python -m toolkit report {result.path}")
    print(json.dumps({k: len(v) for k, v in result.tables.items()}))
    return 0
