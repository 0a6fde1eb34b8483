"""The stages of the pipeline (DESIGN section 2), one function each, every one cached.

This module is the one wiring of the pipeline: the command line (:mod:`toolkit.cli`), the
chapters of the book, :func:`toolkit.pipeline.run`, the null controls, the calibration study and
the benchmarks all call these functions, with these defaults. Each is a
:func:`toolkit.cache.stage`: its result is keyed by its inputs' fingerprints, every parameter
(defaults included) and the code it runs, so a second call with the same arguments loads the
result and a call with one parameter changed recomputes.

::

    corpus = tk.stages.simulate("book", seed=0)
    run = tk.stages.train(corpus)                     # HireNet, out-of-fold attention
    sliced = tk.stages.slices(corpus, run)            # attention and random slices
    features = tk.stages.slice_features(corpus, sliced)
    tk.stages.attention_vs_random(features)           # can features tell them apart?
    tk.stages.importances(features)                   # which expressions (SHAP)
    result = tk.stages.hirability(corpus, run)        # AUC of attention vs random slices
    tk.stages.tests(result)                           # paired permutation, DeLong, redraws
    tk.stages.moments(corpus, run)                    # key moments and their signed impact

Each stage's ``compute`` attribute is the same function uncached, for studies that run many
small replicates in memory.
"""
from __future__ import annotations

import warnings

import pandas as pd

from .cache import stage

__all__ = [
    "simulate", "train", "slices", "slice_features", "attention_vs_random", "importances", "recovery",
    "salience", "hirability", "tests", "moments", "source_summary", "controls", "edge_study", "calibration",
    "attention_of",
]


def attention_of(source) -> pd.DataFrame:
    """The attention table of a run (its out-of-fold attention) or of an attention-like table."""
    if isinstance(source, pd.DataFrame):
        return source
    attention = getattr(source, "attention", None)
    if isinstance(attention, pd.DataFrame):
        return attention
    raise TypeError(f"expected a run or an attention table (answer_id, time_s, weight), got {type(source).__name__}")


# --------------------------------------------------------------------------- corpus

@stage("simulate", uses=("simulate", "corpus"), folder_arg="out")
def simulate(preset: str = "book", seed: int = 0, progress: bool = False, out=None, **overrides):
    """A simulated interview corpus with ground truth (DESIGN section 5), cached as a corpus folder.

    Parameters
    ----------
    preset : {"tiny", "book", "paper"}
    seed : int
    progress : bool
        A progress bar over candidates.
    **overrides
        Fields of :class:`toolkit.simulate.SimulationConfig` (``effect``, ``n_positions``, ...).

    Returns
    -------
    toolkit.corpus.Corpus
    """
    from . import corpus as corpus_mod, simulate as sim

    sim.write(out, preset=preset, seed=seed, progress=progress, **overrides)
    return corpus_mod.load(out)


# --------------------------------------------------------------------------- training

@stage("train", uses=("training", "runs", "corpus"), ignore=("progress", "threads", "workers"), folder_arg="out")
def train(corpus, folds: int = 5, seed: int = 0, epochs: int = 8, untrained: bool = False, device: str = "auto",
          threads: int = 1, model=None, options: dict | None = None, strict: bool = False, workers: int | None = None,
          modality: str = "face", progress: bool = True, out=None):
    """HireNet with cross-validation grouped by position: out-of-fold predictions and attention.

    Candidates without any tracked frame (and answers without one) are left out and listed in the
    run's ``excluded.csv`` with the reason; ``strict`` refuses such a corpus instead.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
    folds : int
        Outer folds, grouped by ``position_id``.
    seed : int
        Seed of the folds, initial weights, batch order and dropout.
    epochs : int
        Maximum epochs per fold (early stopping on a validation split).
    untrained : bool
        Keep the initial weights (the untrained null reference).
    device : {"auto", "cpu", "cuda"}
    threads : int
        Torch CPU threads (0: torch's default); not part of the cache key.
    model : toolkit.model.HireNetConfig, optional
        The architecture (default sizes when None).
    options : dict, optional
        Other fields of :class:`toolkit.training.TrainConfig` (``lr``, ``patience``, ...).
    strict : bool
        Refuse a corpus with candidates or answers without any tracked frame.
    workers : int, optional
        Processes training folds side by side (default: one per core for corpora of 200,000 frames or
        more); not part of the cache key, since every fold is seeded by its number.
    modality : {"face", "voice", "both"}
        What the network reads (:class:`toolkit.training.TrainConfig`); ``voice`` and ``both``
        need the corpus's ``audio.parquet``. A voice network's attention is over the audio frames:
        slice it on ``corpus.modality("voice")``; a network reading both also gives
        ``run.voice_attention``.
    progress : bool

    Returns
    -------
    toolkit.runs.Run
    """
    from . import corpus as corpus_mod, runs, training

    options = dict(options or {})
    modality = options.pop("modality", modality)  # a run's own options (cross-fitting) carry its modality
    usable, excluded = corpus_mod.exclude_untracked(training.stream(corpus, modality), strict=strict)
    config = training.TrainConfig(folds=folds, seed=seed, epochs=epochs, untrained=untrained, device=device,
                                 num_threads=threads, modality=modality, **options)
    return runs.train(usable, out, config=config, model_config=model, progress=progress, excluded=excluded,
                      workers=workers)


