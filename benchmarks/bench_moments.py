"""Key moments with a signed impact: whether they recover the sign of the planted moments, and what they cost.

On the book corpus (seed 0) and on a second simulated corpus of the same design (seed 1), this script
finds every key moment of the trained run's attention (:func:`toolkit.moments.key_moments`) and its
impact on the candidate's out-of-fold score by occlusion and by integrated gradients
(:func:`toolkit.moments.impacts`), then checks it against the planted truth: a moment that overlaps a
planted anxiety-like moment should lower the score (negative impact), one that overlaps a positive
moment should raise it, one on a distractor should do neither. The same on the two null reference
networks of the null controls: untrained, and trained on labels permuted within positions
(:func:`toolkit.stages.moments_reference`); their "impacts" follow no label.

Sign accuracy is the share of moments on a planted linked moment whose impact has the planted sign;
the rank correlation (Spearman) is between the impact and the planted sign of the moment each key
moment overlaps most (anxiety -1, distractor 0, positive +1), over the moments that overlap one. Both
with 95 % bootstrap intervals over candidates (:func:`toolkit.moments.sign_recovery`).

On the book run it also compares the costlier variants of both methods (occlusion by the answer's
usual values; integrated gradients at the frame states or at the input) and times the default
impacts against a training of the same run, both on this machine's cores (the training's worker
processes, median of 5 repeats for the impacts).

Usage: python benchmarks/bench_moments.py
Writes benchmarks/results/moments.md and moments.csv.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import toolkit as tk
from toolkit import _io

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
METHODS = ("impact_occlusion", "impact_ig")
VARIANTS = {("attention", "contributions"): "default: attention occlusion, IG at contributions",
            ("usual", "contributions"): "occlusion by usual values",
            ("attention", "states"): "IG at frame states",
            ("attention", "input"): "IG at the input"}


def _evaluate(rows, table, corpus, label, network, variant="default"):
    recovery = tk.moments.sign_recovery({network: table}, corpus.episodes)
    means = tk.moments.planted_truth(table, corpus.episodes).groupby("planted")[list(METHODS)].mean()
    for r in recovery.itertuples(index=False):
        rows.append({"corpus": label, "network": network, "variant": variant, "method": r.method,
                     "sign_accuracy": r.sign_accuracy, "ci_low": r.ci_low, "ci_high": r.ci_high,
                     "n_linked_moments": r.n_linked_moments, "spearman": r.spearman,
                     "spearman_low": r.spearman_low, "spearman_high": r.spearman_high,
                     **{f"mean_{kind}": means[r.method].get(kind, np.nan)
                        for kind in ("anxiety", "positive", "distractor", "none")}})


def main() -> int:
    rows, variant_seconds = [], {}
    for corpus_seed in (0, 1):
        corpus = tk.stages.simulate("book", seed=corpus_seed)
        label = f"book, seed {corpus_seed}"
        run = tk.stages.train(corpus, seed=corpus_seed, progress=False)
        found = tk.moments.key_moments(run.attention, corpus)
        variants = VARIANTS if corpus_seed == 0 else {("attention", "contributions"): VARIANTS[("attention", "contributions")]}
        for (occlusion, attribution), name in variants.items():
            tic = time.perf_counter()
            table = tk.moments.impacts(run, corpus, found, occlusion=occlusion, attribution=attribution)
            variant_seconds[name] = time.perf_counter() - tic
            _evaluate(rows, table, corpus, label, "trained", name)
        for reference in ("untrained", "permuted"):
            table = tk.stages.moments_reference(corpus, run, reference, seed=corpus_seed)
            # the planted truth is the corpus's, whatever labels the network saw
            _evaluate(rows, table, corpus, label, reference, VARIANTS[("attention", "contributions")])
    result = pd.DataFrame(rows)
    _io.write_csv(HERE / "results" / "moments.csv", result)

    # cost on the book run: a training of the same run, then the default impacts (median of 5), same processes
    corpus = tk.stages.simulate("book", seed=0)
    run = tk.stages.train(corpus, seed=0, progress=False)
    found = tk.moments.key_moments(run.attention, corpus)
    with tempfile.TemporaryDirectory() as tmp:
        options = tk.controls._train_options(run)
        config = tk.training.TrainConfig(seed=0, folds=options["folds"], epochs=options["epochs"], **options["options"])
        tic = time.perf_counter()
        tk.runs.train(corpus, Path(tmp) / "run", config=config, model_config=options["model"], progress=False)
        training_s = time.perf_counter() - tic
    times = []
    for _ in range(5):
        tic = time.perf_counter()
        tk.moments.impacts(run, corpus, found)
        times.append(time.perf_counter() - tic)
    impacts_s = float(np.median(times))
    share = impacts_s / training_s

    def fmt(r):
        return (f"| {r.corpus} | {r.network} | {r.method.replace('impact_', '')} | {r.sign_accuracy:.3f} "
                f"[{r.ci_low:.3f}, {r.ci_high:.3f}] | {r.spearman:+.3f} [{r.spearman_low:+.3f}, {r.spearman_high:+.3f}] | "
                f"{r.n_linked_moments} | {r.mean_anxiety:+.4f} | {r.mean_positive:+.4f} | {r.mean_distractor:+.4f} |")

    header = ["| corpus | network | method | sign accuracy [95 % CI] | Spearman with planted sign [95 % CI] | "
              "moments on linked | mean: anxiety | positive | distractor |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    default = result[result["variant"] == VARIANTS[("attention", "contributions")]]
    variants = result[(result["corpus"] == "book, seed 0") & (result["network"] == "trained")]
    lines = ["# Key moments and their signed impact", "", "`python benchmarks/bench_moments.py`", "",
             _machine.markdown(_machine.describe()), "",
             "Every key moment of every answer (peaks of attention above the uniform level, cut by the slice rule); "
             "impacts in logits on the model of the fold that never saw the candidate. Default methods: occlusion "
             "by leaving the moment out of its answer's attention; integrated gradients (Captum, 16 points) at each "
             "window's contribution to its answer vector, from a baseline of the answers' usual values. Sign "
             "accuracy: share of the moments on a planted anxiety-like (expected negative) or positive (expected "
             "positive) moment whose impact has that sign; Spearman: rank correlation of the impact with the "
             "planted sign (anxiety -1, distractor 0, positive +1) over the moments on a planted moment; 95 % "
             "bootstrap intervals over candidates. Null references as in the null controls (untrained; trained on "
             "labels permuted within positions).", "", "## Default methods, trained network and null references", "",
             *header, *[fmt(r) for r in default.itertuples()], "",
             "## Variants on the book run (seed 0, trained)", "",
             "| variant | method | sign accuracy [95 % CI] | Spearman [95 % CI] | seconds (2 worker processes) |",
             "| --- | --- | --- | --- | --- |",
             *[f"| {r.variant} | {r.method.replace('impact_', '')} | {r.sign_accuracy:.3f} [{r.ci_low:.3f}, "
               f"{r.ci_high:.3f}] | {r.spearman:+.3f} [{r.spearman_low:+.3f}, {r.spearman_high:+.3f}] | "
               f"{variant_seconds[r.variant]:.1f} |" for r in variants.itertuples()], "",
             "## Cost", "",
             f"Default impacts of the book run: {impacts_s:.2f} s (median of 5: "
             f"{', '.join(f'{t:.2f}' for t in times)}) for {len(found)} moments, against {training_s:.1f} s for a "
             f"training of the same run on the same cores: **{share:.1%}** of a training (target of issue 14: at "
             f"most 10 %).", ""]
    _io.write_text(HERE / "results" / "moments.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
