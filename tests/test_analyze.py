"""The cached stages of the slice analyses and the ``analyze`` command that writes their tables."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from slice_cases import attention_at, synthetic_features

from toolkit import classify
from toolkit import corpus as corpus_mod


@pytest.fixture()
def stage_cache(tmp_path, monkeypatch):
    """A private, empty stage cache."""
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_stage_computes_once_per_key(stage_cache, monkeypatch):
    from toolkit import stages

    calls = []
    real = classify.cross_validate

    def counting(*args, **kwargs):
        calls.append(kwargs.get("seed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(classify, "cross_validate", counting)
    f = synthetic_features(n_candidates=20)
    a = stages.attention_vs_random(f, folds=3, repeats=1, models="lasso_fixed")
    b = stages.attention_vs_random(f, folds=3, repeats=1, models="lasso_fixed", progress=True)  # progress: no key
    pd.testing.assert_frame_equal(a, b)
    assert calls == [0]
    assert list(a.columns) == ["model", "repeat", "fold", "metric", "value"]
    assert set(a["model"]) == {"Lasso"} and sorted(a["fold"].unique()) == [0, 1, 2]
    folder = stages.attention_vs_random.folder(f, folds=3, repeats=1, models="lasso_fixed")
    assert folder.parent == stage_cache / "attention_vs_random" and (folder / "table.parquet").exists()
    # another parameter, another key: computed
    c = stages.attention_vs_random(f, folds=3, repeats=1, models="lasso_fixed", seed=1)
    assert calls == [0, 1]
    assert not c["value"].equals(a["value"])
    # other input values, another key: computed
    stages.attention_vs_random(synthetic_features(n_candidates=20, seed=1), folds=3, repeats=1, models="lasso_fixed")
    assert calls == [0, 1, 0]
    # the uncached function computes every time, and gives what the stage stored
    pd.testing.assert_frame_equal(stages.attention_vs_random.compute(f, folds=3, repeats=1, models="lasso_fixed"), a)
    assert calls == [0, 1, 0, 0]
    with pytest.raises(ValueError, match="models: 'poster', 'lasso' or 'lasso_fixed'"):
        stages.attention_vs_random(f, folds=3, repeats=1, models="forest")


def test_a_stage_refuses_results_it_cannot_save(stage_cache):
    from toolkit import cache

    @cache.stage("demo")
    def demo(x: int = 1):
        return [x]

    with pytest.raises(TypeError, match="a stage cannot save a list"):
        demo()
    # nothing half-written is left behind
    assert not [p for p in (stage_cache / "demo").iterdir()]


def _run_folder(run, attention):
    """A run folder as ``python -m toolkit train`` writes it (the analyses read its attention)."""
    (run / "results").mkdir(parents=True)
    attention.to_parquet(run / "attention.parquet")
    (run / "config.json").write_text("{}")
    pd.DataFrame({"candidate_id": ["c00"], "fold": [0], "label": [0], "score": [0.5]}).to_parquet(
        run / "predictions.parquet")
    (run / "history.csv").write_text("fold,epoch,train_loss\n")
    (run / "results" / "training.csv").write_text("model,metric,value,ci_low,ci_high\nhirenet,auc,0.5,,\n")
    return run


def test_cli_writes_results(tmp_path, burst, stage_cache, capsys):
    from toolkit import cli

    corpus, bursts = burst
    corpus = corpus.subset(candidate_ids=[f"c{c:02d}" for c in range(20)])
    # five positions of four candidates with both labels, so the hirability folds can be grouped by position
    corpus.manifest["position_id"] = corpus.manifest["candidate_id"].map(lambda c: f"p{int(c[1:]) // 4}")
    corpus.episodes = pd.DataFrame([(a, "anxiety", s, e, True) for a, (s, e) in bursts.items()
                                    if a in set(corpus.manifest["answer_id"])],
                                   columns=["answer_id", "kind", "start_s", "end_s", "linked"])
    corpus_mod.save(corpus, tmp_path / "corpus")
    run = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match="not a complete run folder"):
        cli.analyze([str(run)])
    centres = {a: (s + e) / 2 for a, (s, e) in bursts.items()}
    _run_folder(run, attention_at(corpus, centres))
    with pytest.raises(FileNotFoundError, match="run.json is missing; give the corpus with --corpus"):
        cli.analyze([str(run)])
    (run / "run.json").write_text(json.dumps({"corpus": "../corpus"}))
    assert cli.analyze([str(run), "--folds", "3", "--repeats", "1", "--redraws", "4", "--quiet"]) == 0
    assert "attention_vs_random.csv" in capsys.readouterr().out
    res = pd.read_csv(run / "results" / "attention_vs_random.csv")
    assert list(res.columns) == ["model", "metric", "value", "ci_low", "ci_high", "n_folds"]
    assert set(res["n_folds"]) == {3}  # 3 folds, 1 repeat
    assert res.set_index(["model", "metric"]).loc[("Lasso", "auc"), "value"] > 0.9
    imp = pd.read_csv(run / "results" / "importances.csv")
    assert imp[imp["rank"] == 1]["feature"].tolist() == ["AU45_delta", "AU45_delta"] or \
        imp[imp["rank"] == 1]["au"].tolist() == ["AU45", "AU45"]
    rec = pd.read_csv(run / "results" / "recovery.csv").set_index(["moment", "location", "metric"])
    assert rec.loc[("anxiety", "all", "p_attention"), "value"] == 1.0
    auc = pd.read_csv(run / "results" / "hirability_auc.csv")
    assert set(auc["kind"]) == {"attention", "random"} and auc["auc"].between(0, 1).all()
    tests = pd.read_csv(run / "results" / "permutation_tests.csv")
    assert set(tests["test"]) == {"permutation", "delong", "redraw"}
    assert set(tests.loc[tests["test"] == "redraw", "p_value"]) <= {k / 5 for k in range(1, 6)}  # 4 redraws
    # --corpus overrides run.json
    (run / "run.json").write_text(json.dumps({"corpus": "../nowhere"}))
    assert cli.analyze([str(run), "--corpus", str(tmp_path / "corpus"), "--folds", "3", "--repeats", "1",
                        "--redraws", "4", "--quiet"]) == 0
