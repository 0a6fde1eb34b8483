"""Can we trust the test? False-positive rates and power of the hirability tests, by simulation.

Training HireNet hundreds of times is out of reach on a laptop, so the study exercises the
*statistical* part of the pipeline: simulated corpus -> slices -> slice features -> out-of-fold
AUC -> tests, with a cheap slice selector in place of the trained attention:

``planted``
    an oracle attention that peaks on the planted moments whose rate is linked to the label
    (anxiety, positive) when the answer has one, and on noise otherwise. With ``effect = 0``
    those moments are not linked to the label: a null world where the selector still picks
    distinctive moments. With ``effect > 0`` it measures power.
``placebo``
    an attention made of noise: its peak is a random moment, so attention slices are random
    slices. With ``effect > 0`` the label *is* linked to moments, random slices sometimes catch
    them, and the null hypothesis "attention slices are no more informative than random
    slices" holds exactly.

Each replicate simulates a small corpus (question 1 only), cross-validates one model (Lasso with
fixed hyper-parameters, for speed) on attention features and on ``n_redraws`` random draws, and
records the p-value of each test:

``permutation``, ``delong``
    paired tests of attention vs random draw 0 (:mod:`toolkit.stats`);
``redraw``
    the attention AUC against the AUCs of all random draws;
``fixed draw``
    a naive test: the attention AUC against the AUC of one random draw taken as an exact
    number (only the attention AUC's standard error counts).

What this covers: the behaviour of the tests given the slices. What it does not: how a trained
network's attention behaves (its bias to the ends of answers, its noise); chapter 06's controls
address that.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import hirability, stats

__all__ = ["TESTS", "SCENARIOS", "planted_attention", "placebo_attention", "replicate", "study",
           "summarise", "plot_false_positive_rates", "plot_power"]

#: The tests compared, in display order.
TESTS: tuple[str, ...] = ("permutation", "delong", "redraw", "fixed draw")

#: Default corpus of a replicate: about 160 candidates in 20 positions, one short answer each.
CORPUS = {"preset": "tiny", "n_questions": 1, "n_positions": 20, "candidates_per_position": (6, 10)}

#: Named scenarios: (selector, effect); the null ones first.
SCENARIOS = {
    "null: effect 0, planted selector": ("planted", 0.0),
    "null: placebo attention, effect 1.5": ("placebo", 1.5),
}


def _question_frames(corpus, question: int) -> pd.DataFrame:
    answers = corpus.manifest.loc[corpus.manifest["question"] == question, "answer_id"]
    return corpus.frames.loc[corpus.frames["answer_id"].isin(set(answers)), ["answer_id", "time_s"]].copy()


def planted_attention(corpus, question: int = 1, kinds=("anxiety", "positive"), seed: int = 0,
                      noise: float = 0.05) -> pd.DataFrame:
    """An oracle attention table: 1 plus noise, plus 1 inside the planted moments of ``kinds``.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
        A simulated corpus (with ``episodes``).
    question : int
        Answers covered.
    kinds : tuple of str
        Planted kinds the selector prefers.
    seed : int
        Seed of the noise.
    noise : float
        Amplitude of the uniform noise (it sets the peak of answers without such a moment).

    Returns
    -------
    pandas.DataFrame
        ``answer_id``, ``time_s``, ``weight``.
    """
    from .corpus import planted

    episodes = planted(corpus)  # the corpus's own stream's: a voice "distractor" is not the face's
    if episodes is None:
        raise ValueError("planted_attention needs a simulated corpus with episodes")
    fr = _question_frames(corpus, question)
    rng = np.random.default_rng(seed)
    weight = 1.0 + noise * rng.random(len(fr))
    ep = episodes[episodes["kind"].isin(kinds)]
    ep = ep[ep["answer_id"].isin(set(fr["answer_id"]))]
    if len(ep):
        code = pd.Categorical(fr["answer_id"], categories=pd.unique(fr["answer_id"]))
        index = {a: i for i, a in enumerate(code.categories)}
        codes = np.asarray(code.codes)
        t = fr["time_s"].to_numpy(float)
        for row in ep.itertuples(index=False):
            inside = (codes == index[row.answer_id]) & (t >= row.start_s) & (t <= row.end_s)
            weight[inside] += 1.0
    fr["weight"] = weight
    return fr


def placebo_attention(corpus, question: int = 1, seed: int = 0) -> pd.DataFrame:
    """An attention made of noise: its highest peak falls at a random moment of each answer."""
    fr = _question_frames(corpus, question)
    fr["weight"] = 1.0 + np.random.default_rng(seed).random(len(fr))
    return fr


def replicate(seed: int, selector: str = "planted", effect: float = 0.0, n_redraws: int = 19,
              model: str = "Lasso", n_permutations: int = 2000, corpus_options: dict | None = None) -> dict:
    """One replicate of the calibration study: simulate, slice, cross-validate, test.

    Parameters
    ----------
    seed : int
        Seed of the corpus, the slices, the folds and the permutations.
    selector : {"planted", "placebo"}
        The stand-in for a trained attention (module docstring).
    effect : float
        The simulator's effect size (0: the label is not linked to any moment).
    n_redraws : int
        Random draws (draw 0 is the one of the paired tests). With 19 the redraw p-value takes
        the values 1/20, 2/20, ...
    model : str
        One of :data:`toolkit.hirability.MODELS`, with fixed hyper-parameters.
    n_permutations : int
        Permutations of the paired test.
    corpus_options : dict, optional
        Overrides of :data:`CORPUS`.

    Returns
    -------
    dict
        ``seed``, ``selector``, ``effect``, ``n_candidates``, ``auc_attention``, ``auc_random``
        (draw 0), ``auc_random_mean`` (over draws), then ``p_<test>`` for each of :data:`TESTS`.
    """
    from . import simulate, stages

    options = {**CORPUS, **(corpus_options or {})}
    preset = options.pop("preset")
    corpus = simulate.simulate(preset, seed=seed, effect=effect, **options)
    if selector == "planted":
        attention = planted_attention(corpus, seed=seed)
    elif selector == "placebo":
        attention = placebo_attention(corpus, seed=seed)
    else:
        raise ValueError(f"unknown selector {selector!r}; choose planted or placebo")
    # the stages of the pipeline, uncached: thousands of small corpora live in memory only
    sl = stages.slices.compute(corpus, attention, question=1, n_random=n_redraws, seed=seed)
    feats = stages.slice_features.compute(corpus, sl)
    result = hirability.hirability_auc(feats, corpus.candidates, models=[model], n_draws=n_redraws,
                                       n_boot=1, seed=seed, tune=False)
    pair = result.paired(model, draw=0)
    y = pair["label"].to_numpy(int)
    perm = stats.paired_permutation_test(y, pair["attention"], pair["random"], n_permutations=n_permutations,
                                         seed=seed)
    dl = stats.delong_paired(y, pair["attention"], pair["random"], alternative="greater")
    null = result.redraws["auc"].to_numpy()
    rd = stats.redraw_null(perm.auc_a, null)
    naive = stats.fixed_draw_z_test(y, pair["attention"], perm.auc_b)
    return {
        "seed": seed, "selector": selector, "effect": effect, "n_candidates": int(y.size),
        "auc_attention": perm.auc_a, "auc_random": perm.auc_b, "auc_random_mean": float(null.mean()),
        "p_permutation": perm.p_value, "p_delong": dl.p_value, "p_redraw": rd.p_value,
        "p_fixed draw": naive.p_value,
    }


def study(scenarios: dict[str, tuple[str, float]], n_replicates: int = 40, seed: int = 0,
          n_jobs: int = 1, progress: bool = False, **options) -> pd.DataFrame:
    """Run :func:`replicate` ``n_replicates`` times per scenario (seeds ``seed``, ``seed + 1``, ...).

    Parameters
    ----------
    scenarios : dict
        Name -> (selector, effect), e.g. :data:`SCENARIOS`.
    n_replicates : int
        Replicates per scenario.
    seed : int
        First seed.
    n_jobs : int
        Processes (the result does not depend on it).
    progress : bool
        Show a progress bar.
    **options
        Passed to :func:`replicate` (``n_redraws``, ``model``, ``corpus_options``...).

    Returns
    -------
    pandas.DataFrame
        One row per replicate with a ``scenario`` column.
    """
    jobs = [(name, sel, eff, seed + r) for name, (sel, eff) in scenarios.items() for r in range(n_replicates)]
    if progress:
        from tqdm import tqdm
        jobs = tqdm(jobs, desc="calibration", unit="replicate")
    if n_jobs == 1:
        results = [replicate(s, selector=sel, effect=eff, **options) for _, sel, eff, s in jobs]
    else:
        from joblib import Parallel, delayed
        results = Parallel(n_jobs=n_jobs)(delayed(replicate)(s, selector=sel, effect=eff, **options)
                                          for _, sel, eff, s in jobs)
    return pd.DataFrame([{"scenario": name, **r} for (name, _, _, _), r in zip(jobs, results)])


def summarise(replicates: pd.DataFrame, alpha: float = 0.05, method: str = "beta") -> pd.DataFrame:
    """Rejection rate of each test at level ``alpha``, with a binomial interval.

    Parameters
    ----------
    replicates : pandas.DataFrame
        From :func:`study`.
    alpha : float
        Nominal level.
    method : str
        Interval of :func:`statsmodels.stats.proportion.proportion_confint`: ``"beta"``
        (Clopper-Pearson, default) or ``"wilson"``.

    Returns
    -------
    pandas.DataFrame
        ``scenario``, ``selector``, ``effect``, ``test``, ``n_replicates``, ``rejections``,
        ``rate``, ``ci_low``, ``ci_high``, ``alpha``.
    """
    from statsmodels.stats.proportion import proportion_confint

    rows = []
    for (scenario, selector, effect), g in replicates.groupby(["scenario", "selector", "effect"], sort=False):
        for test in TESTS:
            p = g[f"p_{test}"].to_numpy(float)
            k = int((p <= alpha).sum())
            low, high = proportion_confint(k, p.size, alpha=0.05, method=method)
            rows.append((scenario, selector, effect, test, p.size, k, k / p.size, low, high, alpha))
    return pd.DataFrame(rows, columns=["scenario", "selector", "effect", "test", "n_replicates", "rejections",
                                       "rate", "ci_low", "ci_high", "alpha"])


def plot_false_positive_rates(summary: pd.DataFrame, ax=None):
    """Rejection rates under the null scenarios, with intervals and the nominal level."""
    import matplotlib.pyplot as plt

    from . import plots

    plots.style()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    null = summary[summary["scenario"].str.startswith("null")]
    scenarios = list(dict.fromkeys(null["scenario"]))
    width = 0.8 / max(1, len(scenarios))
    colors = [plots.OKABE_ITO["blue"], plots.OKABE_ITO["orange"], plots.OKABE_ITO["green"]]
    for i, sc in enumerate(scenarios):
        s = null[null["scenario"] == sc].set_index("test").reindex(list(TESTS))
        x = np.arange(len(TESTS)) + (i - (len(scenarios) - 1) / 2) * width
        ax.bar(x, s["rate"], width=width * 0.9, color=colors[i % len(colors)], label=sc)
        ax.errorbar(x, s["rate"], yerr=[s["rate"] - s["ci_low"], s["ci_high"] - s["rate"]], fmt="none",
                    ecolor="black", capsize=3, lw=1)
    alpha = float(null["alpha"].iloc[0]) if len(null) else 0.05
    ax.axhline(alpha, color=plots.COLORS["null"], ls="--", lw=1, label=f"nominal level {alpha:g}")
    ax.set_xticks(np.arange(len(TESTS)), list(TESTS))
    ax.set_ylabel("false-positive rate")
    ax.set_xlabel("test")
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_power(summary: pd.DataFrame, selector: str = "planted", ax=None):
    """Rejection rate against effect size for one selector (effect 0: the false-positive rate)."""
    import matplotlib.pyplot as plt

    from . import plots

    plots.style()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    s = summary[summary["selector"] == selector].sort_values("effect")
    markers = dict(zip(TESTS, "osD^"))
    colors = dict(zip(TESTS, [plots.OKABE_ITO[c] for c in ("blue", "sky", "green", "vermillion")]))
    step = 0.015 * max(1e-9, float(s["effect"].max() - s["effect"].min()))
    for k, test in enumerate(TESTS):
        t = s[s["test"] == test]
        ax.errorbar(t["effect"] + (k - 1.5) * step, t["rate"], yerr=[t["rate"] - t["ci_low"], t["ci_high"] - t["rate"]],
                    marker=markers[test], color=colors[test], ls="--" if test == "delong" else "-",
                    capsize=3, label=test)
    alpha = float(s["alpha"].iloc[0]) if len(s) else 0.05
    ax.axhline(alpha, color=plots.COLORS["null"], ls="--", lw=1)
    ax.set_xlabel("effect size of the simulator (label-moment link)")
    ax.set_ylabel("rejection rate (power)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    return ax
