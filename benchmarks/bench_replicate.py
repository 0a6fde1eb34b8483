"""One full training (all folds) of the book run, folds one after the other and side by side.

A null study needs one training per replicate of the permuted and twin references, so the time of one
full training on the book corpus sets what the book can afford (target of the design document: 20 s on
2 CPU cores). This benchmark trains the default book run twice in one process, with ``workers=1`` (folds
one after the other) and ``workers=N`` (folds in N worker processes), checks that both give the same
predictions, and writes the times with the machine to ``results/replicate.json`` and ``.md``.

Usage: python benchmarks/bench_replicate.py [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import toolkit as tk
from toolkit import _io

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent


def _train(corpus, workers: int) -> tuple[float, object]:
    tic = time.perf_counter()
    fitted = tk.training.fit(corpus, tk.training.TrainConfig(), progress=False, workers=workers)
    return time.perf_counter() - tic, fitted


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="processes of the side-by-side run (default 2)")
    args = parser.parse_args(argv)
    corpus = tk.stages.simulate("book", seed=0)
    one_s, one = _train(corpus, 1)
    many_s, many = _train(corpus, args.workers)
    same = one.predictions.equals(many.predictions) and one.attention.equals(many.attention)
    auc = float(one.metrics.set_index(["model", "metric"]).loc[("hirenet", "auc"), "value"])
    result = {"machine": _machine.describe(), "corpus": repr(corpus), "folds": int(one.config["train"]["folds"]),
              "epochs_run": int(len(one.history)), "seconds_one_process": round(one_s, 1),
              f"seconds_{args.workers}_workers": round(many_s, 1), "workers": args.workers,
              "identical_results": bool(same), "hirenet_auc": round(auc, 4)}
    _io.write_json(HERE / "results" / "replicate.json", result)
    command = "python benchmarks/bench_replicate.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        "# One full training of the book run", "",
        f"`{command.strip()}`", "", _machine.markdown(result["machine"]), "",
        f"{result['corpus']}; {result['folds']} folds, {result['epochs_run']} epochs in all (early stopping); "
        f"out-of-fold AUC {auc:.3f} both ways; identical predictions and attention: {same}.", "",
        "| folds trained | seconds |", "| --- | --- |",
        f"| one after the other (1 process) | {one_s:.1f} |",
        f"| side by side ({args.workers} worker processes) | {many_s:.1f} |",
        "", "Target of the design document: 20 s on 2 CPU cores, 2 s on one H100/H200.",
    ]
    _io.write_text(HERE / "results" / "replicate.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps(result))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
