"""Key moments with a signed impact: what they cost, and whether they recover the sign of the planted moments.

On the book corpus (seed 0) and on a second simulated corpus of the same design (seed 1), this script
finds every key moment of the trained run's attention (:func:`toolkit.moments.key_moments`) and its
impact on the candidate's out-of-fold score by occlusion and by integrated gradients
(:func:`toolkit.moments.impacts`), then checks it against the planted truth: a moment that overlaps a
planted anxiety-like moment should lower the score (negative impact), one that overlaps a positive
moment should raise it, one on a distractor should do neither. The same on the untrained network (a
null reference: its "impacts" follow no label). Sign accuracy is the share of moments on a planted
linked moment whose impact has the planted sign, with a 95 % bootstrap interval over candidates.

It also times the impacts of the book run (one process) against the run's own training time.

Usage: python benchmarks/bench_moments.py
Writes benchmarks/results/moments.md and moments.csv.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import toolkit as tk
from toolkit import _io

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
SIGN = {"anxiety": -1, "positive": 1}
METHODS = ("impact_occlusion", "impact_ig")


def planted_kind(table: pd.DataFrame, episodes: pd.DataFrame) -> pd.Series:
    """The kind of the planted moment each key moment overlaps most ("none" when it overlaps none)."""
    by_answer = {a: g for a, g in episodes.groupby("answer_id")}
    kinds = []
    for m in table.itertuples(index=False):
        g = by_answer.get(str(m.answer_id))
        if g is None:
            kinds.append("none")
            continue
        overlap = (np.minimum(g["end_s"], m.end_s) - np.maximum(g["start_s"], m.start_s)).clip(lower=0)
        kinds.append(str(g["kind"].iloc[int(overlap.argmax())]) if overlap.max() > 0 else "none")
    return pd.Series(kinds, index=table.index)


def sign_accuracy(table: pd.DataFrame, method: str, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float, int]:
    """Share of moments on a linked planted moment whose impact has the planted sign, with a bootstrap over candidates."""
    linked = table[table["planted"].isin(list(SIGN))]
    correct = (np.sign(linked[method]) == linked["planted"].map(SIGN)).to_numpy(float)
    if len(correct) == 0:
        return float("nan"), float("nan"), float("nan"), 0
    codes, _ = pd.factorize(linked["candidate_id"])
    sums = np.bincount(codes, weights=correct)
    counts = np.bincount(codes).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(sums), size=(n_boot, len(sums)))
    boot = sums[draws].sum(1) / counts[draws].sum(1)
    return float(correct.mean()), float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975)), len(correct)


def main() -> int:
    rows, timing = [], {}
    for corpus_seed in (0, 1):
        corpus = tk.stages.simulate("book", seed=corpus_seed)
        for network in ("trained", "untrained"):
            tic = time.perf_counter()
            run = tk.stages.train(corpus, seed=corpus_seed, untrained=network == "untrained", progress=False)
            found = tk.moments.key_moments(run.attention, corpus)
            tic = time.perf_counter()
            table = tk.moments.impacts(run, corpus, found, progress=True)
            if corpus_seed == 0 and network == "trained":
                timing = {"impacts_s": time.perf_counter() - tic,
                          "training_s": float(run.config["training_seconds"]), "moments": len(table),
                          "candidates": int(table["candidate_id"].nunique())}
            table["planted"] = planted_kind(table, corpus.episodes)
            for method in METHODS:
                acc, low, high, n = sign_accuracy(table, method)
                means = table.groupby("planted")[method].mean()
                rows.append({"corpus": f"book, seed {corpus_seed}", "network": network, "method": method,
                             "sign_accuracy": acc, "ci_low": low, "ci_high": high, "n_linked_moments": n,
                             "mean_anxiety": means.get("anxiety", np.nan),
                             "mean_positive": means.get("positive", np.nan),
                             "mean_distractor": means.get("distractor", np.nan),
                             "mean_none": means.get("none", np.nan)})
    result = pd.DataFrame(rows)
    _io.write_csv(HERE / "results" / "moments.csv", result)
    share = timing["impacts_s"] / timing["training_s"]
    lines = ["# Key moments and their signed impact", "", "`python benchmarks/bench_moments.py`", "",
             _machine.markdown(_machine.describe()), "",
             "Every key moment of every answer (peaks of attention above the uniform level, cut by the slice rule); "
             "impacts in logits on the model of the fold that never saw the candidate (occlusion by the answer's "
             "usual values; integrated gradients with 16 points). Sign accuracy: share of the moments on a planted "
             "anxiety-like (expected negative) or positive (expected positive) moment whose impact has that sign, "
             "95 % bootstrap interval over candidates; then the mean impact of moments by the planted moment they "
             "overlap most.", "",
             "| corpus | network | method | sign accuracy | 95 % interval | moments on linked | mean: anxiety | "
             "positive | distractor | none |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
             *[f"| {r.corpus} | {r.network} | {r.method.replace('impact_', '')} | {r.sign_accuracy:.3f} | "
               f"[{r.ci_low:.3f}, {r.ci_high:.3f}] | {r.n_linked_moments} | {r.mean_anxiety:+.4f} | "
               f"{r.mean_positive:+.4f} | {r.mean_distractor:+.4f} | {r.mean_none:+.4f} |" for r in result.itertuples()],
             "",
             f"Time on the book run (seed 0, one process): {timing['impacts_s']:.1f} s for {timing['moments']} moments "
             f"of {timing['candidates']} candidates, against {timing['training_s']:.1f} s for the run's training "
             f"(2 worker processes): {share:.0%} of a training (target of issue 14: at most 10 %).", ""]
    _io.write_text(HERE / "results" / "moments.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
