"""Run folders (DESIGN section 3): what a training writes, and reading it back.

A run folder holds ``config.json``, ``predictions.parquet``, ``attention.parquet``,
``answer_attention.parquet`` (each answer's weight in its interview, and for a network reading
face and voice the weights of the two streams), ``voice_attention.parquet`` (such a network's
attention over the audio frames), ``history.csv``, ``results/training.csv``, ``excluded.csv`` and ``checkpoints/foldK.pt`` (a ``state_dict``, read
with ``weights_only=True``) with ``checkpoints/foldK.json`` (its configuration and standardiser).
Every file is written atomically. :func:`train` trains (:func:`toolkit.training.fit`) and writes a
run folder; the cached stage :func:`toolkit.stages.train` is what the pipeline, the chapters and
the command line call.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from . import _io, cache
from .model import HireNet, HireNetConfig, Standardiser

__all__ = ["Run", "write", "train", "load_run", "load_model", "representations"]


def _no_exclusions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in ("candidate_id", "answer_id", "reason")})


@dataclass
class Run:
    """A trained run: its folder and tables (DESIGN section 3).

    Attributes
    ----------
    path : Path
    config : dict
        ``config.json``: training and model configuration, corpus fingerprint, device.
    predictions : DataFrame
        ``candidate_id, fold, label, score`` (out-of-fold).
    attention : DataFrame
        ``answer_id, time_s, weight`` (out-of-fold).
    history : DataFrame
        ``fold, epoch, train_loss, val_loss, val_auc, seconds, best``.
    metrics : DataFrame
        ``model, metric, value, ci_low, ci_high`` (``results/training.csv``).
    excluded : DataFrame
        ``candidate_id, answer_id, reason``: what was left out (``excluded.csv``).
    answer_attention : DataFrame or None
        ``answer_id, question, weight`` (and ``face``, ``voice``), out-of-fold.
    voice_attention : DataFrame or None
        ``answer_id, time_s, weight`` over the audio frames (a network reading face and voice).
    """

    path: Path
    config: dict
    predictions: pd.DataFrame
    attention: pd.DataFrame
    history: pd.DataFrame
    metrics: pd.DataFrame
    excluded: pd.DataFrame = dataclasses.field(default_factory=_no_exclusions)
    _key: str | None = dataclasses.field(default=None, repr=False, compare=False)
    answer_attention: pd.DataFrame | None = None
    voice_attention: pd.DataFrame | None = None

    #: The files of a run folder (checkpoints aside).
    FILES = ("config.json", "predictions.parquet", "attention.parquet", "history.csv", "results/training.csv",
             "excluded.csv", "answer_attention.parquet", "voice_attention.parquet")

    @property
    def modality(self) -> str:
        """What the network read: ``face``, ``voice`` or ``both``."""
        return self.config.get("train", {}).get("modality", "face")

    @property
    def fingerprint(self) -> str:
        """The key of the training that made this run (a hash of its outputs when unknown)."""
        if self._key is None:
            self._key = cache.fingerprint([self.predictions, self.attention])
        return self._key

    def save(self, folder) -> Path:
        """Copy the run folder's files and checkpoints into ``folder`` (nothing to do when it is there)."""
        import shutil

        folder = Path(folder)
        if folder.resolve() == Path(self.path).resolve():
            return folder
        for name in self.FILES + tuple(str(p.relative_to(self.path)) for p in
                                       sorted((Path(self.path) / "checkpoints").glob("fold*"))):
            source = Path(self.path) / name
            if source.exists():
                with _io.atomic_path(folder / name) as tmp:
                    shutil.copyfile(source, tmp)
        # the key of the training that made the run: later stages on the saved folder hit the same cache
        cache.store_key(folder, self.fingerprint)
        return folder

    @classmethod
    def load(cls, folder) -> "Run":
        """Read a run folder (:func:`load_run`)."""
        return load_run(folder)


def write(fitted, run_dir, excluded: pd.DataFrame | None = None) -> Run:
    """Write what :func:`toolkit.training.fit` returned as a run folder.

    Parameters
    ----------
    fitted : toolkit.training.Fitted
    run_dir : str or Path
        The run folder (created).
    excluded : DataFrame, optional
        What was left out of the corpus before training (``excluded.csv``).

    Returns
    -------
    Run
    """
    run_dir = Path(run_dir)
    for fold in fitted.folds:
        k = fold["fold"]
        _io.write_json(run_dir / "checkpoints" / f"fold{k}.json",
                       {key: value for key, value in fold.items() if key != "state_dict"})
        with _io.atomic_path(run_dir / "checkpoints" / f"fold{k}.pt") as tmp:
            torch.save(fold["state_dict"], tmp)
    excluded = _no_exclusions() if excluded is None else excluded
    _io.write_parquet(run_dir / "predictions.parquet", fitted.predictions)
    _io.write_parquet(run_dir / "attention.parquet", fitted.attention)
    for name, table in (("answer_attention", fitted.answer_attention), ("voice_attention", fitted.voice_attention)):
        if table is not None:
            _io.write_parquet(run_dir / f"{name}.parquet", table)
        else:
            (run_dir / f"{name}.parquet").unlink(missing_ok=True)
    _io.write_csv(run_dir / "history.csv", fitted.history)
    _io.write_csv(run_dir / "results" / "training.csv", fitted.metrics)
    _io.write_csv(run_dir / "excluded.csv", excluded)
    _io.write_json(run_dir / "config.json", fitted.config)
    return Run(run_dir, fitted.config, fitted.predictions, fitted.attention, fitted.history, fitted.metrics, excluded,
               answer_attention=fitted.answer_attention, voice_attention=fitted.voice_attention)


