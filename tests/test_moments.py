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


def _two_candidates():
    """Two candidates: one with both answers (one window without a face), one with its second answer only."""
    torch.manual_seed(3)
    lengths = torch.tensor([7, 4, 6])
    x = torch.randn(3, 7, 3)
    mask = torch.arange(7)[None, :] < lengths[:, None]
    mask[0, 2] = False
    x = torch.where(mask[..., None], x, torch.zeros(()))
    return {"x": x, "lengths": lengths, "frame_mask": mask, "questions": torch.tensor([0, 1, 1]),
            "answer_index": torch.tensor([[0, 1], [2, -1]])}


def _logits(model, batch, x=None, mask=None):
    with torch.no_grad():
        return model(batch["x"] if x is None else x, batch["lengths"], batch["frame_mask"] if mask is None else mask,
                     batch["questions"], batch["answer_index"])[0].double().numpy()


@pytest.mark.parametrize("at", moments.ATTRIBUTIONS)
def test_integrated_gradients_add_up_to_the_change_of_the_logit(at):
    model, batch = _model(), _two_candidates()
    baseline = torch.where(batch["frame_mask"][..., None], torch.full((3, 7, 3), 0.3), torch.zeros(()))
    per_window, gap = moments.integrated_gradients(model, batch, baseline, steps=32, at=at)
    assert per_window.shape == batch["frame_mask"].shape and gap.shape == (2,)
    # completeness, per candidate: its windows' attributions add up to logit(input) - logit(baseline)
    expected = _logits(model, batch) - _logits(model, batch, x=baseline)
    np.testing.assert_allclose(gap.numpy(), expected, atol=1e-5)
    per_candidate = np.array([per_window[:2].sum().item(), per_window[2].sum().item()])
    np.testing.assert_allclose(per_candidate, expected, rtol=0.01, atol=1e-4)
    # masked steps (no face, padding) get no attribution
    assert torch.all(per_window[~batch["frame_mask"]] == 0)
    # the baseline equal to the input: nothing to attribute
    same, none = moments.integrated_gradients(model, batch, batch["x"].clone(), steps=8, at=at)
    assert torch.all(none == 0) and torch.allclose(same, torch.zeros_like(same), atol=1e-7)
    with pytest.raises(ValueError, match="at: one of"):
        moments.integrated_gradients(model, batch, baseline, at="output")


def test_integrated_gradients_on_the_input_are_captums_on_the_whole_network():
    from captum.attr import IntegratedGradients

    model, batch = _model(), _two_candidates()
    baseline = torch.where(batch["frame_mask"][..., None], torch.full((3, 7, 3), -0.2), torch.zeros(()))
    per_window, _ = moments.integrated_gradients(model, batch, baseline, steps=16, at="input")
    # candidate 1 alone, its answer as a batch of one: Captum's attributions summed over the features
    one = {k: batch[k][2:] for k in ("x", "lengths", "frame_mask", "questions")}

    def forward(x):
        n = x.shape[0]
        return model(x, one["lengths"].repeat(n), one["frame_mask"].repeat(n, 1), one["questions"].repeat(n),
                     torch.arange(n)[:, None])[0]

    expected = IntegratedGradients(forward).attribute(one["x"], baselines=baseline[2:], n_steps=16).sum(-1)
    torch.testing.assert_close(per_window[2:], expected * one["frame_mask"], atol=1e-5, rtol=1e-4)


def test_occlusion_is_the_logit_with_the_moment_set_to_the_baseline():
    model, batch = _model(), _two_candidates()
    baseline = torch.zeros_like(batch["x"])
    rows, lo, hi = np.array([0, 1, 0, 2]), np.array([3, 0, 0, 1]), np.array([5, 1, 0, 3])
    got = moments._occlusion(model, batch, baseline, rows, lo, hi)
    observed = _logits(model, batch)
    by_hand = batch["x"].clone()
    by_hand[0, 3:5] = 0.0
    assert got[0] == pytest.approx(_logits(model, batch, x=by_hand)[0], abs=1e-5)
    assert got[1] != pytest.approx(observed[0], abs=1e-6)
    assert got[2] == pytest.approx(observed[0], abs=1e-5)  # an empty cut changes nothing
    by_hand = batch["x"].clone()
    by_hand[2, 1:3] = 0.0
    assert got[3] == pytest.approx(_logits(model, batch, x=by_hand)[1], abs=1e-5)  # the other candidate's logit


def test_occlusion_by_attention_is_the_logit_with_the_moment_masked_out_of_the_attention():
    model, batch = _model(), _two_candidates()
    with torch.no_grad():
        h = model.encode_frames(batch["x"], batch["lengths"])
        _, weights = model.attend_frames(h, batch["frame_mask"], batch["questions"])
    rows, lo, hi = np.array([0, 1, 2, 1]), np.array([1, 0, 2, 0]), np.array([4, 2, 6, 4])
    got = moments._occlusion_by_attention(model, h, weights, batch["answer_index"], rows, lo, hi)
    for j, candidate in enumerate([0, 0, 1]):
        mask = batch["frame_mask"].clone()
        mask[rows[j], lo[j]:hi[j]] = False
        assert got[j] == pytest.approx(_logits(model, batch, mask=mask)[candidate], abs=1e-5)
    # a cut that holds all of an answer's attention leaves it a zero vector (as the masked softmax does)
    mask = batch["frame_mask"].clone()
    mask[1] = False
    assert got[3] == pytest.approx(_logits(model, batch, mask=mask)[0], abs=1e-5)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A run that learned a planted AU12 burst of invited candidates (answer 1), and its key moments' impacts."""
    corpus = _make_corpus(n_positions=8)
    run = runs.train(corpus, tmp_path_factory.mktemp("run"), TrainConfig(**FAST), SMALL, progress=False)
    found = moments.key_moments(run.attention, corpus)
    return corpus, run, found, moments.impacts(run, corpus, found, steps=16)


