"""Null controls on the embedded corpus with many replicates (toolkit.controls, chapter 09).

The observed attention is the book run (``tk.datasets.book_run()``); each null reference (untrained
network, network trained on labels shuffled within positions, label-free salience score, network
trained on the effect-0 twin) is run ``--replicates`` times (or per reference with
``--untrained``, ``--permuted``, ``--salience``, ``--twin``) through the same pipeline as chapter 09,
with the same seeds: its first replicates are the chapter's, and every replicate is cached in the
run folder, so a rerun only computes what is new.

Usage: python benchmarks/null_controls.py [--replicates 10] [--permuted 3] [--twin 3]
Writes benchmarks/results/controls.csv (tidy: reference, replicate, metric, value), controls.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import toolkit as tk
from toolkit import _io

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
SHOWN = ["f1_mean", "kind_auc", "overlap_linked", "overlap_distractor", "preference", "slices_ends",
         "edge_start_2pct", "edge_end_2pct", "edge_end_1s", "anxiety_signs", "auc_difference"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10, help="replicates of each reference (default 10)")
    for ref in tk.controls.REFERENCES:
        parser.add_argument(f"--{ref}", type=int, default=None, help=f"replicates of {ref} (default: --replicates)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    counts = {ref: getattr(args, ref) if getattr(args, ref) is not None else args.replicates
              for ref in tk.controls.REFERENCES}
    t0 = time.perf_counter()
    corpus = tk.datasets.embedded_corpus()
    run = tk.datasets.book_run()
    table = tk.controls.run_controls(corpus, run.path, n_replicates=counts, attention=run.attention, seed=args.seed)
    minutes = (time.perf_counter() - t0) / 60
    _io.write_csv(HERE / "results" / "controls.csv", table)
    comparison = tk.controls.compare(table)
    verdicts = tk.controls.claims(comparison)

    command = "python benchmarks/null_controls.py " + " ".join(argv if argv is not None else sys.argv[1:])
    refs = list(tk.controls.REFERENCES)
    lines = [
        "# Null controls on the embedded corpus", "",
        f"`{command.strip()}`; {minutes:.1f} min (cached replicates are loaded, not recomputed).", "",
        _machine.markdown(_machine.describe()), "",
        "Observed: the book run's attention (`tk.datasets.book_run()`), question 1, 4 random slices per answer, "
        "Lasso attention-vs-random (5 folds grouped by candidate, 1 repeat, tuned), hirability Lasso with fixed "
        "hyper-parameters (5 folds grouped by position). Replicates per reference: "
        + ", ".join(f"{r} {counts[r]}" for r in refs) + f". With n pooled null replicates an empirical p-value "
        f"cannot go below 1/(n+1) = 1/{int(comparison['n_null'].max()) + 1}.", "",
        "| metric | observed | " + " | ".join(f"{r} mean (min-max)" for r in refs) + " | p | verdict |",
        "| --- | --- | " + " | ".join("---" for _ in refs) + " | --- | --- |",
    ]
    for r in comparison.set_index("metric").loc[[m for m in SHOWN if m in set(comparison["metric"])]].itertuples():
        cells = []
        for ref in refs:
            n = getattr(r, f"{ref}_n", 0)
            cells.append("-" if not n else f"{getattr(r, f'{ref}_mean'):.3f} ({getattr(r, f'{ref}_min'):.3f}-"
                                           f"{getattr(r, f'{ref}_max'):.3f})")
        lines.append(f"| {r.Index} | {r.observed:.3f} | " + " | ".join(cells) + f" | {r.p_value:.3f} | {r.verdict} |")
    lines += ["", "## Claims", ""] + [f"- {s}" for s in verdicts["statement"]]
    _io.write_text(HERE / "results" / "controls.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