def train(corpus, run_dir, config=None, model_config: HireNetConfig | None = None, progress: bool = True,
          excluded: pd.DataFrame | None = None, workers: int | None = None) -> Run:
    """Train HireNet (:func:`toolkit.training.fit`) and write the run folder (:func:`write`).

    This always trains; the cached stage :func:`toolkit.stages.train` is what loads a run trained
    before.
    """
    from .training import fit

    return write(fit(corpus, config, model_config, progress=progress, workers=workers), run_dir, excluded)


def load_run(run_dir) -> Run:
    """Read a run folder written by :func:`train`.

    Raises
    ------
    FileNotFoundError
        When a file of the run is missing (the run is incomplete).
    """
    run_dir = Path(run_dir)
    needed = ["config.json", "predictions.parquet", "attention.parquet", "history.csv", "results/training.csv"]
    missing = [n for n in needed if not (run_dir / n).exists()]
    if missing:
        raise FileNotFoundError(f"{run_dir}: not a complete run folder (missing {', '.join(missing)}); "
                                f"train it with tk.stages.train or 'python -m toolkit train'")
    excluded_path = run_dir / "excluded.csv"
    excluded = (pd.read_csv(excluded_path, dtype="string", keep_default_na=False) if excluded_path.exists()
                else _no_exclusions())
    return Run(
        path=run_dir,
        config=json.loads((run_dir / "config.json").read_text()),
        predictions=pd.read_parquet(run_dir / "predictions.parquet"),
        attention=pd.read_parquet(run_dir / "attention.parquet"),
        history=pd.read_csv(run_dir / "history.csv"),
        metrics=pd.read_csv(run_dir / "results" / "training.csv"),
        excluded=excluded,
        _key=cache.stored_key(run_dir),
        answer_attention=_optional_parquet(run_dir / "answer_attention.parquet"),
        voice_attention=_optional_parquet(run_dir / "voice_attention.parquet"),
    )


def _optional_parquet(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


def load_model(run_dir, fold: int, device: str = "cpu") -> tuple[HireNet, Standardiser]:
    """The model of one fold and its standardiser (weights read with ``weights_only=True``).

    Returns
    -------
    (HireNet, Standardiser)
        The model is in eval mode.
    """
    run_dir = Path(run_dir)
    meta_path = run_dir / "checkpoints" / f"fold{fold}.json"
    weights_path = run_dir / "checkpoints" / f"fold{fold}.pt"
    if not meta_path.exists() or not weights_path.exists():
        raise FileNotFoundError(f"{run_dir}/checkpoints: no checkpoint for fold {fold}")
    meta = json.loads(meta_path.read_text())
    model_config = HireNetConfig(**meta["model"])
    model = HireNet(model_config)
    model.load_state_dict(torch.load(weights_path, map_location=device, weights_only=True))
    model.to(device).eval()
    return model, Standardiser.from_dict(meta["standardiser"])


def representations(run, corpus) -> pd.DataFrame:
    """Each candidate's representation (HireNet's interview vector :math:`v`), from the model of its fold.

    Out of fold, as the run's scores: a candidate is encoded by the network that never saw it.

    Returns
    -------
    pandas.DataFrame
        Index ``candidate_id``, one column per dimension (``v0``, ``v1``, ...).
    """
    from . import training

    fold_of = run.predictions.assign(candidate_id=run.predictions["candidate_id"].astype(str)).set_index(
        "candidate_id")["fold"]
    parts = []
    for k in sorted(fold_of.unique()):
        model, standardiser = load_model(run.path, int(k))
        mine = list(fold_of.index[fold_of == k])
        data = training.prepare_for(model, corpus.subset(candidate_ids=mine))
        usable = [c for c in range(len(data.candidate_ids)) if len(data.answers_of[c])]
        for start in range(0, len(usable), 64):
            group = usable[start:start + 64]
            batch = training._collate(data, group, standardiser, "cpu")
            with torch.no_grad():
                vectors, _ = training._encode(model, batch)
                v, _ = model.represent(vectors, batch["answer_index"])
            parts.append(pd.DataFrame(v.double().numpy(), index=pd.Index(data.candidate_ids[group].astype(str),
                                                                          name="candidate_id"),
                                      columns=[f"v{i}" for i in range(v.shape[1])]))
    out = pd.concat(parts)
    return out.loc[[c for c in fold_of.index if c in out.index]]  # the run's order
