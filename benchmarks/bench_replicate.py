"""One full training (all folds) of the book run: the time a null replicate costs, before and after.

A null study needs one training per replicate of the permuted and twin references and one per
trained seed, so the time of one full training on the book corpus sets what the book can afford
(target of the design document: 20 s on 2 CPU cores, 2 s on one H100/H200). This benchmark, in one
process on one machine:

1. trains the book run with the new defaults twice with 2 worker processes (the first start pays
   for spawning the workers, the second reuses them, as a null study does) and once in a single
   process, and checks that all three give the same predictions and attention;
2. trains it with the earlier defaults (32 GRU units, at most 12 epochs, patience 4, the two
   directions of the frame GRU in two passes) and with each lever added in turn, on seed 0, and one lever tried and not kept;
3. trains the earlier and the new defaults on seeds 0-4 and compares the out-of-fold AUC and the
   attention measures of chapter 09 (:func:`toolkit.controls.summarize_attention`), mean and
   standard deviation over the seeds: the levers must not change the results beyond seed noise.

Results: ``results/replicate.json``, ``results/replicate.md`` and ``results/replicate_seeds.csv``.

Usage: python benchmarks/bench_replicate.py [--workers 2] [--seeds 5]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

import toolkit as tk
from toolkit import _io
from toolkit.model import HireNetConfig
from toolkit.training import TrainConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent

#: The defaults before this benchmark's levers, and each lever added in turn (cumulative):
#: (HireNetConfig fields, TrainConfig fields, frame GRU in two passes).
EARLIER = (dict(hidden_size=32), dict(epochs=12, patience=4), True)
LEVERS = [
    ("earlier defaults: 32 units, <= 12 epochs, patience 4, two GRU passes", EARLIER),
    ("+ 16 GRU units", (dict(hidden_size=16), EARLIER[1], True)),
    ("+ <= 8 epochs, patience 3", ({}, {}, True)),
    ("+ both GRU directions in one pass (the new defaults)", ({}, {}, False)),
    ("tried, not kept: the new defaults with batches of 64 at lr 6e-3",
     ({}, dict(batch_size=64, lr=6e-3), False)),
]
NEW = ({}, {}, False)
MEASURES = ("auc", "preference", "overlap_linked", "f1_mean", "slices_ends", "edge_end_2pct")


def _gru_passes(two_pass: bool, workers: int) -> None:
    """The frame GRU in two passes (the earlier way) or one, here and in the worker processes."""
    if tk.model._BiGRU.one_pass == (not two_pass):
        return
    os.environ["TOOLKIT_GRU_TWO_PASS"] = "1" if two_pass else "0"
    tk.model._BiGRU.one_pass = not two_pass
    tk.training._shutdown_pools()  # new workers read the setting when they start
    # start the workers now, so that the training timed next finds them running, like every later replicate
    _train(tk.stages.simulate("book", seed=0), {}, {}, 0, workers)


def _train(corpus, model: dict, train: dict, seed: int, workers: int):
    tic = time.perf_counter()
    fitted = tk.training.fit(corpus, TrainConfig(seed=seed, **train), HireNetConfig(**model), progress=False,
                             workers=workers)
    return time.perf_counter() - tic, fitted


def _measures(corpus, fitted) -> dict:
    auc = float(fitted.metrics.set_index(["model", "metric"]).loc[("hirenet", "auc"), "value"])
    summary = tk.controls.summarize_attention(corpus, fitted.attention, hirability=False, tune=False)
    return {"auc": auc, **{k: float(summary[k]) for k in MEASURES if k != "auc"}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the before/after comparison (default 5)")
    args = parser.parse_args(argv)
    corpus = tk.stages.simulate("book", seed=0)

    cold_s, cold = _train(corpus, {}, {}, 0, args.workers)
    warm_s, warm = _train(corpus, {}, {}, 0, args.workers)
    one_s, one = _train(corpus, {}, {}, 0, 1)
    same = all(a.predictions.equals(b.predictions) and a.attention.equals(b.attention)
               for a, b in ((cold, warm), (cold, one)))

    levers = []
    for name, (model, train, two_pass) in LEVERS:
        _gru_passes(two_pass, args.workers)
        seconds, fitted = ((warm_s, warm) if (model, train, two_pass) == NEW
                           else _train(corpus, model, train, 0, args.workers))
        levers.append({"configuration": name, "seconds": round(seconds, 1), "epochs_run": int(len(fitted.history)),
                       "auc": round(float(fitted.metrics.set_index(["model", "metric"]).loc[("hirenet", "auc"),
                                                                                              "value"]), 3)})

    rows = []
    for label, (model, train, two_pass) in (("earlier", EARLIER), ("new", NEW)):
        _gru_passes(two_pass, args.workers)
        for seed in range(args.seeds):
            seconds, fitted = _train(corpus, model, train, seed, args.workers)
            rows.append({"defaults": label, "seed": seed, "seconds": round(seconds, 1),
                         "epochs_run": int(len(fitted.history)), **_measures(corpus, fitted)})
    seeds = pd.DataFrame(rows)
    _io.write_csv(HERE / "results" / "replicate_seeds.csv", seeds)
    summary = seeds.groupby("defaults")[["seconds", *MEASURES]].agg(["mean", "std"])

    result = {"machine": _machine.describe(), "corpus": repr(corpus), "folds": int(warm.config["train"]["folds"]),
              "workers": args.workers, "seconds_cold_workers": round(cold_s, 1),
              "seconds_warm_workers": round(warm_s, 1), "seconds_one_process": round(one_s, 1),
              "identical_results": bool(same), "levers": levers,
              "seeds": {d: {m: [round(summary.loc[d, (m, "mean")], 3), round(summary.loc[d, (m, "std")], 3)]
                            for m in ("seconds", *MEASURES)} for d in summary.index}}
    _io.write_json(HERE / "results" / "replicate.json", result)

    command = "python benchmarks/bench_replicate.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        "# One full training of the book run", "",
        f"`{command.strip()}`", "", _machine.markdown(result["machine"]), "",
        f"{result['corpus']}; {result['folds']} folds, early stopping on a validation split.", "",
        "## The new defaults", "",
        "| folds trained | seconds |", "| --- | --- |",
        f"| {args.workers} worker processes, first training of the process (workers started) | {cold_s:.1f} |",
        f"| {args.workers} worker processes, workers already running (every later replicate) | {warm_s:.1f} |",
        f"| one after the other (1 process) | {one_s:.1f} |", "",
        f"Identical predictions and attention in all three: {same}.", "",
        "## What each lever gave (seed 0, workers already running)", "",
        "| configuration | seconds | epochs run (all folds) | out-of-fold AUC |", "| --- | --- | --- | --- |",
        *[f"| {r['configuration']} | {r['seconds']:.1f} | {r['epochs_run']} | {r['auc']:.3f} |" for r in levers],
        "", f"## Before and after, {args.seeds} seeds (mean ± standard deviation over seeds)", "",
        "| measure | earlier defaults | new defaults |", "| --- | --- | --- |",
        *[f"| {m} | {summary.loc['earlier', (m, 'mean')]:.3f} ± {summary.loc['earlier', (m, 'std')]:.3f} | "
          f"{summary.loc['new', (m, 'mean')]:.3f} ± {summary.loc['new', (m, 'std')]:.3f} |" for m in ("seconds", *MEASURES)],
        "", "`auc`: out-of-fold AUC of HireNet; the others: chapter 09's measures of the attention slices "
        "(`preference` for label-linked over equally salient label-free moments, `overlap_linked` relative to "
        "random slices, `f1_mean` of attention vs random slices, `slices_ends` share of attention slices at an "
        "answer's ends, `edge_end_2pct` share of attention peaks in the last 2 % of the answer). Every seed: "
        "`replicate_seeds.csv`.",
        "", "Target of the design document: 20 s on 2 CPU cores, 2 s on one H100/H200.",
    ]
    _io.write_text(HERE / "results" / "replicate.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps(result))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