@pytest.mark.slow
def test_impacts_recover_the_sign_of_a_planted_moment(planted):
    corpus, run, found, table = planted
    auc = run.metrics.set_index(["model", "metric"]).loc[("hirenet", "auc"), "value"]
    assert auc > 0.8
    assert list(table.columns) == [*moments.MOMENT_COLUMNS, "fold", "logit", "score", "impact_occlusion", "impact_ig"]
    assert table["moment_id"].tolist() == found["moment_id"].tolist()  # every moment, in its order
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


@pytest.mark.slow
def test_the_costlier_methods_agree_with_the_defaults(planted):
    corpus, run, found, table = planted
    costly = moments.impacts(run, corpus, found, steps=16, occlusion="usual", attribution="input")
    assert costly["moment_id"].tolist() == table["moment_id"].tolist()
    np.testing.assert_allclose(costly["logit"], table["logit"], atol=1e-5)
    for method in ("impact_occlusion", "impact_ig"):
        assert np.corrcoef(costly[method], table[method])[0, 1] > 0.8, method
    with pytest.raises(ValueError, match="occlusion: one of"):
        moments.impacts(run, corpus, found, occlusion="zeros")
    with pytest.raises(ValueError, match="attribution: one of"):
        moments.impacts(run, corpus, found, attribution="shap")


def test_impacts_refuse_moments_of_candidates_the_run_does_not_score(planted):
    corpus, run, _, table = planted
    stray = table.head(1).assign(candidate_id="nobody")
    with pytest.raises(ValueError, match="candidate 'nobody' has no out-of-fold score in the run"):
        moments.impacts(run, corpus, stray[list(moments.MOMENT_COLUMNS)])
    with pytest.raises(ValueError, match=r"missing column\(s\) \['rank'\]"):
        moments.impacts(run, corpus, table.drop(columns="rank"))


def test_the_feedback_view_draws_every_answer_and_every_moment(planted):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    corpus, run, _, table = planted
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
    # beside a null reference: a sign counts only where the interval leaves the reference's
    null = table.copy()
    null["impact_occlusion"] = rng.normal(0, 0.05, n)
    null.loc[:99, "impact_occlusion"] -= 1.0  # the null network also lowers the score on closed eyes
    beside = moments.by_expression(table, min_moments=20, null={"untrained": null}).set_index("expression")
    assert {"untrained_mean", "untrained_ci_low", "untrained_ci_high", "sign_counts"} <= set(beside.columns)
    assert beside.loc["AU45 up", "untrained_mean"] == pytest.approx(groups.loc["AU45 up", "mean_impact"], abs=0.1)
    assert not beside.loc["AU45 up", "sign_counts"] and beside.loc["AU12 up", "sign_counts"]
    with pytest.raises(ValueError, match="no \\*_delta feature column"):
        moments.by_expression(table[["candidate_id", "impact_occlusion"]])
    with pytest.raises(ValueError, match="no 'impact_ig' column"):
        moments.by_expression(table, method="impact_ig")


def test_the_interactive_view_has_one_hoverable_shape_per_moment(planted):
    corpus, run, _, table = planted
    table = table.assign(AU12_delta=0.8, AU45_delta=-0.1)
    candidate = str(table["candidate_id"].iloc[0])
    view = moments.feedback_html(corpus, run.attention, table, candidate)
    mine = table[table["candidate_id"] == candidate]
    assert view._repr_html_() == str(view)
    assert view.count("<svg") == int((corpus.manifest["candidate_id"] == candidate).sum())
    assert view.count("class='key-moment'") == len(mine) == view.count("<title>")
    first = mine.iloc[0]
    assert f"{first['impact_occlusion']:+.3f}" in view and "AU12 up 0.80" in view
    assert "<script" not in view and "http" not in view.replace("http://www.w3.org/2000/svg", "")
    with pytest.raises(ValueError, match="candidate_id 'nobody'"):
        moments.feedback_html(corpus, run.attention, table, "nobody")


def test_still_frames_read_the_video_at_the_moments_and_say_why_not(tmp_path):
    import cv2

    fps, colours = 10, [(0, 0, 255), (0, 255, 0)]  # BGR: red for the first second, green for the second
    writer = cv2.VideoWriter(str(tmp_path / "a.avi"), cv2.VideoWriter_fourcc(*"MJPG"), fps, (32, 24))
    for i in range(2 * fps):
        writer.write(np.full((24, 32, 3), colours[i // fps], np.uint8))
    writer.release()
    manifest = pd.DataFrame({"answer_id": ["a-q1", "b-q1"], "candidate_id": ["a", "b"], "position_id": "p",
                             "question": 1, "label": [1, 0], "video": ["a.avi", None]})
    frames = pd.DataFrame({"answer_id": "a-q1", "time_s": np.arange(20) / 10, "success": True, "AU12": 0.0})
    corpus = Corpus(manifest, frames, {"frame_rate": 10.0}, None, tmp_path)
    red, green = moments.still_frames(corpus, "a-q1", [0.3, 1.5])
    assert red.shape == (24, 32, 3) and red[..., 0].mean() > 200 and green[..., 1].mean() > 200
    with pytest.raises(ValueError, match="answer 'b-q1' has no video"):
        moments.still_frames(corpus, "b-q1", [0.1])
    (tmp_path / "a.avi").unlink()
    with pytest.raises(FileNotFoundError, match="a.avi: the video of answer 'a-q1'"):
        moments.still_frames(corpus, "a-q1", [0.1])
