"""The fairness audit (toolkit.fairness): fairlearn's metrics by group, signed differences, intervals that
resample positions, what features reveal, and the post-processing baseline."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from toolkit import fairness


def _scores(n_positions=60, per=12, gap=0.0, seed=0):
    """Out-of-fold-like scores: a group 'b' whose scores are shifted by ``gap`` (a biased model), labels unrelated."""
    rng = np.random.default_rng(seed)
    n = n_positions * per
    group = np.where(rng.random(n) < 0.5, "a", "b")
    label = (rng.random(n) < 0.35).astype(int)
    score = 1 / (1 + np.exp(-(1.2 * (label - 0.35) + rng.normal(0, 1, n) + gap * (group == "b"))))
    table = pd.DataFrame({"candidate_id": [f"c{i}" for i in range(n)],
                          "position_id": [f"p{i // per}" for i in range(n)], "label": label, "score": score,
                          "fold": np.arange(n) // per % 5})
    attribute = pd.Series(group, index=table["candidate_id"], name="gender")
    return table, attribute


def test_the_audit_is_fairlearns_metric_frame_by_group():
    from fairlearn.metrics import MetricFrame, demographic_parity_difference, equalized_odds_difference, selection_rate

    table, attribute = _scores(gap=0.8)
    audit = fairness.audit(table, attribute, n_boot=0)
    assert list(audit.columns) == ["model", "attribute", "group", "metric", "value", "ci_low", "ci_high"]
    assert set(audit["group"]) == {"a", "b", "difference"}
    values = audit.set_index(["group", "metric"])["value"]
    predicted = fairness._predictions(table["score"].to_numpy(), table["label"].to_numpy(), "prevalence")
    # the operating threshold invites the corpus's share of candidates
    assert predicted.mean() == pytest.approx(table["label"].mean(), abs=2 / len(table))
    frame = MetricFrame(metrics=selection_rate, y_true=table["label"], y_pred=predicted,
                        sensitive_features=attribute.to_numpy())
    assert values[("a", "selection_rate")] == pytest.approx(frame.by_group["a"])
    assert values[("b", "selection_rate")] == pytest.approx(frame.by_group["b"])
    # two groups: signed differences (b minus a) whose absolute values are fairlearn's
    dp = demographic_parity_difference(table["label"], predicted, sensitive_features=attribute.to_numpy())
    eo = equalized_odds_difference(table["label"], predicted, sensitive_features=attribute.to_numpy())
    assert values[("difference", "demographic_parity")] == pytest.approx(dp) and dp > 0.1
    assert abs(values[("difference", "equalized_odds")]) == pytest.approx(eo)
    assert values[("difference", "auc")] == pytest.approx(values[("b", "auc")] - values[("a", "auc")])
    assert ("difference", "n_candidates") not in values.index
    assert values[("a", "n_candidates")] + values[("b", "n_candidates")] == len(table)


def test_the_fast_resampled_metrics_are_fairlearns():
    table, attribute = _scores(gap=0.5, seed=3)
    y, score = table["label"].to_numpy(), table["score"].to_numpy()
    predicted = fairness._predictions(score, y, "prevalence")
    group = attribute.to_numpy()
    rng = np.random.default_rng(0)
    draws = rng.integers(0, len(y), size=(4, len(y)))
    fast = fairness._resampled_metrics(np.r_[y, 0], np.r_[score, 0.0], np.r_[predicted, 0],
                                       np.r_[(group == "b").astype(int), -1], ["a", "b"], draws, probability=True)
    for i, rows in enumerate(draws):
        slow = fairness._metric_frames(y[rows], score[rows], predicted[rows], group[rows])
        np.testing.assert_allclose(fast[i], slow.to_numpy(float), rtol=1e-9, atol=1e-12, equal_nan=True)


def test_the_interval_finds_a_gap_only_where_there_is_one():
    biased = fairness.audit(*_scores(gap=1.0), n_boot=300).set_index(["group", "metric"])
    fair = fairness.audit(*_scores(gap=0.0), n_boot=300).set_index(["group", "metric"])
    gap = biased.loc[("difference", "demographic_parity")]
    assert gap["ci_low"] > 0  # b selected more often: the interval excludes zero
    none = fair.loc[("difference", "demographic_parity")]
    assert none["ci_low"] < 0 < none["ci_high"]
    assert none["ci_low"] <= none["value"] <= none["ci_high"]


def test_bad_input_is_named():
    table, attribute = _scores()
    with pytest.raises(ValueError, match="scores: missing column 'position_id'"):
        fairness.audit(table.drop(columns="position_id"), attribute)
    with pytest.raises(ValueError, match="no value for candidate 'c0'"):
        fairness.audit(table, attribute.drop("c0"))
    manifest = pd.DataFrame({"answer_id": ["a1", "a2", "b1"], "candidate_id": ["a", "a", "b"],
                             "gender": ["f", "m", "m"]})
    with pytest.raises(ValueError, match="candidate 'a' has more than one value"):
        fairness.candidate_attribute(manifest, "gender")
    with pytest.raises(ValueError, match="no column 'ethnicity'"):
        fairness.candidate_attribute(manifest, "ethnicity")
    with pytest.raises(ValueError, match="row 3, column 'gender': empty value"):
        fairness.candidate_attribute(manifest.assign(gender=["f", "f", None]), "gender")
    with pytest.raises(ValueError, match="a single value"):
        fairness.candidate_attribute(manifest.assign(gender="f"), "gender")
    assert fairness.candidate_attribute(manifest.assign(gender=["f", "f", "m"]), "gender").to_dict() == {"a": "f",
                                                                                                        "b": "m"}


def test_reveal_predicts_an_attribute_written_in_the_features_and_not_one_that_is_not():
    rng = np.random.default_rng(0)
    n = 400
    index = pd.Index([f"c{i}" for i in range(n)], name="candidate_id")
    attribute = pd.Series(np.where(rng.random(n) < 0.5, "a", "b"), index=index, name="gender")
    noise = pd.DataFrame(rng.normal(size=(n, 3)), index=index)
    written = noise.assign(w=(attribute == "b").to_numpy() * 1.5 + rng.normal(size=n))
    assert fairness.reveal(written, attribute, n_boot=200)["ci_low"] > 0.7
    blind = fairness.reveal(noise, attribute, n_boot=200)
    assert blind["ci_low"] < 0.5 < blind["ci_high"]


def test_the_threshold_optimizer_narrows_the_parity_gap_out_of_fold():
    table, attribute = _scores(gap=1.0)
    before = fairness.audit(table, attribute, n_boot=0).set_index(["group", "metric"])["value"]
    post = fairness.threshold_optimizer(table, attribute)
    assert post["score"].between(0, 1).all() and len(post) == len(table)
    after = fairness.audit(post, attribute, threshold=0.5, n_boot=0).set_index(["group", "metric"])["value"]
    assert abs(after[("difference", "demographic_parity")]) < abs(before[("difference", "demographic_parity")]) / 2


# --------------------------------------------------------------------------- adversarial debiasing

import torch  # noqa: E402

from toolkit import runs, training  # noqa: E402
from toolkit.corpus import Corpus, save  # noqa: E402

from test_hirenet import FAST, FEATURES, SMALL, _make_corpus  # noqa: E402


def test_gradient_reversal_is_the_identity_forward_and_flips_the_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    y = training._GradientReversal.apply(x, 2.5)
    assert torch.equal(y, x)
    (grad,) = torch.autograd.grad((y * torch.arange(3.0)).sum(), x)
    assert torch.equal(grad, -2.5 * torch.arange(3.0).expand(4, 3))


def test_adversary_settings_are_checked():
    with pytest.raises(ValueError, match="the direct adversary needs the sensitive attribute"):
        training.TrainConfig(adversary=1.0, adversary_kind="direct")
    with pytest.raises(ValueError, match="adversary: a strength >= 0"):
        training.TrainConfig(adversary=-1.0)
    with pytest.raises(ValueError, match="adversary_kind: 'direct', 'indirect' or None"):
        training.TrainConfig(adversary=1.0, adversary_kind="both")
    assert training._adversary_kind(training.TrainConfig(adversary=1.0, attribute="gender")) == "direct"
    assert training._adversary_kind(training.TrainConfig(adversary=1.0)) == "indirect"


def _biased_corpus(seed=0):
    """Invited candidates are mostly group 'b' (a biased label), and group 'b' shows it: feature 2 is raised."""
    corpus = _make_corpus(n_positions=8, per_position=10, seed=seed, planted=False)
    rng = np.random.default_rng(seed)
    cand = corpus.manifest.drop_duplicates("candidate_id").set_index("candidate_id")["label"]
    group = pd.Series(np.where(rng.random(len(cand)) < np.where(cand == 1, 0.85, 0.15), "b", "a"), index=cand.index)
    manifest = corpus.manifest.assign(group=corpus.manifest["candidate_id"].map(group))
    frames = corpus.frames.copy()
    in_b = frames["answer_id"].map(manifest.set_index("answer_id")["group"]).eq("b").to_numpy()
    frames.loc[in_b, FEATURES[2]] += 1.5
    return Corpus(manifest, frames, {"frame_rate": 10.0}), group.rename("group")


@pytest.mark.slow
def test_the_direct_adversary_narrows_the_gap_the_network_learned(tmp_path):
    corpus, group = _biased_corpus()
    plain = runs.train(corpus, tmp_path / "plain", training.TrainConfig(**FAST), SMALL, progress=False)
    fair = runs.train(corpus, tmp_path / "fair", training.TrainConfig(**FAST, adversary=10.0, attribute="group"),
                      SMALL, progress=False)
    assert fair.config["train"]["adversary"] == 10.0 and fair.config["train"]["attribute"] == "group"

    def parity(run):
        scores = run.predictions.assign(position_id=run.predictions["candidate_id"].str[:3])
        table = fairness.audit(scores, group, n_boot=0).set_index(["group", "metric"])["value"]
        return table[("difference", "demographic_parity")]

    assert parity(plain) > 0.3
    assert abs(parity(fair)) < parity(plain) / 2
    # what the representation reveals of the attribute goes down too
    revealed = [fairness.reveal(runs.representations(r, corpus), group, n_boot=0)["auc"] for r in (plain, fair)]
    assert revealed[1] < revealed[0]
    # the checkpoints hold HireNet alone: the adversary is not part of the model
    model, _ = runs.load_model(fair.path, 0)
    assert not any("net." in name for name in model.state_dict())


@pytest.mark.slow
def test_the_indirect_adversary_needs_no_attribute(tmp_path):
    corpus, _ = _biased_corpus()
    run = runs.train(corpus.subset(candidate_ids=list(corpus.manifest["candidate_id"].unique()[:48])), tmp_path / "r",
                     training.TrainConfig(**dict(FAST, epochs=2), adversary=1.0, adversary_kind="indirect"), SMALL,
                     progress=False)
    assert run.config["train"]["adversary_kind"] == "indirect" and run.config["train"]["attribute"] is None
    assert run.predictions["score"].notna().all()


def test_representations_are_out_of_fold_interview_vectors(tmp_path):
    corpus, _ = _biased_corpus()
    run = runs.train(corpus, tmp_path / "r", training.TrainConfig(**dict(FAST, epochs=1)), SMALL, progress=False)
    v = runs.representations(run, corpus)
    assert list(v.index) == list(run.predictions["candidate_id"]) and v.shape[1] == 2 * SMALL.hidden_size
    # the output layer on the representation gives back the run's out-of-fold score
    for k in range(FAST["folds"]):
        model, _ = runs.load_model(run.path, k)
        mine = run.predictions[run.predictions["fold"] == k]
        with torch.no_grad():
            logits = model.output(torch.tensor(v.loc[mine["candidate_id"]].to_numpy(), dtype=torch.float32))
        np.testing.assert_allclose(torch.sigmoid(logits).squeeze(-1).numpy(), mine["score"], atol=1e-5)


def test_train_with_an_attribute_writes_the_fairness_audit(tmp_path, capsys, monkeypatch):
    from toolkit.__main__ import main

    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    corpus, _ = _biased_corpus()
    save(corpus, tmp_path / "corpus")
    args = ["train", str(tmp_path / "corpus"), str(tmp_path / "run"), "--folds", "2", "--epochs", "1", "--device",
            "cpu", "--quiet"]
    assert main([*args, "--attribute", "group"]) == 0
    audit = pd.read_csv(tmp_path / "run" / "results" / "fairness.csv")
    assert set(audit["model"]) == {"hirenet"} and set(audit["group"]) == {"a", "b", "difference"}
    assert {"demographic_parity", "equalized_odds", "selection_rate", "auc"} <= set(audit["metric"])
    assert "fairness audit by 'group'" in capsys.readouterr().out
    assert main([*args, "--attribute", "ethnicity"]) == 1
    assert "no column 'ethnicity'" in capsys.readouterr().err
    assert main([*args, "--adversary", "1", "--adversary-kind", "direct"]) == 1
    assert "the direct adversary needs the sensitive attribute" in capsys.readouterr().err
