"""Key moments and their signed impact (toolkit.moments): the peaks, integrated gradients' completeness,
occlusion, and the sign of a planted moment recovered by both methods."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from toolkit import moments, runs, slices
from toolkit.corpus import Corpus
from toolkit.model import HireNet, HireNetConfig
from toolkit.training import TrainConfig

from test_hirenet import FAST, FEATURES, SMALL, _make_corpus

torch.set_num_threads(1)


def _curve_corpus():
    """One answer of 10 s at 10 frames per second, two bumps of attention (the higher at 7 s), one frame without a face."""
    t = np.arange(100) / 10.0
    w = 1.0 + 3.0 * np.exp(-0.5 * ((t - 7.0) / 0.3) ** 2) + 1.5 * np.exp(-0.5 * ((t - 2.0) / 0.3) ** 2)
    success = np.ones(100, bool)
    success[50] = False
    w[50] = 0.0  # a network gives a frame without a face no weight
    manifest = pd.DataFrame({"answer_id": ["a-q1", "b-q2"], "candidate_id": ["a", "a"], "position_id": "p",
                             "question": [1, 2], "label": 1})
    frames = pd.concat([pd.DataFrame({"answer_id": aid, "time_s": t, "success": success, "AU12": 0.0})
                        for aid in ("a-q1", "b-q2")], ignore_index=True)
    attention = pd.DataFrame({"answer_id": np.repeat(["a-q1", "b-q2"], 100), "time_s": np.r_[t, t],
                              "weight": np.r_[w, w[::-1]] / w.sum()})
    return Corpus(manifest, frames, {"frame_rate": 10.0}), attention, t, w


def test_key_moments_are_the_peaks_above_uniform_highest_first_and_rank_0_is_the_slice():
    corpus, attention, t, w = _curve_corpus()
    found = moments.key_moments(attention, corpus)
    assert list(found.columns) == list(moments.MOMENT_COLUMNS)
    first = found[found["answer_id"] == "a-q1"]
    assert first["rank"].tolist() == [0, 1] and first["moment_id"].tolist() == ["a-q1:m0", "a-q1:m1"]
    assert first["peak_s"].round(1).tolist() == [7.0, 2.0]
    assert first["attention"].iloc[0] > first["attention"].iloc[1] > 1  # peak over the uniform level
    expected = slices.attention_slice(t, np.where(np.arange(100) == 50, np.nan, w))
    assert first[["start_s", "end_s"]].iloc[0].tolist() == pytest.approx([expected["start_s"], expected["end_s"]])
    assert (first["end_s"].iloc[1] <= first["start_s"].iloc[0]) or (first["start_s"].iloc[1] >= first["end_s"].iloc[0])
    assert ((first["end_s"] - first["start_s"]).between(0.5, 4.0)).all()
    # the reversed curve of the second answer peaks at 10 - 7 s; a question filter keeps one answer
    assert found.loc[found["answer_id"] == "b-q2", "peak_s"].round(1).iloc[0] == pytest.approx(2.9, abs=0.11)
    assert set(moments.key_moments(attention, corpus, question=2)["answer_id"]) == {"b-q2"}
    # flat attention has no key moment
    flat = attention.assign(weight=1.0 / 100)
    assert moments.key_moments(flat, corpus).empty
    with pytest.raises(ValueError, match="answer_id 'zz' is not in the corpus manifest"):
        moments.key_moments(pd.concat([attention, attention.head(1).assign(answer_id="zz")]), corpus)


def _model():
    torch.manual_seed(0)
    return HireNet(HireNetConfig(hidden_size=6, attention_size=5, dropout=0.0, pool=1, n_questions=2,
                                 features=FEATURES)).eval()


def _one_candidate():
    torch.manual_seed(3)
    lengths = torch.tensor([7, 4])
    x = torch.randn(2, 7, 3)
    mask = torch.arange(7)[None, :] < lengths[:, None]
    mask[0, 2] = False
    x = torch.where(mask[..., None], x, torch.zeros(()))
    return {"x": x, "lengths": lengths, "frame_mask": mask, "questions": torch.tensor([0, 1]),
            "answer_index": torch.tensor([[0, 1]])}


def test_integrated_gradients_add_up_to_the_change_of_the_logit():
    model, batch = _model(), _one_candidate()
    baseline = torch.where(batch["frame_mask"][..., None], torch.full((2, 7, 3), 0.3), torch.zeros(()))
    attributions, gap = moments.integrated_gradients(model, batch, baseline, steps=64)
    assert attributions.shape == batch["x"].shape
    assert abs(float(attributions.sum()) - gap) < 0.01 * abs(gap) + 1e-4
    # masked steps (no face, padding) get no attribution: they are zero in both input and baseline
    assert torch.all(attributions[~batch["frame_mask"]] == 0)
    # the baseline equal to the input: nothing to attribute
    same, none = moments.integrated_gradients(model, batch, batch["x"].clone(), steps=8)
    assert none == 0 and torch.all(same == 0)


def test_occlusion_is_the_logit_with_the_moment_set_to_the_baseline():
    model, batch = _model(), _one_candidate()
    baseline = torch.zeros_like(batch["x"])
    cuts = [(0, np.array([3, 4])), (1, np.array([0])), (0, np.array([], dtype=int))]
    got = moments._occlusion(model, batch, baseline, cuts)
    with torch.no_grad():
        observed = float(model(batch["x"], batch["lengths"], batch["frame_mask"], batch["questions"],
                               batch["answer_index"])[0][0])
        by_hand = batch["x"].clone()
        by_hand[0, 3:5] = 0.0
        expected = float(model(by_hand, batch["lengths"], batch["frame_mask"], batch["questions"],
                               batch["answer_index"])[0][0])
    assert got[0] == pytest.approx(expected, abs=1e-5)
    assert got[2] == pytest.approx(observed, abs=1e-5)  # an empty cut changes nothing
    assert got[1] != pytest.approx(observed, abs=1e-6)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A run that learned a planted AU12 burst of invited candidates (answer 1), and its key moments' impacts."""
    corpus = _make_corpus(n_positions=8)
    run = runs.train(corpus, tmp_path_factory.mktemp("run"), TrainConfig(**FAST), SMALL, progress=False)
    found = moments.key_moments(run.attention, corpus)
    return corpus, run, moments.impacts(run, corpus, found, steps=16)


