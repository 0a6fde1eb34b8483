"""The whole pipeline from the command line: simulate -> run -> report, and the run folder contract."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from toolkit import report


def _toolkit(*args, cwd=None):
    result = subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True,
                            cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.slow
def test_simulate_run_report_writes_the_run_folder_contract(tmp_path):
    corpus, run = tmp_path / "corpus", tmp_path / "run"
    _toolkit("simulate", corpus, "--preset", "tiny", "--seed", "3", "--quiet")
    _toolkit("run", corpus, run, "--folds", "3", "--epochs", "2", "--quiet")

    config = json.loads((run / "config.json").read_text())
    assert config["corpus_path"] == str(corpus.resolve())
    for fold in range(3):
        assert (run / "checkpoints" / f"fold{fold}.pt").exists()
        assert (run / "checkpoints" / f"fold{fold}.json").exists()
    contract = {
        "predictions.parquet": ["candidate_id", "fold", "label", "score"],
        "attention.parquet": ["answer_id", "time_s", "weight"],
        "slices.parquet": ["slice_id", "answer_id", "candidate_id", "kind", "start_s", "end_s"],
    }
    for name, columns in contract.items():
        table = pd.read_parquet(run / name)
        assert list(table.columns[: len(columns)]) == columns, name
        assert len(table) > 0, name
    manifest = pd.read_csv(corpus / "manifest.csv", dtype=str)
    predictions = pd.read_parquet(run / "predictions.parquet")
    assert set(predictions["candidate_id"]) == set(manifest["candidate_id"])
    assert set(pd.read_parquet(run / "attention.parquet")["answer_id"]) == set(manifest["answer_id"])
    slices = pd.read_parquet(run / "slices.parquet")
    assert set(slices["kind"]) == {"attention", "random"}
    assert (slices["kind"] == "random").sum() == 4 * (slices["kind"] == "attention").sum()
    for name in ("attention_vs_random", "importances", "hirability_auc", "permutation_tests", "recovery"):
        table = pd.read_csv(run / "results" / f"{name}.csv")
        assert len(table) > 0, name

    html = report.write(run, "html")
    text = html.read_text()
    assert "Are attention slices different from random slices?" in text
    assert "data:image/png;base64," in text
    md = report.write(run, "md")
    assert "## Hirability from thin slices: AUC" in md.read_text()
    assert (run / "report-figure-1.png").exists()


def test_report_refuses_an_unknown_format(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        report.write(tmp_path, "pdf")