# --------------------------------------------------------------------------- slices

@stage("slices", uses=("slices",))
def slices(corpus, attention, question: int | None = 1, n_random: int = 4, seed: int = 0, no_overlap: bool = False,
           edge_discount_s: float = 0.0):
    """Attention slices and duration-matched random slices (DESIGN section 6).

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
    attention : toolkit.runs.Run or pandas.DataFrame
        A run (its out-of-fold attention) or any attention-like table.
    question : int or None
        The question whose answers are sliced (the poster: 1; None: every answer).
    n_random : int
        Random slices per answer.
    seed : int
    no_overlap : bool
        Random slices may not overlap the attention slice.
    edge_discount_s : float
        Peaks within this many seconds of an answer's edge are ignored (0: none).

    Returns
    -------
    toolkit.slices.SliceSet
    """
    from . import slices as slices_mod

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # answers without a slice are listed in SliceSet.skipped
        return slices_mod.extract(attention_of(attention), corpus, question=question, n_random=n_random, seed=seed,
                                  no_overlap=no_overlap, edge_discount_s=edge_discount_s)


@stage("slice_features", uses=("slices",))
def slice_features(corpus, slices, threshold=None, k: float = 2.0):
    """Facial features of each slice relative to its answer's usual (``*_delta``, ``*_std``, ``*_active``).

    A slice without any tracked frame gets NaN features (its ``n_frames`` is 0); the analyses impute them
    on their training folds.
    """
    from . import slices as slices_mod

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # slices without a tracked frame: n_frames == 0, NaN features
        return slices_mod.features(corpus, slices, threshold=threshold, k=k)


@stage("salience", uses=("salience",))
def salience(corpus):
    """The label-free salience score of every answer, an attention-like table (a null reference)."""
    from . import salience as salience_mod

    return salience_mod.salience(corpus)


# --------------------------------------------------------------------------- analyses of slices

@stage("attention_vs_random", uses=("classify", "models"))
def attention_vs_random(features, folds: int = 5, repeats: int = 5, seed: int = 0, models: str = "poster",
                        progress: bool = False):
    """Can facial features alone tell attention slices from random slices?

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`slice_features` of attention and random slices.
    folds, repeats : int
        Cross-validation grouped by candidate, repeated.
    seed : int
    models : {"poster", "lasso", "lasso_fixed"}
        The poster's four (coin flip, majority, Lasso, Random Forest), the tuned Lasso alone, or
        the Lasso with its strength fixed at C = 0.1 (cheap null replicates).

    Returns
    -------
    pandas.DataFrame
        Per-fold scores: ``model``, ``repeat``, ``fold``, ``metric``, ``value``
        (:func:`toolkit.classify.summarize` gives means with intervals).
    """
    from . import classify, models as models_mod

    chosen = None
    if models == "lasso":
        chosen = {"Lasso": models_mod.make_models(seed)["Lasso"]}
    elif models == "lasso_fixed":
        chosen = {"Lasso": models_mod.fixed_lasso(seed, C=0.1)}
    elif models != "poster":
        raise ValueError(f"models: 'poster', 'lasso' or 'lasso_fixed', got {models!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return classify.cross_validate(features, seed=seed, n_splits=folds, n_repeats=repeats, models=chosen,
                                       progress=progress)


@stage("importances", uses=("importances",))
def importances(features, folds: int = 5, seed: int = 0, max_per_fold: int = 400, n_background: int = 200,
                n_trees: int = 100, progress: bool = False):
    """SHAP values of the Lasso and the Random Forest on held-out folds; ``.table`` summarises them.

    Returns
    -------
    toolkit.importances.Explanation
    """
    from . import importances as importances_mod

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importances_mod.explain(features, seed=seed, n_splits=folds, max_per_fold=max_per_fold,
                                n_background=n_background, n_trees=n_trees, progress=progress)


