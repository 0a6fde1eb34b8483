"""The cached stages (toolkit.stages, toolkit.cache) and the command line built on them.

- a stage's key: every argument (defaults included), its inputs' content and the code it runs;
  the same call loads, one parameter changed recomputes;
- ``python -m toolkit run`` writes the tables a chapter gets by calling the stages;
- dead clips (candidates or answers without any tracked frame) are left out and reported;
- a run folder stays valid when moved;
- the command line's defaults are the Python API's.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from toolkit import cache, classify, cli, pipeline, stages, training
from toolkit import corpus as corpus_mod
from toolkit import simulate as sim
from toolkit.__main__ import main
from toolkit.corpus import CorpusError

#: Small options of ``python -m toolkit run`` (and the same options of the stages).
OPTIONS = ["--folds", "3", "--epochs", "2", "--repeats", "1", "--redraws", "4"]
FOLDS, EPOCHS, REPEATS, REDRAWS = 3, 2, 1, 4


@pytest.fixture(scope="module", autouse=True)
def stage_cache(tmp_path_factory):
    """One private stage cache for the module (never the data folder's)."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def tiny():
    return stages.simulate("tiny", seed=3)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A tiny corpus written by ``simulate`` and its run folder written by ``run``, in one parent folder."""
    root = tmp_path_factory.mktemp("project")
    corpus, run = root / "corpus", root / "run"
    assert main(["simulate", str(corpus), "--preset", "tiny", "--seed", "3", "--quiet"]) == 0
    assert main(["run", str(corpus), str(run), *OPTIONS, "--quiet"]) == 0
    return corpus, run


def _count_computations(monkeypatch) -> list[str]:
    """Record the name of every stage that computes instead of loading."""
    computed = []
    for name in stages.__all__:
        stage = getattr(stages, name)
        if isinstance(stage, cache.Stage):
            real = stage.compute
            monkeypatch.setattr(stage, "compute", lambda *a, _real=real, _name=name, **k: computed.append(_name)
                                or _real(*a, **k))
    return computed


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    """A table in a canonical row order (by its text columns), for comparisons after a CSV round trip."""
    keys = [c for c in table.columns if table[c].dtype == object or pd.api.types.is_string_dtype(table[c])]
    keys += [c for c in ("repeat", "fold", "draw", "rank") if c in table.columns]
    return table.sort_values(keys, kind="stable").reset_index(drop=True) if keys else table.reset_index(drop=True)


def _same(csv: Path, table: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(_sorted(pd.read_csv(csv)), _sorted(table.reset_index(drop=True)),
                                  check_dtype=False, obj=csv.name)


# --------------------------------------------------------------------------- 1. keys: parameters, inputs, code

def test_the_simulate_stage_is_the_simulator_cached(tiny, stage_cache, monkeypatch, tmp_path):
    assert Path(tiny.path).parent == stage_cache / "simulate"
    assert Path(tiny.path).name == stages.simulate.key("tiny", 3)
    direct = corpus_mod.load(sim.write(tmp_path / "direct", "tiny", seed=3, progress=False))
    pd.testing.assert_frame_equal(tiny.frames, direct.frames)
    pd.testing.assert_frame_equal(tiny.manifest, direct.manifest)
    writes = []
    real = sim.write
    monkeypatch.setattr(sim, "write", lambda *a, **k: writes.append(k) or real(*a, **k))
    again = stages.simulate("tiny", seed=3, progress=True)  # progress is not part of the key
    assert writes == [] and again.path == tiny.path
    pd.testing.assert_frame_equal(again.manifest, tiny.manifest)
    other = stages.simulate("tiny", seed=3, n_positions=2)  # an override is a parameter
    assert len(writes) == 1 and other.path != tiny.path and other.manifest["position_id"].nunique() == 2


def test_one_parameter_changed_recomputes_the_same_call_loads(tiny, monkeypatch):
    attention = stages.salience(tiny)
    calls = []
    real = stages.slices.compute
    monkeypatch.setattr(stages.slices, "compute", lambda *a, **k: calls.append(k) or real(*a, **k))
    first = stages.slices(tiny, attention, seed=0)
    second = stages.slices(tiny, attention, seed=0)
    assert len(calls) == 1
    assert first.fingerprint == second.fingerprint == stages.slices.key(tiny, attention, seed=0)
    assert stages.slices.folder(tiny, attention, seed=0).name == first.fingerprint
    pd.testing.assert_frame_equal(first.table, second.table)
    pd.testing.assert_frame_equal(first.skipped, second.skipped)
    # a parameter left at its default is keyed like the default passed explicitly
    explicit = dict(question=1, n_random=4, seed=0, no_overlap=False, edge_discount_s=0.0)
    assert stages.slices.key(tiny, attention) == stages.slices.key(tiny, attention, **explicit) == first.fingerprint
    assert stages.slices.key(tiny, attention) == stages.slices.key(tiny, attention, 1, 4)  # positionally too
    # another value of one parameter: another key, computed, another table
    fewer = stages.slices(tiny, attention, n_random=2)
    assert len(calls) == 2 and fewer.fingerprint != first.fingerprint
    assert (fewer.table["kind"] == "random").sum() == 2 * (fewer.table["kind"] == "attention").sum()
    assert (first.table["kind"] == "random").sum() == 4 * (first.table["kind"] == "attention").sum()
    reseeded = stages.slices(tiny, attention, seed=1)
    assert len(calls) == 3 and reseeded.fingerprint != first.fingerprint
    attention_rows = lambda s: s.table[s.table["kind"] == "attention"].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(attention_rows(reseeded), attention_rows(first))
    assert not reseeded.table.loc[reseeded.table["kind"] == "random", "start_s"].reset_index(drop=True).equals(
        first.table.loc[first.table["kind"] == "random", "start_s"].reset_index(drop=True))
    # inputs enter by content: the same corpus read again has the same key, other weights another
    reread = corpus_mod.load(tiny.path)
    assert reread is not tiny and stages.slices.key(reread, attention) == first.fingerprint
    nudged = attention.copy()
    nudged.loc[0, "weight"] *= 1.5
    assert stages.slices.key(tiny, nudged) != first.fingerprint
    # and a stage downstream is keyed by the slice set that made its input
    assert stages.slice_features.key(tiny, first) != stages.slice_features.key(tiny, fewer)
    assert stages.slice_features.key(tiny, first) == stages.slice_features.key(tiny, second)


def test_ignored_parameters_do_not_change_the_key(tiny):
    key = stages.train.key(tiny, folds=3)
    assert stages.train.key(tiny, folds=3, threads=8, progress=False) == key
    assert stages.train.key(tiny, folds=3, out="/anywhere") == key  # where it is written is not part of it
    assert stages.train.key(tiny, folds=3, device="cpu") != key
    assert stages.train.key(tiny, folds=3, options={"lr": 0.01}) != key
    assert stages.hirability.key(tiny, stages.salience(tiny), n_jobs=4) == stages.hirability.key(
        tiny, stages.salience(tiny))


def test_the_key_follows_the_code(tiny, monkeypatch):
    real = inspect.getsource
    edited = set()

    def getsource(obj):
        text = real(obj)
        name = getattr(obj, "__name__", "")
        return text + "\n# edited\n" if inspect.ismodule(obj) and name in edited else text

    monkeypatch.setattr(inspect, "getsource", getsource)
    attention = stages.salience(tiny)
    before = {m: cache.code_version(m) for m in ("simulate", "slices")}
    key = stages.slices.key(tiny, attention)
    # editing a module a stage uses changes its code version and its key
    edited.add("toolkit.slices")
    assert cache.code_version("slices") != before["slices"]
    assert stages.slices.key(tiny, attention) != key
    assert cache.code_version("simulate") == before["simulate"]  # the simulator does not import toolkit.slices
    # ... and so does editing a module it imports, however indirectly
    edited.clear()
    edited.add("toolkit.vocabulary")  # imported by toolkit.simulate
    assert cache.code_version("simulate") != before["simulate"]
    edited.clear()
    assert cache.code_version("simulate") == before["simulate"] and stages.slices.key(tiny, attention) == key
    # a module the simulator never imports is not part of its version
    edited.add("toolkit.report")
    assert cache.code_version("simulate") == before["simulate"]


def _stage_from_file(path: Path, body: str):
    """A stage named ``double`` defined in its own module file (as toolkit.stages defines the stages)."""
    import importlib.util
    import sys

    path.write_text("from toolkit import cache\n\n\n@cache.stage('double')\ndef double(x: int = 1):\n"
                    f"    return {{'value': {body}}}\n")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[path.stem]
    return module.double


def test_the_key_follows_the_stage_s_own_source(tmp_path):
    # the wiring of a stage is part of its key: one name, one argument, two bodies
    first = _stage_from_file(tmp_path / "wiring_a.py", "2 * x")
    same = _stage_from_file(tmp_path / "wiring_b.py", "2 * x")
    edited = _stage_from_file(tmp_path / "wiring_c.py", "2 * x + 1")
    assert first.key(3) == same.key(3)
    assert first.key(3) != edited.key(3)
    assert first.key(3) != first.key(4)


def test_a_stage_writes_atomically_and_loads_what_it_returned(stage_cache):
    calls = []

    @cache.stage("toy")
    def toy(n: int = 2, fail: bool = False):
        calls.append(n)
        if fail:
            raise RuntimeError("interrupted")
        return {"a": pd.DataFrame({"x": np.arange(n)}), "b": pd.DataFrame({"y": ["u"] * n})}

    with pytest.raises(RuntimeError, match="interrupted"):
        toy(fail=True)
    assert not (toy.folder(fail=True)).exists() and not toy.cached(fail=True)
    assert not list((stage_cache / "toy").iterdir())  # no temporary folder left behind
    assert not toy.cached() and calls == [2]  # asking computes nothing
    first = toy()
    assert toy.cached() and toy.cached(2) and not toy.cached(3)
    assert list(first) == ["a", "b"] and first["a"]["x"].tolist() == [0, 1]
    assert (toy.folder() / ".stage-key").read_text().strip() == toy.key()
    again = toy()
    assert calls == [2, 2]  # the failed call and the first; the second loaded
    pd.testing.assert_frame_equal(again["b"], first["b"])
    # an entry without its key file (an interrupted writer) is recomputed and replaced
    (toy.folder() / ".stage-key").unlink()
    toy()
    assert calls == [2, 2, 2] and (toy.folder() / ".stage-key").exists()

    @cache.stage("toy_values")
    def values(x: float = 0.5):
        return {"x": x, "items": [1, 2]}

    assert values() == values() == {"x": 0.5, "items": [1, 2]}
    with pytest.raises(TypeError, match="cannot fingerprint a object"):
        values(object())


def test_another_process_finishing_the_same_entry_first_is_no_error(stage_cache):
    """Two book builds computing one stage at once: the second to finish keeps the first's entry."""
    @cache.stage("race")
    def race(n: int = 3):
        if not race.folder().exists():  # while we compute, another process writes the same entry
            other = race.folder()
            other.mkdir(parents=True)
            pd.DataFrame({"x": np.arange(n)}).to_parquet(other / "table.parquet", index=False)
            (other / ".stage-kind.json").write_text(json.dumps({"kind": "table"}))
            (other / ".stage-key").write_text(race.key() + "\n")
            (other / "written_by_the_other_process").touch()
        return pd.DataFrame({"x": np.arange(n)})

    assert race()["x"].tolist() == [0, 1, 2]
    assert (race.folder() / "written_by_the_other_process").exists()  # the finished entry was kept
    assert [p.name for p in (stage_cache / "race").iterdir()] == [race.key()]  # no temporary folder left


def test_the_cache_folder(monkeypatch, tmp_path, stage_cache):
    assert cache.cache_dir() == stage_cache
    monkeypatch.delenv("TOOLKIT_CACHE")
    monkeypatch.setenv("TOOLKIT_DATA", str(tmp_path / "data"))
    assert cache.cache_dir() == tmp_path / "data" / "cache"


# ------------------------------------------------------------------ 2. the command line gives the chapters' tables

@pytest.mark.slow
def test_run_writes_the_tables_the_stages_return(folders, monkeypatch):
    corpus_dir, run = folders
    computed = _count_computations(monkeypatch)
    corpus = corpus_mod.load(corpus_dir)
    # the stages called the way a chapter calls them, with the options given to the command line
    trained = stages.train(corpus, folds=FOLDS, epochs=EPOCHS)
    sliced = stages.slices(corpus, trained)
    features = stages.slice_features(corpus, sliced)
    avr = classify.summarize(stages.attention_vs_random(features, folds=FOLDS, repeats=REPEATS), n_splits=FOLDS)
    importances = stages.importances(features, folds=FOLDS).table
    recovery = stages.recovery(corpus, sliced)
    hirability = stages.hirability(corpus, trained, folds=FOLDS, redraws=1)  # the table: tuned, draw 0
    redraw_null = stages.hirability(corpus, trained, folds=FOLDS, redraws=REDRAWS, tune=False, n_boot=0)
    tests = stages.tests(hirability, redraw_null=redraw_null)
    key_moments = stages.moments(corpus, trained)
    # every one was loaded from what the command line computed: the same keys, so the same parameters
    assert computed == []
    pd.testing.assert_frame_equal(pd.read_parquet(run / "moments.parquet"), key_moments)
    assert key_moments["rank"].min() == 0 and {"impact_occlusion", "impact_ig", "AU12_delta"} <= set(key_moments)

    pd.testing.assert_frame_equal(pd.read_parquet(run / "predictions.parquet"), trained.predictions)
    pd.testing.assert_frame_equal(pd.read_parquet(run / "attention.parquet"), trained.attention)
    pd.testing.assert_frame_equal(pd.read_parquet(run / "slices.parquet"), sliced.table)
    _same(run / "slices_skipped.csv", sliced.skipped)
    _same(run / "results" / "training.csv", trained.metrics)
    _same(run / "results" / "attention_vs_random.csv", avr)
    _same(run / "results" / "importances.csv", importances)
    _same(run / "results" / "recovery.csv", recovery)
    _same(run / "results" / "hirability_auc.csv", hirability.table)
    _same(run / "results" / "permutation_tests.csv", tests)
    _same(run / "results" / "hirability_redraws.csv", redraw_null.redraws)
    assert set(avr["n_folds"]) == {FOLDS * REPEATS} and len(redraw_null.redraws) == 4 * REDRAWS
    assert (tests.loc[tests["test"] == "redraw", "n"] == REDRAWS).all()


@pytest.mark.slow
def test_hirability_cross_fits_a_runs_attention(tiny, monkeypatch):
    """Each hirability fold's training slices come from a HireNet trained without that fold."""
    run = stages.train(tiny, folds=FOLDS, epochs=EPOCHS, progress=False)
    trained_on = []
    real = stages.train

    def recording(corpus, **options):
        trained_on.append((set(corpus.manifest["candidate_id"]), options))
        return real(corpus, **options)

    monkeypatch.setattr(stages, "train", recording)
    result = stages.hirability(tiny, run, folds=FOLDS, redraws=1, models=("RBF SVM",), tune=False, n_boot=0)
    plain = stages.hirability(tiny, run, folds=FOLDS, redraws=1, models=("RBF SVM",), tune=False, n_boot=0,
                              cross_fit=False)
    assert result.params["cross_fitted"] is True and plain.params["cross_fitted"] is False
    fold_of = result.scores.drop_duplicates("candidate_id").set_index("candidate_id")["fold"]
    assert len(trained_on) == FOLDS
    for k, (candidates, options) in enumerate(trained_on):
        assert candidates == set(fold_of.index[fold_of != k])  # everyone but fold k
        assert options["folds"] == FOLDS - 1 and options["seed"] == 0 and options["epochs"] == EPOCHS
    # only the attention kind changes; the random draws are the same slices, scored the same way
    pd.testing.assert_frame_equal(result.redraws, plain.redraws)
    attention = lambda r: r.scores.query("kind == 'attention'")["score"].to_numpy()  # noqa: E731
    assert not np.allclose(attention(result), attention(plain))
    # an attention table is not a run: nothing to cross-fit
    table = stages.hirability(tiny, run.attention, folds=FOLDS, redraws=1, models=("Lasso",), tune=False, n_boot=0)
    assert table.params["cross_fitted"] is False and len(trained_on) == FOLDS
    # a run folder without its training configuration cannot be trained again: said, not hidden
    import dataclasses

    bare = dataclasses.replace(run, config={}, _key=None)
    with pytest.warns(UserWarning, match="not cross-fitted"):
        unfitted = stages.hirability(tiny, bare, folds=FOLDS, redraws=1, models=("Lasso",), tune=False, n_boot=0)
    assert unfitted.params["cross_fitted"] is False and len(trained_on) == FOLDS


# --------------------------------------------------------------------------- 3. dead clips

@pytest.fixture(scope="module")
def dead(tiny, tmp_path_factory):
    """The tiny corpus with one candidate never tracked and one answer of another without any frame row."""
    assert corpus_mod.exclude_untracked(tiny)[1].empty
    m = tiny.manifest
    lost, partial = m["candidate_id"].unique()[1], m["candidate_id"].unique()[2]
    empty_answer = m.loc[m["candidate_id"] == partial, "answer_id"].iloc[1]
    frames = tiny.frames.copy()
    frames.loc[frames["answer_id"].isin(m.loc[m["candidate_id"] == lost, "answer_id"]), "success"] = False
    frames = frames[frames["answer_id"] != empty_answer]
    folder = tmp_path_factory.mktemp("dead") / "corpus"
    corpus_mod.save(corpus_mod.Corpus(m, frames, dict(tiny.meta), tiny.episodes), folder)
    return folder, lost, partial, empty_answer


@pytest.mark.slow
def test_train_leaves_dead_clips_out(dead, stage_cache):
    folder, lost, partial, empty_answer = dead
    corpus = corpus_mod.load(folder)
    run = stages.train(corpus, folds=FOLDS, epochs=EPOCHS, progress=False)
    expected = pd.DataFrame({"candidate_id": [lost, partial], "answer_id": ["", empty_answer],
                             "reason": ["no tracked frame in any answer", "no frame in frames.parquet"]})
    pd.testing.assert_frame_equal(run.excluded.reset_index(drop=True), expected, check_dtype=False)
    on_disk = pd.read_csv(run.path / "excluded.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(on_disk, expected)
    assert lost not in set(run.predictions["candidate_id"]) and partial in set(run.predictions["candidate_id"])
    assert len(run.predictions) == corpus.manifest["candidate_id"].nunique() - 1
    left_out = set(corpus.manifest.loc[corpus.manifest["candidate_id"] == lost, "answer_id"]) | {empty_answer}
    assert not left_out & set(run.attention["answer_id"])
    assert set(run.attention["answer_id"]) == set(corpus.manifest["answer_id"]) - left_out
    # strict: refused, naming the candidate, and nothing cached
    with pytest.raises(CorpusError, match=f"candidate\\(s\\) {lost} have no tracked frame in any answer"):
        stages.train(corpus, folds=FOLDS, epochs=EPOCHS, strict=True, progress=False)
    assert not stages.train.folder(corpus, folds=FOLDS, epochs=EPOCHS, strict=True).exists()
    # only an answer without frames: strict names the answer
    only_answer = corpus.subset(candidate_ids=sorted(set(corpus.manifest["candidate_id"]) - {lost}))
    with pytest.raises(CorpusError, match=f"answer\\(s\\) {empty_answer} have no tracked frame"):
        corpus_mod.exclude_untracked(only_answer, strict=True)


@pytest.mark.slow
def test_run_command_reports_dead_clips_and_strict_refuses_them(dead, tmp_path, capsys):
    folder, lost, partial, empty_answer = dead
    assert main(["run", str(folder), str(tmp_path / "run"), *OPTIONS, "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: ") and "excluded.csv" in err[0], err
    assert "1 candidate(s) and 1 more answer(s)" in err[0]
    excluded = pd.read_csv(tmp_path / "run" / "excluded.csv", dtype=str, keep_default_na=False)
    assert excluded["candidate_id"].tolist() == [lost, partial]
    assert excluded["answer_id"].tolist() == ["", empty_answer]
    assert lost not in set(pd.read_parquet(tmp_path / "run" / "predictions.parquet")["candidate_id"])
    assert lost not in set(pd.read_parquet(tmp_path / "run" / "slices.parquet")["candidate_id"])
    assert len(pd.read_csv(tmp_path / "run" / "results" / "hirability_auc.csv")) > 0
    # the train command too
    assert main(["train", str(folder), str(tmp_path / "trained"), "--folds", "3", "--epochs", "2", "--quiet"]) == 0
    assert capsys.readouterr().err.strip().startswith("warning: left out 1 candidate(s)")
    assert (tmp_path / "trained" / "excluded.csv").exists()
    # --strict: one error line naming the candidate, a non-zero exit, no run folder
    for command, extra in (("run", OPTIONS), ("train", ["--folds", "3", "--epochs", "2"])):
        assert main([command, str(folder), str(tmp_path / f"strict-{command}"), *extra, "--strict", "--quiet"]) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and lost in err[0], err
        assert not (tmp_path / f"strict-{command}" / "predictions.parquet").exists()


@pytest.mark.slow
def test_run_json_records_the_corpus_when_clips_were_left_out(dead, tmp_path):
    folder, _, _, _ = dead
    assert main(["run", str(folder), str(tmp_path / "run"), *OPTIONS, "--quiet"]) == 0
    recorded = json.loads((tmp_path / "run" / "run.json").read_text())["corpus"]
    assert recorded == os.path.relpath(folder, tmp_path / "run")


# --------------------------------------------------------------------------- 4. a run folder can be moved

def _absolute_paths(value) -> list[str]:
    if isinstance(value, dict):
        return [p for v in value.values() for p in _absolute_paths(v)]
    if isinstance(value, list):
        return [p for v in value for p in _absolute_paths(v)]
    return [value] if isinstance(value, str) and (os.path.isabs(value) or "/tmp" in value) else []


@pytest.mark.slow
def test_a_moved_run_folder_stays_valid(folders, tmp_path, capsys):
    corpus_dir, run = folders
    # a project of its own (the stages load from the cache), moved as a whole
    project = tmp_path / "before"
    shutil.copytree(corpus_dir, project / "data" / "corpus")
    assert main(["run", str(project / "data" / "corpus"), str(project / "runs" / "r1"), *OPTIONS, "--quiet"]) == 0
    written = {p.name: pd.read_csv(p) for p in (project / "runs" / "r1" / "results").glob("*.csv")}
    for path in (project / "runs" / "r1").rglob("*.json"):
        text = path.read_text()
        assert str(tmp_path) not in text, path
        assert _absolute_paths(json.loads(text)) == [], path
    assert json.loads((project / "runs" / "r1" / "run.json").read_text())["corpus"] == "../../data/corpus"
    moved = Path(shutil.move(str(project), str(tmp_path / "after")))
    assert not project.exists()
    capsys.readouterr()
    assert main(["analyze", str(moved / "runs" / "r1"), "--folds", "3", "--repeats", "1", "--redraws", "4",
                 "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["slices", str(moved / "runs" / "r1"), "--quiet"]) == 0
    # the analyses of the moved folder are the ones the run wrote
    for name, table in written.items():
        pd.testing.assert_frame_equal(pd.read_csv(moved / "runs" / "r1" / "results" / name), table, obj=name)
    pd.testing.assert_frame_equal(pd.read_parquet(moved / "runs" / "r1" / "slices.parquet"),
                                  pd.read_parquet(run / "slices.parquet"))


# --------------------------------------------------------------------------- 5. the command line's defaults

def _help(command) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        command(["--help"])
    assert exit_info.value.code == 0
    return " ".join(out.getvalue().split())


def _help_default(text: str, option: str) -> str:
    import re

    found = re.search(rf"--{option} \S+ [^()]*\(default (\S+?)\)", text)
    assert found, f"--{option} in {text}"
    return found.group(1)


def test_cli_defaults_are_the_api_defaults():
    train = cli._defaults(stages.train)
    config = training.TrainConfig()
    assert {k: train[k] for k in ("folds", "seed", "epochs", "untrained", "device")} == {
        "folds": config.folds, "seed": config.seed, "epochs": config.epochs, "untrained": config.untrained,
        "device": config.device}
    assert train["threads"] == config.num_threads
    run = cli._defaults(pipeline.run)
    for name in ("folds", "seed", "epochs", "device", "threads", "strict"):
        assert run[name] == train[name], name
    assert run["n_random"] == cli._defaults(stages.slices)["n_random"]
    assert run["question"] == cli._defaults(stages.slices)["question"]
    assert run["repeats"] == cli._defaults(stages.attention_vs_random)["repeats"]
    assert run["folds"] == cli._defaults(stages.attention_vs_random)["folds"] == cli._defaults(stages.hirability)[
        "folds"]
    assert run["redraws"] == 199  # the redraw null wherever a verdict is printed (DESIGN section 6)
    results = cli._defaults(pipeline.results)
    assert {k: results[k] for k in ("folds", "seed", "question", "n_random", "repeats", "redraws")} == {
        k: run[k] for k in ("folds", "seed", "question", "n_random", "repeats", "redraws")}

    # the defaults the --help texts print
    text = _help(cli.train)
    for option, name in (("folds", "folds"), ("epochs", "epochs"), ("seed", "seed"), ("device", "device"),
                         ("threads", "threads")):
        assert _help_default(text, option) == str(train[name]), option
    text = _help(cli.run)
    for option, name in (("folds", "folds"), ("epochs", "epochs"), ("seed", "seed"), ("question", "question"),
                         ("n-random", "n_random"), ("repeats", "repeats"), ("redraws", "redraws"),
                         ("null", "null")):
        if option == "null":
            assert "(default 0: none)" in text and run["null"] == 0
        else:
            assert _help_default(text, option) == str(run[name]), option
    text = _help(cli.slices)
    assert _help_default(text, "n-random") == str(cli._defaults(stages.slices)["n_random"])


def test_cli_passes_the_api_defaults_on(tiny, monkeypatch, tmp_path):
    class Stop(Exception):
        pass

    seen = {}

    def record(name, function):
        @functools.wraps(function)  # the command reads the defaults from the function's signature
        def fake(*args, **kwargs):
            seen[name] = kwargs
            raise Stop
        return fake

    monkeypatch.setattr(stages, "train", record("train", stages.train.compute))
    with pytest.raises(Stop):
        cli.train([str(tiny.path), str(tmp_path / "run")])
    api = {k: v for k, v in cli._defaults(stages.train).items() if k not in ("model", "options", "out")}
    assert seen["train"] == {**api, "options": None, "model": None, "progress": True}  # the API defaults

    monkeypatch.setattr(pipeline, "run", record("run", pipeline.run))
    with pytest.raises(Stop):
        cli.run([str(tiny.path), str(tmp_path / "run"), "--quiet"])
    assert seen["run"] == {**cli._defaults(pipeline.run), "progress": False}
