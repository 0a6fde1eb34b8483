"""Do the verdicts work? A planted-effect corpus and its effect-0 twin through the whole null study.

The verdict rule of :func:`toolkit.controls.compare` (empirical p-value against each null reference
separately, Holm across the claims of the table, "survives" only at adjusted p <= 0.05 against every
reference) must let a real effect through and stop a null one. This study checks both, on a
simulated corpus smaller than the book's (so that each reference can have enough replicates):

* the **planted** corpus (``effect`` 1: anxiety-like moments lower, positive moments raise the chance of
  an invitation), its HireNet run with ``--seeds`` trained seeds, and ``--replicates`` replicates of
  every null reference (untrained network, network trained on labels shuffled within positions,
  label-free salience score, network trained on the effect-0 twin);
* its **effect-0 twin** (the same candidates and moments, no moment linked to the label) through the
  same study: here no claim may survive.

The claims of this table are the two that say what attention learned: ``preference`` (label-linked
over equally salient label-free moments) and ``overlap_linked`` (overlap with the label-linked
moments, relative to random slices). With m = 2 claims Holm needs at least 2 / 0.05 - 1 = 39
replicates per reference for any verdict, the default here.

Usage: python benchmarks/verdict_study.py [--replicates 39] [--seeds 5] [--seed 0]
Writes benchmarks/results/verdict_study.md, verdict_study.csv (both verdict tables) and
verdict_study_replicates.csv (every replicate).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

import toolkit as tk
from toolkit import _io

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
#: The study corpus: the book's design with fewer positions, questions and seconds (about 150,000 frames).
CORPUS = dict(n_positions=24, n_questions=2, duration_median_s=30.0, duration_range_s=(12.0, 90.0))
CLAIM_METRICS = ("preference", "overlap_linked")


def study(corpus, replicates: int, seeds: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    tic = time.perf_counter()
    run = tk.stages.train(corpus, seed=seed, progress=False)
    table = tk.stages.controls(corpus, run, replicates=replicates, seeds=seeds, seed=seed, hirability=False,
                               tune=False, progress=True)
    verdicts = tk.controls.compare(table, metrics=CLAIM_METRICS)
    return table, verdicts, time.perf_counter() - tic


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=39, help="replicates of every reference (default 39)")
    parser.add_argument("--seeds", type=int, default=5, help="trained seeds (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corpus and of the run (default 0)")
    args = parser.parse_args(argv)

    planted = tk.stages.simulate("book", seed=args.seed, **CORPUS)
    twin = tk.controls.effect_zero_twin(planted)
    tables, verdicts, seconds = [], [], {}
    for name, corpus in (("planted", planted), ("effect-0 twin", twin)):
        table, verdict, secs = study(corpus, args.replicates, args.seeds, args.seed)
        tables.append(table.assign(corpus=name))
        verdicts.append(verdict.assign(corpus=name))
        seconds[name] = secs
    replicates = pd.concat(tables, ignore_index=True)
    verdict = pd.concat(verdicts, ignore_index=True)
    _io.write_csv(HERE / "results" / "verdict_study_replicates.csv", replicates)
    _io.write_csv(HERE / "results" / "verdict_study.csv", verdict)

    command = "python benchmarks/verdict_study.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = ["# Do the verdicts work? A planted effect and its effect-0 twin", "",
             f"`{command.strip()}`", "", _machine.markdown(_machine.describe()), "",
             f"Study corpus: `tk.stages.simulate(\"book\", seed={args.seed}, {', '.join(f'{k}={v}' for k, v in CORPUS.items())})`, "
             f"{planted!r}; its effect-0 twin has the same candidates and moments. Each: {args.seeds} trained seeds, "
             f"{args.replicates} replicates of every null reference, claims {', '.join(CLAIM_METRICS)} "
             "(Holm across the two, per reference; `all`: the claim's overall verdict).", ""]
    for name in ("planted", "effect-0 twin"):
        v = verdict[verdict["corpus"] == name]
        lines += [f"## {name} corpus ({seconds[name] / 60:.1f} min, trainings included)", "",
                  "| claim | reference | observed (seed range) | null range | replicates | p | p (Holm) | verdict |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for _, r in v.iterrows():
            lines.append(f"| {r['metric']} | {r['reference']} | {r['observed']:.2f} ({r['observed_min']:.2f} to "
                         f"{r['observed_max']:.2f}) | {r['null_min']:.2f} to {r['null_max']:.2f} | "
                         f"{int(r['n_replicates'])} | {r['p']:.3f} | {r['p_holm']:.3f} | {r['verdict']} |")
        lines.append("")
    _io.write_text(HERE / "results" / "verdict_study.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    planted_ok = (verdict.query("corpus == 'planted' and metric == 'preference' and reference == 'all'")["verdict"]
                  == "survives").all()
    twin_ok = not (verdict.query("corpus == 'effect-0 twin'")["verdict"] == "survives").any()
    print(f"planted preference survives: {planted_ok}; no claim survives on the twin: {twin_ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
