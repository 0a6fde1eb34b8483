"""The whole pipeline from the command line: simulate -> run -> report, and the run folder contract."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from toolkit import controls, pipeline, report, stages
from toolkit import corpus as corpus_mod

OPTIONS = ["--folds", "3", "--epochs", "2", "--repeats", "1", "--redraws", "4"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One stage cache for the module, shared by the ``python -m toolkit`` subprocesses and the API."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_CACHE", str(folder))
        yield folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory, cache):
    """A tiny simulated corpus and its run folder, both written by the command line."""
    root = tmp_path_factory.mktemp("pipeline")
    corpus, run = root / "corpus", root / "run"
    _toolkit("simulate", corpus, "--preset", "tiny", "--seed", "3", "--quiet")
    _toolkit("run", corpus, run, *OPTIONS, "--attribute", "gender", "--quiet")
    return corpus, run


def _toolkit(*args, cwd=None):
    result = subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True,
                            cwd=cwd, env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.slow
def test_simulate_run_report_writes_the_run_folder_contract(folders):
    corpus, run = folders
    config = json.loads((run / "config.json").read_text())
    assert "corpus_path" not in config and config["train"]["folds"] == 3 and config["train"]["epochs"] == 2
    recorded = json.loads((run / "run.json").read_text())
    assert recorded["corpus"] == "../corpus"  # relative to the run folder
    assert {k: recorded[k] for k in ("folds", "seed", "epochs", "question", "n_random", "repeats", "redraws",
                                     "null")} == {"folds": 3, "seed": 0, "epochs": 2, "question": 1,
                                                  "n_random": 4, "repeats": 1, "redraws": 4, "null": 0}
    assert set(recorded["seconds"]) == {"train", "analyses", "fairness", "moments"}
    assert recorded["attribute"] == "gender" and recorded["adversary"] == 0.0
    audit = pd.read_csv(run / "results" / "fairness.csv")
    assert list(audit.columns) == ["model", "attribute", "group", "metric", "value", "ci_low", "ci_high"]
    assert "hirenet" in set(audit["model"]) and "Lasso (attention slices)" in set(audit["model"])
    assert set(audit["group"]) == {"female", "male", "difference"} and set(audit["attribute"]) == {"gender"}
    for fold in range(3):
        assert (run / "checkpoints" / f"fold{fold}.pt").exists()
        assert (run / "checkpoints" / f"fold{fold}.json").exists()
    contract = {
        "predictions.parquet": ["candidate_id", "fold", "label", "score"],
        "attention.parquet": ["answer_id", "time_s", "weight"],
        "slices.parquet": ["slice_id", "answer_id", "candidate_id", "kind", "start_s", "end_s"],
        "moments.parquet": ["moment_id", "answer_id", "candidate_id", "question", "rank", "start_s", "end_s",
                            "peak_s", "attention", "fold", "logit", "score", "impact_occlusion", "impact_ig",
                            "n_frames"],
    }
    for name, columns in contract.items():
        table = pd.read_parquet(run / name)
        assert list(table.columns[: len(columns)]) == columns, name
        assert len(table) > 0, name
    manifest = pd.read_csv(corpus / "manifest.csv", dtype=str)
    predictions = pd.read_parquet(run / "predictions.parquet")
    assert set(predictions["candidate_id"]) == set(manifest["candidate_id"])
    assert set(pd.read_parquet(run / "attention.parquet")["answer_id"]) == set(manifest["answer_id"])
    excluded = pd.read_csv(run / "excluded.csv")
    assert excluded.empty and list(excluded.columns) == ["candidate_id", "answer_id", "reason"]
    slices = pd.read_parquet(run / "slices.parquet")
    assert set(slices["kind"]) == {"attention", "random"}
    assert (slices["kind"] == "random").sum() == 4 * (slices["kind"] == "attention").sum()
    for name in ("attention_vs_random", "importances", "hirability_auc", "permutation_tests", "recovery"):
        table = pd.read_csv(run / "results" / f"{name}.csv")
        assert len(table) > 0, name
    assert not (run / "results" / "controls.csv").exists()  # --null 0: no null controls

    html = report.write(run, "html")
    text = html.read_text()
    assert "Are attention slices different from random slices?" in text
    assert "Fairness audit by group of a sensitive attribute" in text
    assert "data:image/png;base64," in text
    md = report.write(run, "md")
    assert "## Hirability from thin slices: AUC" in md.read_text()
    assert (run / "report-figure-1.png").exists()
    # the report opens like the book: findings first, then figures, tables, and the configuration last
    for doc, heading in ((text, "<h2>{}</h2>"), (md.read_text(), "## {}")):
        places = [doc.index(heading.format(h)) for h in ("Findings", "Out-of-fold scores by label",
                                                         "Are attention slices different from random slices?",
                                                         "Configuration")]
        assert places == sorted(places)
        last = doc.rindex("<h2>") if heading.startswith("<h2>") else doc.rindex("\n## ") + 1
        assert last == doc.index(heading.format("Configuration"))
    found = report.findings(run)
    assert list(found.columns) == ["result", "ours", "poster", "test"]
    results = found.set_index("result")
    lasso = pd.read_csv(run / "results" / "attention_vs_random.csv").query("model == 'Lasso' and metric == 'f1_mean'")
    assert results.loc["attention vs random slices, Lasso: mean F1", "ours"].startswith(f"{lasso['value'].iloc[0]:.3f} [")
    assert results.loc["attention vs random slices, Lasso: mean F1", "poster"] == "0.884"
    assert any(r.startswith("hirability AUC, Lasso") for r in results.index)
    assert "redraw p = " in results.loc["hirability AUC, Lasso: attention vs random slices", "test"]
    assert any(r.startswith("preference for label-linked") for r in results.index)  # a simulated corpus


@pytest.mark.slow
def test_a_second_run_loads_every_stage(folders, cache, tmp_path, monkeypatch):
    corpus, run = folders
    computed = []
    for name in stages.__all__:
        stage = getattr(stages, name)
        if hasattr(stage, "compute"):
            real = stage.compute
            monkeypatch.setattr(stage, "compute", lambda *a, _real=real, _name=name, **k: computed.append(_name)
                                or _real(*a, **k))
    result = pipeline.run(corpus, tmp_path / "again", folds=3, epochs=2, repeats=1, redraws=4, progress=False)
    assert computed == []
    assert len(list((cache / "train").iterdir())) == 1 + 3  # the run, and one HireNet per hirability fold (cross-fitting)
    assert result.path == tmp_path / "again" and sorted(result.tables) == sorted(
        ["attention_vs_random", "importances", "recovery", "hirability_auc", "hirability_redraws", "permutation_tests"])
    for name, table in result.tables.items():
        pd.testing.assert_frame_equal(pd.read_csv(run / "results" / f"{name}.csv"), table, check_dtype=False,
                                      obj=name)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "again" / "attention.parquet"),
                                  pd.read_parquet(run / "attention.parquet"))
    # the run folder is written wherever it is asked for, with the corpus relative to it
    assert json.loads((tmp_path / "again" / "run.json").read_text())["corpus"] == os.path.relpath(
        corpus, tmp_path / "again")


@pytest.mark.slow
def test_null_controls_are_written_beside_the_results(folders, tmp_path, monkeypatch):
    corpus, _ = folders
    seen = []

    def fake_controls(corpus, run, **options):
        seen.append(options)
        rows = [("trained", 0, 0, "f1_mean", 0.9)] + [(ref, r, 1000 + r, "f1_mean", 0.1 + 0.01 * r)
                                                       for ref in options["references"] for r in range(2)]
        return pd.DataFrame(rows, columns=["reference", "replicate", "seed", "metric", "value"])

    monkeypatch.setattr(stages, "controls", fake_controls)
    result = pipeline.run(corpus, tmp_path / "null", folds=3, epochs=2, repeats=1, redraws=4, null=2, seed=0,
                          seeds=3, progress=False)
    assert seen == [{"replicates": 2, "references": ("untrained", "permuted", "salience", "twin"), "seed": 0,
                     "question": 1, "n_random": 4, "folds": 3, "seeds": 3, "progress": False}]
    replicates = pd.read_csv(tmp_path / "null" / "results" / "controls_replicates.csv")
    pd.testing.assert_frame_equal(replicates, result.tables["controls_replicates"], check_dtype=False)
    verdicts = pd.read_csv(tmp_path / "null" / "results" / "controls.csv")
    pd.testing.assert_frame_equal(verdicts, controls.compare(result.tables["controls_replicates"]),
                                  check_dtype=False)
    assert verdicts.loc[verdicts["reference"] == "all", "verdict"].tolist() == ["not enough replicates"]
    assert json.loads((tmp_path / "null" / "run.json").read_text())["null"] == 2
    assert "controls" in result.seconds
    # a corpus that is not simulated has no effect-free twin
    real = corpus_mod.load(corpus)
    real.meta["source"] = "openface"
    pipeline.run(real, tmp_path / "real", folds=3, epochs=2, repeats=1, redraws=4, null=1, progress=False)
    assert seen[-1]["references"] == ("untrained", "permuted", "salience")


@pytest.mark.slow
def test_report_opens_with_one_candidates_key_moments(folders, tmp_path):
    corpus, run = folders
    key_moments = pd.read_parquet(run / "moments.parquet")
    candidate = str(key_moments["candidate_id"].iloc[0])
    result = _toolkit("report", run, "--candidate", candidate)
    text = (run / "report.html").read_text()
    assert "report written to" in result.stdout
    heading = f"<h2>Key moments of candidate {candidate}"
    assert heading in text and text.index("<h2>Findings</h2>") < text.index(heading) < text.index(
        "<h2>Out-of-fold scores by label</h2>")
    # an unknown candidate, or a run without key moments, is a one-line error
    bad = subprocess.run([sys.executable, "-m", "toolkit", "report", str(run), "--candidate", "nobody"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "candidate_id 'nobody' is not in the corpus manifest" in bad.stderr
    bad = subprocess.run([sys.executable, "-m", "toolkit", "report", str(run), "--stills"], capture_output=True,
                         text=True)
    assert bad.returncode != 0 and "--stills needs --candidate" in bad.stderr
    old = tmp_path / "old-run"
    old.mkdir()
    for name in ("config.json", "run.json", "attention.parquet"):
        (old / name).write_bytes((run / name).read_bytes())
    with pytest.raises(FileNotFoundError, match="moments.parquet is missing"):
        report.write(old, "html", candidate=candidate)


def test_report_refuses_an_unknown_format(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        report.write(tmp_path, "pdf")