@pytest.mark.slow
def test_impacts_recover_the_sign_of_a_planted_moment(planted):
    corpus, run, table = planted
    auc = run.metrics.set_index(["model", "metric"]).loc[("hirenet", "auc"), "value"]
    assert auc > 0.8
    assert list(table.columns) == [*moments.MOMENT_COLUMNS, "fold", "logit", "score", "impact_occlusion", "impact_ig"]
    # every candidate scored by its own fold's model: the logit is the run's out-of-fold score
    scores = run.predictions.set_index("candidate_id")["score"]
    per = table.drop_duplicates("candidate_id").set_index("candidate_id")
    np.testing.assert_allclose(per["score"], scores.loc[per.index.astype(str)], atol=1e-5)
    assert (per["fold"] == run.predictions.set_index("candidate_id").loc[per.index.astype(str), "fold"]).all()
    # moments on a planted burst raise the score; the two methods agree
    episodes = corpus.episodes
    on_burst = np.array([((episodes["answer_id"] == m.answer_id) & (episodes["start_s"] < m.end_s)
                          & (episodes["end_s"] > m.start_s)).any() for m in table.itertuples()])
    assert on_burst.sum() >= 20
    for method in ("impact_occlusion", "impact_ig"):
        assert (table.loc[on_burst, method] > 0).mean() >= 0.8, method
        assert table.loc[on_burst, method].mean() > table.loc[~on_burst, method].abs().mean() * 3, method
    assert np.corrcoef(table["impact_occlusion"], table["impact_ig"])[0, 1] > 0.8


def test_impacts_refuse_moments_of_candidates_the_run_does_not_score(planted):
    corpus, run, table = planted
    stray = table.head(1).assign(candidate_id="nobody")
    with pytest.raises(ValueError, match="candidate 'nobody' has no out-of-fold score in the run"):
        moments.impacts(run, corpus, stray[list(moments.MOMENT_COLUMNS)])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['rank'\]"):
        moments.impacts(run, corpus, table.drop(columns="rank"))


def test_the_feedback_view_draws_every_answer_and_every_moment(planted):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpus, run, table = planted
    candidate = str(table.sort_values("impact_occlusion")["candidate_id"].iloc[-1])
    fig = moments.plot_candidate(corpus, run.attention, table, candidate)
    answers = corpus.manifest[corpus.manifest["candidate_id"] == candidate]
    rows = [ax for ax in fig.axes if ax.get_ylabel().startswith("question")]
    assert len(rows) == len(answers)
    n_moments = int((table["candidate_id"] == candidate).sum())
    assert sum(len(ax.patches) for ax in rows) == n_moments  # one shaded span per key moment
    assert sum(len(ax.texts) for ax in rows) == n_moments  # each with its impact written above it
    assert "invited" in fig._suptitle.get_text() and "out-of-fold score" in fig._suptitle.get_text()
    plt.close(fig)
    with pytest.raises(ValueError, match="candidate_id 'nobody' is not in the corpus manifest"):
        moments.plot_candidate(corpus, run.attention, table, "nobody")
    with pytest.raises(ValueError, match="method"):
        moments.plot_candidate(corpus, run.attention, table, candidate, method="shap")


def test_moments_grouped_by_their_most_deviating_expression():
    rng = np.random.default_rng(0)
    n = 400
    table = pd.DataFrame({"candidate_id": [f"c{i % 80}" for i in range(n)],
                          "AU45_delta": rng.normal(0, 0.1, n), "AU12_delta": rng.normal(0, 0.1, n),
                          "AU20_delta": rng.normal(0, 0.1, n)})
    # a quarter of the moments: eyes closed (AU45 up), lowering the score; a quarter: a smile, raising it
    table.loc[:99, "AU45_delta"] = 2.0
    table.loc[100:199, "AU12_delta"] = 2.0
    table["impact_occlusion"] = rng.normal(0, 0.05, n)
    table.loc[:99, "impact_occlusion"] -= 1.0
    table.loc[100:199, "impact_occlusion"] += 1.0
    groups = moments.by_expression(table, min_moments=20).set_index("expression")
    assert groups.index[0] == "AU45 up" and groups.index[-1] == "AU12 up"
    assert 100 <= groups.loc["AU45 up", "n_moments"] < 120 and groups.loc["AU45 up", "n_candidates"] >= 75
    assert groups.loc["AU45 up", "ci_high"] < 0 < groups.loc["AU12 up", "ci_low"]
    assert groups.loc["AU45 up", "ci_low"] <= groups.loc["AU45 up", "mean_impact"] <= groups.loc["AU45 up", "ci_high"]
    with pytest.raises(ValueError, match="no \\*_delta feature column"):
        moments.by_expression(table[["candidate_id", "impact_occlusion"]])
    with pytest.raises(ValueError, match="no 'impact_ig' column"):
        moments.by_expression(table, method="impact_ig")
