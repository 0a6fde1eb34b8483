"""Null controls: what the analyses show when attention means nothing (DESIGN section 6).

An attention network that learned nothing still picks unusual moments and peaks at the ends of
answers; a label-free detector of unusual moments finds planted moments as well as a trained
network. So every result of the analyses (attention vs random slices, importances, positions,
recovery of planted moments, hirability) is read beside the same result computed from
*null references*, attention sources that cannot know what the label depends on:

``untrained``
    HireNet with its initial weights, no training at all (replicate ``r``: initial seed
    ``seed + r``);
``permuted``
    HireNet trained on a copy of the corpus whose labels are shuffled among the candidates of
    each position (:func:`permute_labels`; frames untouched);
``salience``
    the label-free salience score :func:`toolkit.salience.salience` in place of attention
    (deterministic: its replicates redraw the random slices and the folds);
``twin``
    simulated corpora only: HireNet trained on the effect-0 twin (:func:`effect_zero_twin`),
    the same corpus from the same seed in a world where no moment is linked to the label.

The observed attention is called ``trained``. Every source goes through the same pipeline
(:func:`summarize_attention`, built on the stages of :mod:`toolkit.stages`) and is evaluated
against the *true* labels and the episodes of the corpus it was computed on (the twin's own
frames and episodes for ``twin``). :func:`run_controls` computes all sources and replicates
(each one a cached stage); :func:`compare` gives, for each claim and each reference, an
empirical p-value, Holm's correction across the claims, and a verdict. The package returns
numbers; the chapters write the sentences.

Typical use::

    table = tk.stages.controls(corpus, run, replicates=19)
    tk.controls.compare(table)
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


__all__ = [
    "REFERENCES", "OBSERVED", "METRICS", "CLAIMS", "VERDICT_METRICS", "MIN_REPLICATES", "ANXIETY_SIGNS",
    "EDGE_DISCOUNT_S", "EDGE_SHARE", "EDGE_SECONDS", "permute_labels", "effect_zero_twin", "reference_seed",
    "reference_attention", "edge_rates", "summarize_attention", "run_controls", "compare", "pooled",
    "edge_study", "plot_nulls", "plot_edge_study",
]

#: The null references, in display order.
REFERENCES: tuple[str, ...] = ("untrained", "permuted", "salience", "twin")
#: The name of the observed attention source.
OBSERVED = "trained"
#: Default of the edge discount shown by :func:`edge_study`: peaks within 1 s of an answer's
#: first or last frame are excluded by the slice rule (``edge_discount_s`` of
#: :func:`toolkit.slices.find_slice`).
EDGE_DISCOUNT_S = 1.0
#: A peak is "at the start" (end) when it lies in the first (last) 2 % of its answer ...
EDGE_SHARE = 0.02
#: ... or within its first (last) second.
EDGE_SECONDS = 1.0

#: The signs of anxiety the poster reads in attention slices: feature -> expected direction
#: (eyes closed longer than usual, lip stretcher and lip tightener active, jaw drop not active).
ANXIETY_SIGNS: dict[str, int] = {"AU45_delta": 1, "AU20_active": 1, "AU23_active": 1, "AU26_active": -1}

#: Every metric of :func:`summarize_attention`: (what it measures, the direction a claim needs).
METRICS: dict[str, tuple[str, str]] = {
    "f1_mean": ("attention vs random slices: Lasso mean F1 (coin flip 0.45)", "greater"),
    "kind_auc": ("attention vs random slices: Lasso AUC (chance 0.5)", "greater"),
    "overlap_linked": ("overlap with label-linked moments, attention / random slices", "greater"),
    "overlap_distractor": ("overlap with distractor moments, attention / random slices", "greater"),
    "preference": ("preference for label-linked over distractor moments (1 = none)", "greater"),
    "slices_start": ("share of attention slices centred in the first 20 % of the answer", "greater"),
    "slices_middle": ("share of attention slices centred in the middle 60 %", "greater"),
    "slices_end": ("share of attention slices centred in the last 20 %", "greater"),
    "slices_ends": ("share of attention slices at the start or end (random: about 0.4)", "greater"),
    "edge_start_2pct": ("share of attention peaks in the first 2 % of the answer", "greater"),
    "edge_end_2pct": ("share of attention peaks in the last 2 % of the answer", "greater"),
    "edge_start_1s": ("share of attention peaks in the answer's first second", "greater"),
    "edge_end_1s": ("share of attention peaks in the answer's last second", "greater"),
    "anxiety_signs": ("anxiety signs: mean signed attention - random difference (sd units)", "greater"),
    "AU45_delta": ("AU45 (eyes closed) than usual: attention - random (sd units)", "greater"),
    "AU20_active": ("AU20 (lip stretcher) active: attention - random (sd units)", "greater"),
    "AU23_active": ("AU23 (lip tightener) active: attention - random (sd units)", "greater"),
    "AU26_active": ("AU26 (jaw drop) active: attention - random (sd units)", "less"),
    "auc_attention": ("hirability AUC of attention slices (Lasso)", "greater"),
    "auc_random": ("hirability AUC of random slices (Lasso, mean over draws)", "greater"),
    "auc_difference": ("hirability AUC, attention - random (Lasso)", "greater"),
}

#: The poster's claims and ours, with the metric that tests each.
CLAIMS: tuple[tuple[str, str], ...] = (
    ("attention slices differ from random slices", "f1_mean"),
    ("attention slices show the signs of anxiety", "anxiety_signs"),
    ("attention slices sit at the start and end of answers", "slices_ends"),
    ("attention slices carry more hirability information than random slices", "auc_difference"),
    ("attention finds the planted moments (ours)", "overlap_linked"),
    ("attention prefers the moments the label depends on (ours)", "preference"),
)

_TRAINED_REFERENCES = ("permuted", "untrained", "twin")


# --------------------------------------------------------------------------- null corpora

def permute_labels(corpus, seed: int):
    """A copy of ``corpus`` whose candidate labels are shuffled among the candidates of each position.

    Each position keeps its number of invited candidates; a candidate keeps one label on all
    its answers. Frames and episodes are the same objects as in ``corpus`` (nothing else
    changes), so a model trained on the copy sees the same faces with labels that no longer
    belong to them.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
    seed : int
        Seed of the permutation.

    Returns
    -------
    toolkit.corpus.Corpus
        With ``meta["permuted_labels"] = {"seed": seed, "within": "position_id"}`` and no path.
    """
    from .corpus import Corpus

    for col in ("candidate_id", "position_id", "label"):
        if col not in corpus.manifest.columns:
            raise ValueError(f"manifest: missing column {col!r}; cannot permute labels")
    cand = corpus.manifest.drop_duplicates("candidate_id")[["candidate_id", "position_id", "label"]]
    rng = np.random.default_rng(seed)
    new: dict[str, int] = {}
    for _, g in cand.groupby("position_id", sort=True):
        new.update(zip(g["candidate_id"], rng.permutation(g["label"].to_numpy())))
    manifest = corpus.manifest.copy()
    manifest["label"] = manifest["candidate_id"].map(new).astype(int)
    meta = {**corpus.meta, "permuted_labels": {"seed": int(seed), "within": "position_id"}}
    return Corpus(manifest, corpus.frames, meta, corpus.episodes, None, corpus.audio)


def effect_zero_twin(corpus, cached: bool = True):
    """The effect-0 twin of a simulated corpus: the same seed and configuration with ``effect=0``.

    The twin has the same positions, candidates, labels, answer durations, face dynamics and
    distractor moments; only the anxiety and positive moments are redrawn, at rates that no
    longer depend on the candidate's quality (see :func:`toolkit.simulate.effect_zero_twin`).
    When ``corpus`` is a subset, the twin is restricted to the same answers.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
        A corpus made by :mod:`toolkit.simulate` (its ``meta`` holds the configuration and seed).
    cached : bool
        Simulate through the cached stage :func:`toolkit.stages.simulate` (a second call loads the
        twin), or in memory.

    Returns
    -------
    toolkit.corpus.Corpus

    Raises
    ------
    ValueError
        When ``corpus`` was not made by the simulator.
    """
    from . import simulate, stages

    meta = corpus.meta or {}
    if meta.get("source") != "simulated" or "config" not in meta or "seed" not in meta:
        raise ValueError("the effect-0 twin exists only for a corpus made by toolkit.simulate: this corpus's "
                         f"corpus.json has source={meta.get('source')!r} and no simulation config and seed")
    config = simulate.effect_zero_twin(simulate.make_config(simulate.SimulationConfig(), **meta["config"]))
    seed = int(meta["seed"])
    twin = stages.simulate(config, seed=seed) if cached else simulate.simulate(config, seed=seed)
    answers = corpus.manifest["answer_id"]
    if len(answers) != len(twin.manifest) or not answers.isin(set(twin.manifest["answer_id"])).all():
        twin = twin.subset(answer_ids=answers)
    return twin


# --------------------------------------------------------------------------- attention of each reference

def reference_seed(reference: str, replicate: int, seed: int = 0) -> int:
    """The seed of one replicate of a null reference, disjoint from the trained run's and the other references'.

    Trained seed ``r`` (``trained``, replicate ``r``) uses ``seed + r`` (the run itself is ``r = 0``);
    replicate ``r`` of the ``i``-th reference of :data:`REFERENCES` uses ``seed + 1000 * (i + 1) + r``,
    so no null network shares its initial weights, folds or permutation with a trained network or
    with another reference (for fewer than 1000 replicates).
    """
    if reference == OBSERVED:
        return int(seed) + int(replicate)
    return int(seed) + 1000 * (REFERENCES.index(reference) + 1) + int(replicate)


def _train_options(run) -> dict:
    """The keyword arguments of :func:`toolkit.stages.train` that made ``run`` (seed and untrained aside)."""
    from .model import HireNetConfig

    saved = dict(run.config["train"])
    architecture = HireNetConfig(**run.config["model"])
    main = {"folds": saved.pop("folds"), "epochs": saved.pop("epochs"), "device": saved.pop("device"),
            "threads": saved.pop("num_threads")}
    for name in ("seed", "untrained"):
        saved.pop(name)
    return {**main, "model": architecture, "options": saved}


def reference_attention(corpus, reference: str, replicate: int, run, seed: int = 0,
                        progress: bool = False) -> tuple[pd.DataFrame, object]:
    """The attention of one null reference, and the corpus to evaluate it on.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
    reference : {"trained", "untrained", "permuted", "salience", "twin"}
        ``trained`` is ``run`` itself (replicate 0) or the same network trained with another seed.
    replicate : int
        Replicate number (its seed: :func:`reference_seed`).
    run : toolkit.runs.Run
        The trained run; the null networks are trained with its options and architecture
        (through the cached stage :func:`toolkit.stages.train`).
    seed : int
        The trained run's seed.
    progress : bool
        Show training progress.

    Returns
    -------
    attention : pandas.DataFrame
        ``answer_id``, ``time_s``, ``weight``.
    corpus : toolkit.corpus.Corpus
        The corpus the attention belongs to: ``corpus`` itself, or the effect-0 twin for ``twin``.
    """
    from . import stages

    if reference == OBSERVED:
        if int(replicate) == 0:
            return run.attention, corpus
        options = {**_train_options(run), "seed": reference_seed(OBSERVED, replicate, seed), "progress": progress}
        return stages.train(corpus, **options).attention, corpus
    if reference not in REFERENCES:
        raise ValueError(f"unknown reference {reference!r}; choose {OBSERVED!r} or one of {', '.join(REFERENCES)}")
    if reference == "salience":
        return stages.salience(corpus), corpus
    s = reference_seed(reference, replicate, seed)
    options = {**_train_options(run), "seed": s, "progress": progress}
    if reference == "untrained":
        return stages.train(corpus, untrained=True, **options).attention, corpus
    if reference == "permuted":
        return stages.train(permute_labels(corpus, s), **options).attention, corpus
    twin = effect_zero_twin(corpus)
    return stages.train(twin, **options).attention, twin


# --------------------------------------------------------------------------- the headline numbers of one source

def _answer_spans(corpus, answers) -> tuple[pd.Series, pd.Series]:
    frames = corpus.frames[corpus.frames["answer_id"].isin(set(answers))]
    span = frames.groupby("answer_id")["time_s"].agg(["min", "max"])
    return span["min"], span["max"]


def _peak_edge_rates(table: pd.DataFrame, corpus, share: float = EDGE_SHARE,
                     seconds: float = EDGE_SECONDS) -> dict:
    att = table[table["kind"] == "attention"]
    if att.empty:
        return {k: np.nan for k in ("edge_start_2pct", "edge_end_2pct", "edge_start_1s", "edge_end_1s")}
    t0, t1 = _answer_spans(corpus, att["answer_id"].unique())
    a = att["answer_id"].map(t0).to_numpy(float)
    b = att["answer_id"].map(t1).to_numpy(float)
    peak = att["peak_s"].to_numpy(float)
    rel = (peak - a) / np.where(b > a, b - a, np.nan)
    return {
        "edge_start_2pct": float(np.mean(rel <= share)),
        "edge_end_2pct": float(np.mean(rel >= 1 - share)),
        "edge_start_1s": float(np.mean(peak - a <= seconds)),
        "edge_end_1s": float(np.mean(b - peak <= seconds)),
    }


def edge_rates(attention: pd.DataFrame, corpus, question: int | None = 1, edge_discount_s: float = 0.0,
               share: float = EDGE_SHARE, seconds: float = EDGE_SECONDS) -> dict:
    """How often the slice rule's attention peak sits at the very start or end of an answer.

    Parameters
    ----------
    attention : pandas.DataFrame
        ``answer_id``, ``time_s``, ``weight``.
    corpus : toolkit.corpus.Corpus
    question : int or None
        Answers to this question (None: all answers).
    edge_discount_s : float
        Passed to the slice rule: peaks within this many seconds of an edge are excluded.
    share, seconds : float
        The edge zones: the first and last ``share`` of the answer, and its first and last
        ``seconds``.

    Returns
    -------
    dict
        ``edge_start_2pct``, ``edge_end_2pct``, ``edge_start_1s``, ``edge_end_1s`` (shares of
        answers; the names keep the defaults' values) and ``n_answers``. A uniform peak would
        give ``share`` at each end.
    """
    from . import slices

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = slices.extract(attention, corpus, question=question, n_random=0, edge_discount_s=edge_discount_s)
    out = _peak_edge_rates(found.table, corpus, share, seconds)
    out["n_answers"] = int((found.table["kind"] == "attention").sum())
    return out


def _standardized_differences(feats: pd.DataFrame, columns) -> dict:
    is_att = (feats["kind"] == "attention").to_numpy()
    out = {}
    for c in columns:
        if c not in feats.columns:
            out[c] = np.nan
            continue
        x = feats[c].to_numpy(np.float64)
        ok = np.isfinite(x)
        sd = x[ok].std()
        out[c] = float((x[ok & is_att].mean() - x[ok & ~is_att].mean()) / sd) if sd > 0 else 0.0
    return out


def summarize_attention(corpus, attention: pd.DataFrame, seed: int = 0, question: int | None = 1,
                        n_random: int = 4, n_splits: int = 5, n_repeats: int = 1, edge_discount_s: float = 0.0,
                        hirability: bool = True, tune: bool = True) -> dict:
    """The headline numbers of one attention source, through the pipeline of chapters 04-07.

    Attention and random slices (:func:`toolkit.slices.extract`, seed ``seed``), their features,
    then, against the corpus's *true* labels and its episodes:

    - ``f1_mean``, ``kind_auc``: attention vs random slices, Lasso only (the strongest model of
      the poster), cross-validated by candidate, ``n_repeats`` repeats (chapter 04 uses 5 and
      the forest too; 1 repeat keeps the null replicates cheap); its strength is tuned by an
      inner cross-validation as in chapter 04 (``tune``) or fixed at ``C = 0.1``;
    - ``overlap_linked``, ``overlap_distractor``, ``preference``: :func:`toolkit.recovery.recovery`
      without bootstrap (simulated corpora); *linked* means the anxiety and positive kinds, also
      in the effect-0 twin where they are no longer linked to the label;
    - ``slices_start``, ``slices_middle``, ``slices_end``, ``slices_ends``: where attention slices
      sit (:func:`toolkit.recovery.slice_positions`);
    - ``edge_start_2pct``, ``edge_end_2pct``, ``edge_start_1s``, ``edge_end_1s``: see :func:`edge_rates`;
    - ``anxiety_signs`` and the four features of :data:`ANXIETY_SIGNS`: a cheap importance
      profile in place of SHAP (chapter 05). Each is the difference of the feature's mean between
      attention and random slices in standard deviations (the quantity whose sign SHAP's
      direction reports); ``anxiety_signs`` averages the four with the poster's signs, so it is
      positive when attention slices look anxious;
    - ``auc_attention``, ``auc_random``, ``auc_difference``: out-of-fold hirability AUC of the
      Lasso with fixed hyper-parameters (:func:`toolkit.hirability.hirability_auc`, ``tune=False``;
      chapter 07 tunes four models) on attention slices and on each of the ``n_random`` random
      draws (their mean);
    - ``n_slices`` (attention slices) and ``n_skipped`` (answers without one).

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
        The corpus the attention belongs to.
    attention : pandas.DataFrame
        ``answer_id``, ``time_s``, ``weight``.
    seed : int
        Seed of the random slices and of the folds.
    question : int or None
        Answers sliced (the poster: the first question).
    n_random : int
        Random slices per answer (also the hirability draws).
    n_splits, n_repeats : int
        Cross-validation of attention vs random.
    edge_discount_s : float
        The slice rule's edge discount (0: none).
    hirability : bool
        Compute the hirability AUCs (the slowest part).
    tune : bool
        Tune the attention-vs-random Lasso (as :func:`toolkit.models.make_models`) or fix ``C = 0.1``
        (much faster on small corpora, where scikit-learn's overhead dominates).

    Returns
    -------
    dict
        Metric name -> value (NaN where a metric cannot be computed, e.g. overlap without episodes).
    """
    from . import corpus as corpus_mod, recovery, stages

    sliceset = stages.slices(corpus, attention, question=question, n_random=n_random, seed=seed,
                             edge_discount_s=edge_discount_s)
    feats = stages.slice_features(corpus, sliceset)
    table = sliceset.table
    out: dict[str, float] = {"n_slices": float((table["kind"] == "attention").sum()),
                             "n_skipped": float(len(sliceset.skipped))}
    if (table["kind"] == "attention").sum() < n_splits:
        raise ValueError(f"only {int(out['n_slices'])} attention slices: too few for {n_splits} folds")

    folds = stages.attention_vs_random(feats, folds=n_splits, repeats=n_repeats, seed=seed,
                                       models="lasso" if tune else "lasso_fixed")
    mean = folds.groupby("metric")["value"].mean()
    out["f1_mean"] = float(mean["f1_mean"])
    out["kind_auc"] = float(mean["auc"])

    for k in ("overlap_linked", "overlap_distractor", "preference"):
        out[k] = np.nan
    planted = corpus_mod.planted(corpus)
    if planted is not None and len(planted):
        rec = stages.recovery(corpus, sliceset, n_boot=0, seed=seed)
        rec = rec[rec["location"] == "all"].set_index(["moment", "metric"])["value"]
        out["overlap_linked"] = float(rec.get(("linked", "ratio"), np.nan))
        out["overlap_distractor"] = float(rec.get(("distractor", "ratio"), np.nan))
        out["preference"] = float(rec.get(("linked vs distractor", "preference"), np.nan))

    pos = recovery.slice_positions(sliceset, corpus)
    loc = pos.loc[pos["kind"] == "attention", "location"].value_counts(normalize=True)
    for name in ("start", "middle", "end"):
        out[f"slices_{name}"] = float(loc.get(name, 0.0))
    out["slices_ends"] = out["slices_start"] + out["slices_end"]
    out.update(_peak_edge_rates(table, corpus))

    diffs = _standardized_differences(feats, ANXIETY_SIGNS)
    out.update(diffs)
    out["anxiety_signs"] = float(np.nanmean([sign * diffs[c] for c, sign in ANXIETY_SIGNS.items()]))

    for k in ("auc_attention", "auc_random", "auc_difference"):
        out[k] = np.nan
    if hirability and n_random > 0 and edge_discount_s == 0:
        try:
            res = stages.hirability(corpus, attention, question=question, folds=n_splits, redraws=n_random,
                                    n_boot=1, seed=seed, tune=False, models=("Lasso",))
        except ValueError:  # e.g. too few positions with both labels for the folds: the AUCs stay NaN
            pass
        else:
            att = float(res.table.loc[res.table["kind"] == "attention", "auc"].iloc[0])
            rnd = float(res.redraws["auc"].mean())
            out.update(auc_attention=att, auc_random=rnd, auc_difference=att - rnd)
    return out


# --------------------------------------------------------------------------- all references, cached

def _replicates(n_replicates, references) -> dict[str, int]:
    if isinstance(n_replicates, dict):
        unknown = set(n_replicates) - set(references)
        if unknown:
            raise ValueError(f"n_replicates names reference(s) {sorted(unknown)} not in references {list(references)}")
        counts = {r: int(n_replicates.get(r, 0)) for r in references}
    else:
        counts = {r: int(n_replicates) for r in references}
    bad = {r: n for r, n in counts.items() if n < 0}
    if bad:
        raise ValueError(f"n_replicates must be >= 0, got {bad}")
    return counts


def run_controls(corpus, run, n_replicates: int | dict = 3, references=REFERENCES, seed: int = 0,
                 question: int | None = 1, n_random: int = 4, n_splits: int = 5, n_repeats: int = 1,
                 edge_discount_s: float = 0.0, hirability: bool = True, tune: bool = True, seeds: int = 1,
                 progress: bool = True, n_jobs: int = 2) -> pd.DataFrame:
    """The trained attention and every null reference through the same pipeline.

    Each (reference, replicate) is summarised by the cached stage
    :func:`toolkit.stages.source_summary` with the slice and fold seed of :func:`reference_seed`,
    and every null network is trained by the cached stage :func:`toolkit.stages.train`, so adding
    replicates later computes only the new ones.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
    run : toolkit.runs.Run
        The trained run (its attention is the observed source; its options train the null networks).
    n_replicates : int or dict
        Replicates per reference, or a dict reference -> replicates.
    references : sequence of str
        Among :data:`REFERENCES`; ``twin`` needs a simulated corpus.
    seed : int
        The trained run's seed.
    question, n_random, n_splits, n_repeats, edge_discount_s, hirability, tune :
        See :func:`summarize_attention`.
    seeds : int
        Trained networks: the run itself and ``seeds - 1`` more trained with the seeds of
        :func:`reference_seed` (their spread shows what one training's luck can do; :func:`compare`
        uses their mean).
    progress : bool
        Show a progress bar.
    n_jobs : int
        Sources computed side by side (threads of this process). A training's folds go to the
        worker processes of :func:`toolkit.training.fit`, so with two sources at once the workers
        always have a fold to train while this process summarises the other source. The table does
        not depend on it: every source is seeded by its reference and replicate.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``reference`` (``trained`` for the observed source), ``replicate``, ``seed``, ``metric``,
        ``value``.
    """
    from . import stages

    unknown = [r for r in references if r not in REFERENCES]
    if unknown:
        raise ValueError(f"unknown reference(s) {unknown}; choose among {', '.join(REFERENCES)}")
    counts = _replicates(n_replicates, references)
    params = {"question": question, "n_random": n_random, "folds": n_splits, "repeats": n_repeats,
              "edge_discount_s": edge_discount_s, "hirability": hirability, "tune": tune}
    if int(seeds) != seeds or seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    jobs = [(OBSERVED, r) for r in range(int(seeds))] + [(ref, r) for ref in references for r in range(counts[ref])]
    from tqdm import tqdm

    if int(n_jobs) != n_jobs or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, got {n_jobs!r}")

    def one(job) -> pd.DataFrame:
        ref, r = job
        attention, on = reference_attention(corpus, ref, r, run, seed=seed)
        s = reference_seed(ref, r, seed)
        values = stages.source_summary(on, attention, seed=s, **params)
        return pd.DataFrame({"reference": ref, "replicate": r, "seed": s, "metric": list(values),
                             "value": list(values.values())})

    bar = tqdm(total=len(jobs), desc="null controls", unit="source", disable=not progress)
    if n_jobs == 1:
        rows = []
        for job in jobs:
            rows.append(one(job))
            bar.update()
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(int(n_jobs)) as pool:
            futures = [pool.submit(one, job) for job in jobs]
            for future in futures:
                future.add_done_callback(lambda _: bar.update())
            rows = [future.result() for future in futures]  # in job order, whatever finished first
    bar.close()
    table = pd.concat(rows, ignore_index=True)
    return table.astype({"reference": str, "metric": str, "replicate": int, "seed": int, "value": float})


# --------------------------------------------------------------------------- observed vs null

def _check_table(table: pd.DataFrame) -> None:
    missing = [c for c in ("reference", "replicate", "metric", "value") if c not in table.columns]
    if missing:
        raise ValueError(f"controls table: missing column(s) {missing}; expected reference, replicate, metric, value")
    if not (table["reference"] == OBSERVED).any():
        raise ValueError(f"controls table: no row of the observed source {OBSERVED!r}")
    if not table["reference"].isin(REFERENCES).any():
        raise ValueError("controls table: no null reference")


#: The metrics of the verdict table (DESIGN section 3), one per claim of :data:`CLAIMS`.
VERDICT_METRICS: tuple[str, ...] = tuple(metric for _, metric in CLAIMS)
#: Fewest null replicates that can give an empirical p-value of 0.05: (1 + 0) / (1 + 19).
MIN_REPLICATES = 19


def _empirical_p(observed: float, null, direction: str) -> float:
    """:func:`toolkit.stats.empirical_p_value` over the finite replicates; NaN when there is nothing to compare."""
    from . import stats

    null = np.asarray(null, float)
    null = null[np.isfinite(null)]
    if not np.isfinite(observed) or null.size == 0:
        return np.nan
    return stats.empirical_p_value(observed, null, alternative="greater" if direction == "greater" else "less")


def compare(table: pd.DataFrame, alpha: float = 0.05, metrics=None, min_replicates: int = MIN_REPLICATES) -> pd.DataFrame:
    """The verdict table: each claim's metric against each null reference separately, Holm across claims.

    For every metric and reference, the empirical p-value of the observed (trained) value on that
    reference's replicates (:func:`toolkit.stats.empirical_p_value`, in the direction the claim needs,
    :data:`METRICS`);
    then, per reference, Holm's correction across the metrics of the table. A claim *survives*
    against a reference when its adjusted p is at most ``alpha``. With :math:`n` replicates an
    empirical p-value cannot go below :math:`1/(n+1)`, and after Holm's correction over :math:`m`
    claims no adjusted p-value can go below :math:`m/(n+1)`: a verdict needs at least
    ``max(min_replicates, m / alpha - 1)`` replicates (119 for the six claims of :data:`CLAIMS`).
    When a reference has fewer and the observed value lies beyond every one of its replicates, more
    replicates could still make the claim pass: the verdict is ``not enough replicates``, never a
    pass (and never a fail). When some replicates reach the observed value, the claim ``does not
    survive`` against that reference. The row of reference ``all`` gives the
    claim's overall verdict: ``survives`` only when it survives against every reference that
    applies, ``not enough replicates`` when some reference has too few and none refutes it.
    With several trained seeds (``replicate`` > 0 of ``trained``), the observed value is their mean.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`run_controls`'s tidy table.
    alpha : float
    metrics : sequence of str, optional
        Default :data:`VERDICT_METRICS` present in ``table``.
    min_replicates : int
        Fewest replicates of a reference for any verdict (raised to ``m / alpha - 1`` by Holm's
        correction over ``m`` claims).

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``reference``, ``observed``, ``observed_min``, ``observed_max`` (spread over
        trained seeds), ``null_mean``, ``null_min``, ``null_max``, ``n_replicates``, ``p``,
        ``p_holm``, ``needed`` (replicates this reference needs for a verdict), ``verdict``.
    """
    from . import stats

    _check_table(table)
    if metrics is None:
        metrics = [m for m in VERDICT_METRICS if m in set(table["metric"])]
    refs = [r for r in REFERENCES if (table["reference"] == r).any()]
    rows = []
    for m in metrics:
        t = table[table["metric"] == m]
        direction = METRICS.get(m, (m, "greater"))[1]
        obs = t.loc[t["reference"] == OBSERVED, "value"].to_numpy(float)
        obs = obs[np.isfinite(obs)]
        observed = float(obs.mean()) if obs.size else np.nan
        for r in refs:
            v = t.loc[t["reference"] == r, "value"].to_numpy(float)
            v = v[np.isfinite(v)]
            rows.append({"metric": m, "reference": r, "observed": observed,
                         "observed_min": float(obs.min()) if obs.size else np.nan,
                         "observed_max": float(obs.max()) if obs.size else np.nan,
                         "null_mean": float(v.mean()) if v.size else np.nan,
                         "null_min": float(v.min()) if v.size else np.nan,
                         "null_max": float(v.max()) if v.size else np.nan,
                         "n_replicates": int(v.size), "p": _empirical_p(observed, v, direction)})
    out = pd.DataFrame(rows)
    out["p_holm"] = np.nan
    out["needed"] = int(min_replicates)
    for r, idx in out.groupby("reference", sort=False).groups.items():
        p = out.loc[idx, "p"].to_numpy(float)
        ok = np.isfinite(p)
        adjusted = np.full(p.size, np.nan)
        if ok.any():
            adjusted[ok] = stats.holm(p[ok])
        out.loc[idx, "p_holm"] = adjusted
        out.loc[idx, "needed"] = max(int(min_replicates), int(np.ceil(ok.sum() / alpha - 1 - 1e-9)))

    def verdict(row) -> str:
        if not np.isfinite(row["p_holm"]):
            return "not measured"
        if row["p_holm"] <= alpha:
            return "survives"
        beyond_all = row["p"] <= 1 / (row["n_replicates"] + 1) + 1e-12
        return "not enough replicates" if row["n_replicates"] < row["needed"] and beyond_all else "does not survive"

    out["verdict"] = out.apply(verdict, axis=1) if len(out) else pd.Series(dtype=str)
    overall = []
    for m in metrics:
        sub = out[(out["metric"] == m) & (out["verdict"] != "not measured")]
        if sub.empty:
            v = "not measured"
        elif (sub["verdict"] == "does not survive").any():
            v = "does not survive"
        elif (sub["verdict"] == "not enough replicates").any():
            v = "not enough replicates"
        else:
            v = "survives"
        overall.append({"metric": m, "reference": "all", "observed": sub["observed"].iloc[0] if len(sub) else np.nan,
                        "observed_min": sub["observed_min"].iloc[0] if len(sub) else np.nan,
                        "observed_max": sub["observed_max"].iloc[0] if len(sub) else np.nan,
                        "null_mean": np.nan, "null_min": sub["null_min"].min() if len(sub) else np.nan,
                        "null_max": sub["null_max"].max() if len(sub) else np.nan,
                        "n_replicates": int(sub["n_replicates"].min()) if len(sub) else 0,
                        "p": sub["p"].max() if len(sub) else np.nan,
                        "p_holm": sub["p_holm"].max() if len(sub) else np.nan,
                        "needed": int(sub["needed"].max()) if len(sub) else int(min_replicates), "verdict": v})
    out = pd.concat([out, pd.DataFrame(overall)], ignore_index=True)
    order = {m: i for i, m in enumerate(metrics)}
    ref_order = {r: i for i, r in enumerate([*refs, "all"])}
    out = out.sort_values(["metric", "reference"], key=lambda c: c.map(order if c.name == "metric" else ref_order))
    return out.reset_index(drop=True)


def pooled(table: pd.DataFrame, metrics=None) -> pd.DataFrame:
    """Each metric's observed value beside the mean and range of every reference (a wide summary).

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``observed``, then per reference ``<ref>_mean``, ``<ref>_min``, ``<ref>_max``,
        ``<ref>_n``.
    """
    _check_table(table)
    if metrics is None:
        metrics = [m for m in METRICS if m in set(table["metric"])]
    refs = [r for r in REFERENCES if (table["reference"] == r).any()]
    rows = []
    for m in metrics:
        t = table[(table["metric"] == m) & np.isfinite(table["value"])]
        row = {"metric": m, "observed": float(t.loc[t["reference"] == OBSERVED, "value"].mean())}
        for r in refs:
            v = t.loc[t["reference"] == r, "value"].to_numpy()
            row.update({f"{r}_mean": float(v.mean()) if v.size else np.nan,
                        f"{r}_min": float(v.min()) if v.size else np.nan,
                        f"{r}_max": float(v.max()) if v.size else np.nan, f"{r}_n": int(v.size)})
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- edge artefacts

def edge_study(corpus, attentions: dict, discount_s: float = EDGE_DISCOUNT_S, seed: int = 0,
               question: int | None = 1, n_random: int = 4, n_splits: int = 5, tune: bool = True) -> pd.DataFrame:
    """What the edge discount changes: every source's slices with and without it.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
    attentions : dict
        Source name -> attention table (e.g. ``{"trained": run.attention, "untrained": ...}``).
    discount_s : float
        The discount compared with none (:data:`EDGE_DISCOUNT_S`).
    seed, question, n_random, n_splits, tune :
        See :func:`summarize_attention` (hirability is left out here).

    Returns
    -------
    pandas.DataFrame
        Tidy: ``source``, ``edge_discount_s``, ``metric``, ``value``.
    """
    rows = []
    for name, att in attentions.items():
        for d in (0.0, float(discount_s)):
            values = summarize_attention(corpus, att, seed=seed, question=question, n_random=n_random,
                                         n_splits=n_splits, edge_discount_s=d, hirability=False, tune=tune)
            rows += [(name, d, k, v) for k, v in values.items()]
    return pd.DataFrame(rows, columns=["source", "edge_discount_s", "metric", "value"])


# --------------------------------------------------------------------------- figures

def _colour(reference: str) -> str:
    from .plots import COLORS

    return COLORS["null"] if reference == "twin" else COLORS.get(reference, COLORS["null"])


def plot_nulls(table: pd.DataFrame, metrics=("f1_mean", "overlap_linked", "preference", "edge_end_2pct",
                                              "anxiety_signs", "auc_difference"),
               ncols: int = 3, chance: dict | None = None, seed: int = 0):
    """One panel per metric: each null replicate as a dot (one colour per reference), the observed value as a line.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`run_controls`'s tidy table.
    metrics : sequence of str
    ncols : int
        Panels per row.
    chance : dict, optional
        Metric -> a reference level drawn as a dotted line (default: coin-flip F1 0.45, ratio 1,
        edge share 0.02, AUC difference 0, anxiety signs 0).
    seed : int
        Seed of the horizontal jitter.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from .plots import COLORS, metric_title

    _check_table(table)
    metrics = [m for m in metrics if m in set(table["metric"])]
    if not metrics:
        raise ValueError("none of the metrics is in the table")
    chance = chance if chance is not None else {
        "f1_mean": 0.45, "kind_auc": 0.5, "overlap_linked": 1.0, "overlap_distractor": 1.0, "preference": 1.0,
        "edge_start_2pct": EDGE_SHARE, "edge_end_2pct": EDGE_SHARE, "anxiety_signs": 0.0, "auc_difference": 0.0,
        "slices_ends": 2 * 0.2}
    refs = [r for r in REFERENCES if (table["reference"] == r).any()]
    nrows = int(np.ceil(len(metrics) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.9 * nrows), squeeze=False)
    rng = np.random.default_rng(seed)
    for ax, m in zip(axes.ravel(), metrics):
        t = table[table["metric"] == m]
        for i, r in enumerate(refs):
            v = t.loc[t["reference"] == r, "value"].to_numpy(float)
            x = i + rng.uniform(-0.18, 0.18, v.size)
            ax.scatter(x, v, s=22, color=_colour(r), alpha=0.85, lw=0, zorder=3)
            if v.size:
                ax.plot([i - 0.28, i + 0.28], [np.nanmean(v)] * 2, color=_colour(r), lw=2, zorder=2)
        obs = t.loc[t["reference"] == OBSERVED, "value"].to_numpy(float)
        if obs.size:
            ax.axhline(np.nanmean(obs), color=COLORS["attention"], lw=2, label="trained (observed)")
        if np.isfinite(obs).sum() > 1:
            ax.axhspan(np.nanmin(obs), np.nanmax(obs), color=COLORS["attention"], alpha=0.15, lw=0,
                       label="trained seeds (range)")
        if m in chance:
            ax.axhline(chance[m], color="#666666", lw=1, ls=":", label="chance / none")
        ax.set_xticks(range(len(refs)), refs, rotation=30)
        ax.set_xlim(-0.6, len(refs) - 0.4)
        ax.set_title(metric_title(m), fontsize=10)
        ax.set_ylabel(_unit(m))
    return _finish_grid(fig, axes, len(metrics))


def _finish_grid(fig, axes, n_used: int):
    """Hide the unused panels of a grid, put the legend in the first, tighten the layout."""
    for ax in axes.ravel()[n_used:]:
        ax.set_visible(False)
    axes.ravel()[0].legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def _unit(metric: str) -> str:
    if metric in ("f1_mean", "kind_auc", "auc_attention", "auc_random"):
        return "score (0-1)"
    if metric.startswith(("overlap", "preference")):
        return "ratio (1 = as random)"
    if metric.startswith(("slices_", "edge_")):
        return "share of answers"
    if metric == "auc_difference":
        return "AUC difference"
    return "difference (sd units)"


def plot_edge_study(study: pd.DataFrame, metrics=("edge_start_1s", "edge_end_1s", "slices_ends", "f1_mean"),
                    ncols: int = 4):
    """Bars of each source's metrics without and with the edge discount (:func:`edge_study`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from .plots import metric_title

    metrics = [m for m in metrics if m in set(study["metric"])]
    sources = list(dict.fromkeys(study["source"]))
    discounts = sorted(study["edge_discount_s"].unique())
    nrows = int(np.ceil(len(metrics) / ncols))
    fig, axes = plt.subplots(nrows, min(ncols, len(metrics)), figsize=(2.8 * min(ncols, len(metrics)), 3.0 * nrows),
                             squeeze=False)
    width = 0.8 / len(discounts)
    for ax, m in zip(axes.ravel(), metrics):
        for j, d in enumerate(discounts):
            vals = [study.loc[(study["source"] == s) & (study["metric"] == m) & (study["edge_discount_s"] == d),
                              "value"].mean() for s in sources]
            x = np.arange(len(sources)) + (j - (len(discounts) - 1) / 2) * width
            ax.bar(x, vals, width, color=[_colour(s) if s != OBSERVED else _colour_observed() for s in sources],
                   alpha=1.0 if d == 0 else 0.45, hatch=None if d == 0 else "//", edgecolor="white",
                   label="no discount" if d == 0 else f"discount {d:g} s")
        ax.set_xticks(range(len(sources)), sources, rotation=30)
        ax.set_title(metric_title(m), fontsize=10)
        ax.set_ylabel(_unit(m))
    return _finish_grid(fig, axes, len(metrics))


def _colour_observed() -> str:
    from .plots import COLORS

    return COLORS["attention"]