@stage("recovery", uses=("recovery", "simulate"))
def recovery(corpus, slices, n_boot: int = 1000, seed: int = 0):
    """Overlap of slices with the planted moments of a simulated corpus (needs ``episodes.csv``)."""
    from . import corpus as corpus_mod, recovery as recovery_mod, simulate as sim

    episodes = corpus_mod.planted(corpus)  # the episodes of the corpus's stream (face, or the voice)
    if episodes is None or not len(episodes):
        raise ValueError("recovery needs a simulated corpus with episodes.csv (with planted moments of this stream)")
    episodes = episodes.assign(linked=episodes["kind"].isin(sim.LINKED_KINDS + sim.VOICE_LINKED_KINDS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return recovery_mod.recovery(slices, episodes, corpus, n_boot=n_boot, seed=seed)


# --------------------------------------------------------------------------- hirability

@stage("hirability", uses=("hirability", "slices"), ignore=("progress", "n_jobs"))
def hirability(corpus, attention, question: int | None = 1, folds: int = 5, redraws: int = 19, n_boot: int = 1000,
               seed: int = 0, tune: bool = True, models=("RF", "Lasso", "linear SVM", "RBF SVM"),
               cross_fit: bool = True, n_jobs: int = 1, progress: bool = False):
    """Out-of-fold hirability AUC of attention slices and of ``redraws`` random draws, per model.

    Random slices are drawn once with ``redraws`` per answer; draw ``r`` is each candidate's
    ``r``-th random slice (draw 0 pairs with attention in the paired tests).

    Cross-fitting. A run's out-of-fold attention of a candidate comes from a HireNet that never saw
    that candidate but saw every other fold's labels: in hirability fold ``k`` the training
    candidates' attention slices would come from networks trained on fold ``k``'s labels. With
    ``cross_fit`` (the default, for a run), HireNet is trained again, with the run's settings and
    one fold fewer, on the candidates outside each hirability fold ``k`` (``folds`` trainings,
    cached stages); those out-of-fold attention slices train the models of fold ``k``, and fold
    ``k``'s own candidates keep the run's attention, from a model that never saw them. An
    attention table that is not a run (salience, a null replicate) is not cross-fitted: nothing
    in it was trained on the labels; nor is a run folder without its training configuration (with a
    warning). ``result.params["cross_fitted"]`` says which was done.

    Returns
    -------
    toolkit.hirability.HirabilityResult
    """
    from . import hirability as hir

    sliced = slices(corpus, attention, question=question, n_random=redraws, seed=seed)
    feats = slice_features(corpus, sliced)
    cross = None
    if cross_fit and not isinstance(attention, pd.DataFrame):
        if "train" in (getattr(attention, "config", None) or {}):
            cross = _cross_fitted(corpus, attention, feats, question=question, folds=folds, seed=seed,
                                  progress=progress)
        else:
            warnings.warn("hirability: the run records no training configuration (config.json), so HireNet cannot "
                          "be trained again: its attention is not cross-fitted (params['cross_fitted'] is False)",
                          stacklevel=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = hir.hirability_auc(feats, corpus.candidates, models=list(models), n_draws=redraws, n_splits=folds,
                                    n_boot=n_boot, seed=seed, tune=tune, n_jobs=n_jobs, progress=progress,
                                    cross_fitted=cross)
    result.params.update(question=question, redraws=redraws, folds=folds, seed=seed, tune=tune)
    return result


def _cross_fitted(corpus, run, features, question, folds: int, seed: int, progress: bool) -> dict:
    """Fold -> attention-slice features of its training candidates from a HireNet that never saw the fold."""
    import numpy as np

    from . import hirability as hir
    from .model import HireNetConfig

    config = run.config
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per = hir.candidate_features(features, corpus.candidates)
    att = per[per["kind"] == "attention"]
    fold = hir.outer_folds(att["label"].to_numpy(int), att["position_id"].astype(str).to_numpy(), n_splits=folds,
                           seed=seed)
    settings = dict(config["train"])
    fixed = ("folds", "seed", "epochs", "untrained", "device", "num_threads")
    options = {k: v for k, v in settings.items() if k not in fixed}
    model = {k: v for k, v in config["model"].items() if k != "n_questions"}
    model["features"] = tuple(model["features"]) if model.get("features") else None
    inner_folds = max(2, int(settings["folds"]) - 1)
    out = {}
    ks = np.unique(fold)
    if progress:
        from tqdm import tqdm
        ks = tqdm(ks, desc="cross-fitting HireNet", unit="fold")
    for k in ks:
        others = corpus.subset(candidate_ids=att["candidate_id"].to_numpy()[fold != k])
        inner = train(others, folds=inner_folds, seed=int(settings["seed"]), epochs=int(settings["epochs"]),
                      untrained=bool(settings["untrained"]), device=settings["device"], model=HireNetConfig(**model),
                      options=options, progress=False)
        inner_features = slice_features(others, slices(others, inner, question=question, n_random=1, seed=seed))
        out[int(k)] = inner_features[inner_features["kind"] == "attention"]
    return out


@stage("tests", uses=("hirability", "stats"))
def tests(result, permutations: int = 10_000, seed: int = 0, alternative: str = "greater", redraw_null=None):
    """Per model: is AUC(attention) above AUC(random)? Paired permutation, DeLong and redraw tests, Holm.

    ``redraw_null``: a second :func:`hirability` result (many draws, e.g. ``redraws=199, tune=False``)
    whose attention AUC and draws make the redraw test (:func:`toolkit.hirability.permutation_tests`).
    """
    from . import hirability as hir

    return hir.permutation_tests(result, n_permutations=permutations, seed=seed, alternative=alternative,
                                 redraw_null=redraw_null)


# --------------------------------------------------------------------------- key moments

@stage("moments", uses=("moments", "slices"))
def moments(corpus, run, question: int | None = None, steps: int = 16, occlusion: str = "attention",
            attribution: str = "contributions", progress: bool = False):
    """Key moments of a run's attention, their signed impact on the candidate's score and their slice features.

    Every peak of attention above the uniform level on every answer (or on ``question``'s), cut by
    the slice rule; its impact in logits by occlusion and by integrated gradients (``steps`` points)
    on the model of the fold that never saw the candidate (:func:`toolkit.moments.impacts`, whose
    ``occlusion`` and ``attribution`` these are); and the slice features of
    :func:`slice_features` (``n_frames``, ``*_delta``, ``*_std``, ``*_active``).

    Returns
    -------
    pandas.DataFrame
        One row per moment (``moments.parquet`` of a run folder).
    """
    from . import moments as moments_mod, slices as slices_mod

    if isinstance(run, pd.DataFrame) or not hasattr(run, "path"):
        raise TypeError(f"moments need a run with its checkpoints (toolkit.runs.Run), got {type(run).__name__}")
    found = moments_mod.key_moments(run.attention, corpus, question=question)
    table = moments_mod.impacts(run, corpus, found, steps=steps, occlusion=occlusion, attribution=attribution,
                                progress=progress)
    as_slices = table.rename(columns={"moment_id": "slice_id"}).assign(kind="moment")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moments without a tracked frame: n_frames == 0, NaN features
        feats = slices_mod.features(corpus, as_slices[list(slices_mod.SLICE_COLUMNS)])
    columns = ["n_frames", *slices_mod.feature_columns(feats)]
    return table.merge(feats.rename(columns={"slice_id": "moment_id"})[["moment_id", *columns]], on="moment_id",
                       how="left", validate="one_to_one")


def moments_reference(corpus, run, reference: str, replicate: int = 0, seed: int = 0, question: int | None = None,
                      steps: int = 16, progress: bool = False):
    """The key moments and impacts of a null reference network trained like ``run``.

    ``"untrained"``: the initial weights; ``"permuted"``: trained on labels permuted within
    positions (:func:`toolkit.controls.permute_labels`). Their "impacts" follow no label: a sign
    of the run's moments only counts where it leaves theirs (:func:`toolkit.moments.by_expression`).
    Seeds as in the null controls (:func:`toolkit.controls.reference_seed`).
    """
    from . import controls as ctl

    if reference not in ("untrained", "permuted"):
        raise ValueError(f"reference: 'untrained' or 'permuted', got {reference!r}")
    s = ctl.reference_seed(reference, replicate, seed)
    options = {**ctl._train_options(run), "seed": s, "progress": progress}
    if reference == "untrained":
        null_run, null_corpus = train(corpus, untrained=True, **options), corpus
    else:
        null_corpus = ctl.permute_labels(corpus, s)
        null_run = train(null_corpus, **options)
    return moments(null_corpus, null_run, question=question, steps=steps, progress=progress)


# --------------------------------------------------------------------------- bias

@stage("fairness", uses=("fairness",))
def fairness(corpus, run, attribute: str, hirability=None, threshold="prevalence", n_boot: int = 1000,
             seed: int = 0):
    """The fairness audit by group of ``attribute``: HireNet, and the hirability models of the slices.

    :func:`toolkit.fairness.audit` of the run's out-of-fold scores (model ``hirenet``) and, given a
    :func:`hirability` result, of each slice model's out-of-fold scores on the attention slices
    (model ``<name> (attention slices)``). ``results/fairness.csv`` of a run.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``attribute``, ``group``, ``metric``, ``value``, ``ci_low``, ``ci_high``.
    """
    from . import fairness as fair

    values = fair.candidate_attribute(corpus.manifest, attribute)
    positions = corpus.candidates[["candidate_id", "position_id"]].astype({"candidate_id": str})
    hirenet = run.predictions.assign(candidate_id=run.predictions["candidate_id"].astype(str)).merge(
        positions, on="candidate_id", how="left", validate="one_to_one")
    tables = [fair.audit(hirenet, values, model="hirenet", threshold=threshold, n_boot=n_boot, seed=seed)]
    if hirability is not None:
        scores = hirability.scores[hirability.scores["kind"] == "attention"]
        for model, part in scores.groupby("model", sort=False):
            tables.append(fair.audit(part, values, model=f"{model} (attention slices)", threshold=threshold,
                                     n_boot=n_boot, seed=seed))
    return pd.concat(tables, ignore_index=True)


# --------------------------------------------------------------------------- null controls

@stage("source_summary", uses=("controls",))
def source_summary(corpus, attention, seed: int = 0, question: int | None = 1, n_random: int = 4, folds: int = 5,
                   repeats: int = 1, edge_discount_s: float = 0.0, hirability: bool = True, tune: bool = True):
    """The headline numbers of one attention source (:func:`toolkit.controls.summarize_attention`)."""
    from . import controls as ctl

    return ctl.summarize_attention(corpus, attention_of(attention), seed=seed, question=question, n_random=n_random,
                                   n_splits=folds, n_repeats=repeats, edge_discount_s=edge_discount_s,
                                   hirability=hirability, tune=tune)


@stage("controls", uses=("controls",), ignore=("progress", "n_jobs"))
def controls(corpus, run, replicates=3, references=("untrained", "permuted", "salience", "twin"), seed: int = 0,
             question: int | None = 1, n_random: int = 4, folds: int = 5, repeats: int = 1,
             edge_discount_s: float = 0.0, hirability: bool = True, tune: bool = True, seeds: int = 1,
             progress: bool = True, n_jobs: int = 2):
    """The trained attention (``seeds`` trained networks) and every null reference through the same pipeline.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``reference`` (``trained`` for the observed run), ``replicate``, ``metric``, ``value``.
    """
    from . import controls as ctl

    return ctl.run_controls(corpus, run, n_replicates=replicates, references=references, seed=seed,
                            question=question, n_random=n_random, n_splits=folds, n_repeats=repeats,
                            edge_discount_s=edge_discount_s, hirability=hirability, tune=tune, seeds=seeds,
                            progress=progress, n_jobs=n_jobs)


@stage("edge_study", uses=("controls",))
def edge_study(corpus, attentions: dict, discount_s: float = 1.0, seed: int = 0, question: int | None = 1,
               n_random: int = 4, folds: int = 5, tune: bool = True):
    """Every source's slices with and without the edge discount (:func:`toolkit.controls.edge_study`)."""
    from . import controls as ctl

    return ctl.edge_study(corpus, {k: attention_of(v) for k, v in attentions.items()}, discount_s=discount_s,
                          seed=seed, question=question, n_random=n_random, n_splits=folds, tune=tune)


# --------------------------------------------------------------------------- studies

@stage("calibration", uses=("calibration",), ignore=("progress", "n_jobs"))
def calibration(scenarios: dict, replicates: int = 40, seed: int = 0, redraws: int = 19, model: str = "Lasso",
                permutations: int = 2000, n_jobs: int = 1, progress: bool = False):
    """The calibration and power study of the hirability tests (:func:`toolkit.calibration.study`)."""
    from . import calibration as cal

    scenarios = {k: tuple(v) for k, v in scenarios.items()}
    return cal.study(scenarios, n_replicates=replicates, seed=seed, n_jobs=n_jobs, progress=progress,
                     n_redraws=redraws, model=model, n_permutations=permutations)
