"""Face, voice or both: the ablation over seeds, and what the voice's attention finds beside the null references.

On the book corpus with a simulated voice (``tk.stages.simulate("book", seed=s, voice=True)``), for
simulation seeds 0, 1 and 2, this script trains HireNet on the face, on the voice, and on both (fused
by the modality attention and by concatenation), all with the book's defaults
(:func:`toolkit.stages.train`; seed 0 is the corpus of chapter 13, and its networks are the chapter's).
For each corpus it gives

- the out-of-fold AUC of every network with a 95 % bootstrap interval over positions
  (:func:`toolkit.modalities.ablation`; conditional on the trained networks);
- a late fusion of the face and voice networks (the sum of their logits, :func:`toolkit.modalities.late_fusion`,
  nothing fitted), the baseline a network fusing inside should reach;
- the paired test of each fused network against the better single modality on the same candidates
  (:func:`toolkit.modalities.fused_vs_single`: difference with a paired bootstrap interval over
  positions, one-sided paired permutation p);
- the overlap of the voice's attention slices (question 1, the stages' defaults) with the label-linked
  and distractor prosodic moments relative to random slices, and the preference for linked over
  distractor moments (:func:`toolkit.stages.recovery`, 95 % bootstrap intervals over answers), for the
  voice network, the voice attention of the network reading both, and the two null references that
  need a training: the untrained voice network and a voice network trained on labels permuted within
  positions (seed 1);
- the training time of each network on this machine (``training_seconds`` of the run's config: 2 worker
  processes over folds; a run loaded from the stage cache keeps the time of its training).

Usage: python benchmarks/bench_modalities.py [--seeds 0 1 2]
Writes benchmarks/results/modalities.md and modalities.csv.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import toolkit as tk
from toolkit import _io

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
NETWORKS = {"face": ("face", "attention"), "voice": ("voice", "attention"),
            "both, modality attention": ("both", "attention"), "both, concatenation": ("both", "concat")}


def _train(corpus, modality, fusion, **kw):
    model = tk.model.HireNetConfig(fusion=fusion) if fusion != "attention" else None
    run = tk.stages.train(corpus, modality=modality, model=model, progress=False, **kw)
    # the time the training took when it ran (a run loaded from the stage cache keeps it in its config)
    return run, float(run.config["training_seconds"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    ablation_rows, test_rows, recovery_rows = [], [], []
    for seed in args.seeds:
        corpus = tk.stages.simulate("book", seed=seed, voice=True)
        networks, seconds = {}, {}
        for name, (modality, fusion) in NETWORKS.items():
            networks[name], seconds[name] = _train(corpus, modality, fusion)
            print(f"seed {seed}: {name} trained in {seconds[name]:.0f} s", flush=True)
        networks["late fusion (face + voice logits)"] = tk.modalities.late_fusion(networks["face"], networks["voice"])
        table = tk.modalities.ablation(networks, corpus).assign(seed=seed)
        table["train_s"] = table["network"].map(seconds).fillna(0.0)
        ablation_rows.append(table)
        auc = table.set_index("network")["auc"]
        better = "face" if auc["face"] >= auc["voice"] else "voice"
        for name in ("both, modality attention", "both, concatenation", "late fusion (face + voice logits)"):
            t = tk.modalities.fused_vs_single(networks[name], {better: networks[better]}, corpus)
            test_rows.append(t.assign(seed=seed, network=name))
        references = {"voice network": networks["voice"],
                      "both (voice attention)": networks["both, modality attention"],
                      "untrained": _train(corpus, "voice", "attention", untrained=True)[0],
                      "label-permuted": _train(tk.controls.permute_labels(corpus, seed=1), "voice", "attention")[0]}
        for name, network in references.items():
            stream, attention = tk.modalities.stream_attention(network, corpus, "voice")
            found = tk.stages.recovery(stream, tk.stages.slices(stream, attention))
            found = found[found["location"] == "all"].set_index(["moment", "metric"])
            for moment, metric in [("linked", "ratio"), ("distractor", "ratio"), ("linked vs distractor", "preference")]:
                r = found.loc[(moment, metric)]
                recovery_rows.append({"seed": seed, "attention": name, "measure": f"{moment}: {metric}",
                                      "value": r["value"], "ci_low": r["ci_low"], "ci_high": r["ci_high"]})
    ablation = pd.concat(ablation_rows, ignore_index=True)
    tests = pd.concat(test_rows, ignore_index=True)
    recovery = pd.DataFrame(recovery_rows)
    _io.write_csv(HERE / "results" / "modalities.csv",
                  pd.concat([ablation.assign(table="ablation"), tests.assign(table="fused_vs_single"),
                             recovery.assign(table="voice_recovery")], ignore_index=True))

    def interval(v, lo, hi, signed=False):
        f = "{:+.3f}" if signed else "{:.3f}"
        return f"{f.format(v)} [{f.format(lo)}, {f.format(hi)}]"

    lines = ["# Face, voice or both", "", f"`python benchmarks/bench_modalities.py --seeds {' '.join(map(str, args.seeds))}`",
             "", _machine.markdown(_machine.describe()), "",
             "Book corpus with a simulated voice, one corpus per simulation seed; networks with the book's defaults "
             "(5 folds grouped by position, 8 epochs). Intervals: 95 % bootstrap over positions (AUC) or answers "
             "(overlap), conditional on the trained networks.", "",
             "## Out-of-fold AUC", "", "| seed | network | AUC | training (s) |", "| --- | --- | --- | --- |"]
    for r in ablation.itertuples(index=False):
        lines.append(f"| {r.seed} | {r.network} | {interval(r.auc, r.ci_low, r.ci_high)} | {r.train_s:.0f} |")
    mean = ablation.groupby("network", sort=False)["auc"].mean()
    lines += ["", "Mean AUC over seeds: " + "; ".join(f"{n} {v:.3f}" for n, v in mean.items()) + ".", "",
              "## Fused against the better single modality (same candidates)", "",
              "| seed | network | against | difference | p (one-sided) |", "| --- | --- | --- | --- | --- |"]
    for r in tests.itertuples(index=False):
        lines.append(f"| {r.seed} | {r.network} | {r.against} | {interval(r.difference, r.ci_low, r.ci_high, True)} "
                     f"| {r.p:.3f} |")
    lines += ["", "## What the voice's attention finds (question 1)", "",
              "| seed | attention | linked: ratio | distractor: ratio | linked vs distractor: preference |",
              "| --- | --- | --- | --- | --- |"]
    for (seed, name), g in recovery.groupby(["seed", "attention"], sort=False):
        g = g.set_index("measure")
        cells = [interval(*g.loc[m, ["value", "ci_low", "ci_high"]]) for m in
                 ("linked: ratio", "distractor: ratio", "linked vs distractor: preference")]
        lines.append(f"| {seed} | {name} | " + " | ".join(cells) + " |")
    _io.write_text(HERE / "results" / "modalities.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
