"""Face, voice or both: the voice as a corpus, HireNet with two streams, every question, the ablation."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import toolkit as tk
from toolkit import corpus as corpus_mod
from toolkit import modalities, pipeline, questions, runs, stages, training
from toolkit.model import HireNet, HireNetConfig


@pytest.fixture(scope="module")
def voiced(tmp_path_factory):
    """The tiny simulated corpus with a voice, as a folder."""
    folder = tmp_path_factory.mktemp("voiced")
    tk.simulate.write(folder, preset="tiny", seed=1, voice=True, progress=False)
    return corpus_mod.load(folder)


@pytest.fixture(scope="module")
def trained(voiced, tmp_path_factory):
    """Networks on the face, the voice and both (two folds, one epoch)."""
    out = {}
    for name, modality, fusion in [("face", "face", "attention"), ("voice", "voice", "attention"),
                                   ("both", "both", "attention"), ("concat", "both", "concat")]:
        out[name] = stages.train.compute(voiced, folds=2, epochs=1, modality=modality,
                                         model=HireNetConfig(fusion=fusion), progress=False,
                                         out=tmp_path_factory.mktemp(name))
    return out


# --------------------------------------------------------------------------- the voice as a corpus

def test_the_voice_is_a_corpus_of_its_own(voiced):
    voice = voiced.modality("voice")
    assert voice.meta["modality"] == "voice" and voice.frame_rate == voiced.audio_rate != voiced.frame_rate
    assert voice.frames["success"].all() and len(voice.frames) == len(voiced.audio)
    assert voice.features[0] == "voiced" and "Loudness_sma3" in voice.features and not voice.aus
    assert voice.modality("voice") is voice and voiced.modality("face") is voiced
    # each stream sees its own planted moments
    assert set(corpus_mod.planted(voice)["modality"]) == {"voice"}
    assert set(corpus_mod.planted(voiced)["modality"]) == {"face"}


def test_a_corpus_without_sound_has_no_voice(voiced, tmp_path):
    silent = corpus_mod.Corpus(voiced.manifest, voiced.frames, dict(voiced.meta), None, tmp_path)
    with pytest.raises(corpus_mod.CorpusError, match="has no audio.parquet"):
        silent.modality("voice")
    with pytest.raises(ValueError, match="face, voice"):
        voiced.modality("video")
    with pytest.raises(corpus_mod.CorpusError, match="audio.parquet"):
        stages.train.compute(silent, folds=2, epochs=1, modality="voice", progress=False, out=tmp_path / "run")


@pytest.mark.parametrize("change, message", [
    (lambda a: a.drop(columns="voiced"), "audio.parquet: missing required column.*'voiced'"),
    (lambda a: a.assign(Loudness_sma3=np.where(np.arange(len(a)) == 7, np.nan, a["Loudness_sma3"])),
     r"audio.parquet, row 8, column 'Loudness_sma3': non-finite"),
    (lambda a: a.assign(answer_id=np.where(np.arange(len(a)) == 3, "nobody", a["answer_id"])),
     r"audio.parquet, row 4, column 'answer_id': frames of unknown answer 'nobody'"),
    (lambda a: a.assign(time_s=np.where(np.arange(len(a)) == 5, 0.0, a["time_s"])),
     r"audio.parquet, row \d+, column 'time_s': time_s does not increase"),
    (lambda a: a.assign(voiced=np.where(np.arange(len(a)) == 2, 7, a["voiced"].astype(int))),
     r"audio.parquet, row 3, column 'voiced': expected a boolean"),
    (lambda a: a.assign(mfcc1_sma3="x"), r"audio.parquet, column 'mfcc1_sma3': expected numbers"),
])
def test_a_bad_audio_table_is_refused_with_its_place(voiced, tmp_path, change, message):
    corpus_mod.save(voiced, tmp_path)
    change(voiced.audio.copy()).to_parquet(tmp_path / "audio.parquet")
    with pytest.raises(corpus_mod.CorpusError, match=message):
        corpus_mod.load(tmp_path)


def test_audio_round_trips_and_is_fingerprinted(voiced, tmp_path):
    corpus_mod.save(voiced, tmp_path / "copy")
    again = corpus_mod.load(tmp_path / "copy")
    pd.testing.assert_frame_equal(again.audio, voiced.audio)
    louder = corpus_mod.Corpus(voiced.manifest, voiced.frames, voiced.meta, voiced.episodes, None,
                               voiced.audio.assign(Loudness_sma3=voiced.audio["Loudness_sma3"] + 1))
    assert tk.cache.corpus_fingerprint(louder) != tk.cache.corpus_fingerprint(again)
    # a corpus saved without audio loses a stale audio.parquet
    corpus_mod.save(corpus_mod.Corpus(voiced.manifest, voiced.frames, voiced.meta, voiced.episodes), tmp_path / "copy")
    assert not (tmp_path / "copy" / "audio.parquet").exists()


# --------------------------------------------------------------------------- the network

def _config(**kw):
    return HireNetConfig(features=("a", "b", "c"), n_questions=2, hidden_size=4, attention_size=6, **kw)


def test_the_frame_level_draws_the_same_weights_with_a_voice():
    torch.manual_seed(3)
    face = HireNet(_config())
    torch.manual_seed(3)
    both = HireNet(_config(voice_features=("v1", "v2")))
    assert not any(name.startswith(("voice", "modality")) for name in face.state_dict())
    # the frame level is made first: the same initial weights with or without a voice stream
    frame_level = [n for n in face.state_dict() if n.startswith(("frame_", "question_context"))]
    assert frame_level
    for name in frame_level:
        torch.testing.assert_close(both.state_dict()[name], face.state_dict()[name], msg=name)
    assert both.answer_gru.forward_gru.input_size == 2 * face.answer_gru.forward_gru.input_size


@pytest.mark.parametrize("fusion", ["attention", "concat"])
def test_two_streams_fuse_each_answer(fusion):
    torch.manual_seed(0)
    model = HireNet(_config(voice_features=("v1", "v2"), fusion=fusion)).eval()
    x, lengths = torch.randn(3, 5, 3), torch.tensor([5, 4, 2])
    mask = torch.arange(5)[None] < lengths[:, None]
    vx, v_lengths = torch.randn(3, 7, 2), torch.tensor([7, 6, 1])
    v_mask = torch.arange(7)[None] < v_lengths[:, None]
    v_mask[2] = False  # the third answer has no sound
    questions_ = torch.tensor([0, 1, 0])
    with pytest.raises(ValueError, match="pass voice"):
        model.encode_answers(x, lengths, mask, questions_)
    vectors, weights = model.encode_answers(x, lengths, mask, questions_, (vx, v_lengths, v_mask))
    assert vectors.shape == (3, 16)
    torch.testing.assert_close(weights["frames"].sum(1), torch.ones(3))
    torch.testing.assert_close(weights["voice"].sum(1), torch.tensor([1.0, 1.0, 0.0]))
    assert (weights["voice"][~v_mask] == 0).all()
    beta = weights["modality"]
    torch.testing.assert_close(beta.sum(1), torch.ones(3))
    torch.testing.assert_close(beta[2], torch.tensor([1.0, 0.0]))  # no sound: the face alone
    assert (vectors[2, 8:] == 0).all()  # no sound: the voice's coordinates are 0
    if fusion == "concat":
        torch.testing.assert_close(beta[:2], torch.full((2, 2), 0.5))
    else:  # the weighted concatenation: each stream's coordinates scaled by twice its weight
        plain = HireNet(_config(voice_features=("v1", "v2"), fusion="concat"))
        plain.load_state_dict(model.state_dict(), strict=False)
        concat, _ = plain.eval().encode_answers(x, lengths, mask, questions_, (vx, v_lengths, v_mask))
        torch.testing.assert_close(vectors[:, :8], 2 * beta[:, :1] * concat[:, :8])
        torch.testing.assert_close(vectors[:, 8:], 2 * beta[:, 1:] * concat[:, 8:])
    logits, frame_w, answer_w = model(x, lengths, mask, questions_, torch.tensor([[0, 1], [2, -1]]),
                                      (vx, v_lengths, v_mask))
    assert logits.shape == (2,) and answer_w.shape == (2, 2) and answer_w[1, 1] == 0


def test_the_configuration_refuses_what_it_cannot_build():
    with pytest.raises(ValueError, match="fusion: one of attention, concat"):
        HireNetConfig(fusion="sum")
    with pytest.raises(ValueError, match="voice_pool"):
        HireNetConfig(voice_pool=-1)
    with pytest.raises(ValueError, match="modality: one of face, voice, both"):
        training.TrainConfig(modality="video")


# --------------------------------------------------------------------------- training

def test_a_voice_network_attends_over_the_audio_frames(voiced, trained):
    run = trained["voice"]
    voice = voiced.modality("voice")
    assert run.modality == "voice" and run.voice_attention is None
    assert len(run.attention) == len(voice.frames)
    np.testing.assert_allclose(run.attention.groupby("answer_id")["weight"].sum(), 1.0, atol=1e-5)
    model = run.config["model"]
    # windows as long as the face's: 5 frames at 10 fps = 0.5 s = 10 audio frames at 20 fps
    assert voiced.frame_rate == 10 and voiced.audio_rate == 20
    assert model["pool"] == model["voice_pool"] == 10 and model["features"][0] == "voiced"
    assert trained["face"].config["model"]["pool"] == 5


def test_a_network_on_both_keeps_both_attentions(voiced, trained):
    for name in ("both", "concat"):
        run = runs.load_run(trained[name].path)
        assert run.modality == "both" and run.config["model"]["fusion"] == ("concat" if name == "concat" else
                                                                             "attention")
        assert len(run.attention) == len(voiced.frames) and len(run.voice_attention) == len(voiced.audio)
        np.testing.assert_allclose(run.voice_attention.groupby("answer_id")["weight"].sum(), 1.0, atol=1e-5)
        a = run.answer_attention
        assert list(a.columns) == ["answer_id", "question", "weight", "face", "voice"]
        np.testing.assert_allclose(a["face"] + a["voice"], 1.0, atol=1e-6)
        sums = a.merge(voiced.manifest[["answer_id", "candidate_id"]]).groupby("candidate_id")["weight"].sum()
        np.testing.assert_allclose(sums, 1.0, atol=1e-5)
        model, standardiser = runs.load_model(run.path, 0)
        assert standardiser.voice is not None and standardiser.voice.features == model.config.voice_features
        reps = runs.representations(run, voiced)
        assert len(reps) == voiced.manifest["candidate_id"].nunique()
    np.testing.assert_allclose(trained["concat"].answer_attention[["face", "voice"]], 0.5)


def test_the_ablation_and_the_fused_test(voiced, trained):
    table = modalities.ablation({k: trained[k] for k in ("face", "voice", "both")}, voiced, n_boot=50)
    assert list(table["network"]) == ["face", "voice", "both"]
    assert list(table["modality"]) == ["face", "voice", "both"]
    assert ((table["ci_low"] <= table["auc"]) & (table["auc"] <= table["ci_high"])).all()
    for name, row in table.set_index("network").iterrows():
        p = trained[name].predictions
        assert row["auc"] == pytest.approx(tk.stats.auc(p["label"], p["score"]))
    test = modalities.fused_vs_single(trained["both"], {"face": trained["face"]}, voiced, n_permutations=199,
                                      n_boot=50)
    row = test.iloc[0]
    assert row["difference"] == pytest.approx(row["auc_fused"] - row["auc_single"])
    assert 0 < row["p"] <= 1 and row["ci_low"] <= row["ci_high"]


def test_stream_attention_gives_each_stream_its_corpus(voiced, trained):
    view, attention = modalities.stream_attention(trained["both"], voiced, "voice")
    assert view.meta["modality"] == "voice" and attention is trained["both"].voice_attention
    view, attention = modalities.stream_attention(trained["voice"], voiced, "voice")
    assert attention is trained["voice"]
    with pytest.raises(ValueError, match="the run read face; it has no attention over the voice"):
        modalities.stream_attention(trained["face"], voiced, "voice")
    sliced = stages.slices(view, attention, question=None)
    assert set(sliced.table["answer_id"]) <= set(voiced.audio["answer_id"])


# --------------------------------------------------------------------------- every question

def test_questions_are_parsed():
    assert questions.parse("all") == "all" and questions.parse("3") == 3 and questions.parse(None) is None
    for bad in ("0", "two", "1.5", -1):
        with pytest.raises(ValueError, match="a 1-based question number or 'all'"):
            questions.parse(bad)


def test_answer_attention_per_question(voiced, trained):
    untrained = stages.train.compute(voiced, folds=2, epochs=1, untrained=True, progress=False,
                                     out=trained["face"].path.parent / "untrained")
    table = questions.answer_attention({"trained": trained["face"], "untrained": untrained}, voiced, n_boot=50)
    n_questions = voiced.manifest["question"].nunique()
    assert len(table) == 2 * n_questions and set(table["network"]) == {"trained", "untrained"}
    assert ((table["ci_low"] <= table["weight"]) & (table["weight"] <= table["ci_high"])).all()
    # every candidate answered every question: the weights of a candidate's answers sum to 1
    for _, g in table.groupby("network"):
        assert g["weight"].sum() == pytest.approx(1.0, abs=1e-6)
        assert g["uniform"].to_numpy() == pytest.approx(1 / n_questions)
    stale = runs.Run(trained["face"].path, {}, *(None,) * 4)
    with pytest.raises(ValueError, match="holds no answer_attention.parquet"):
        questions.answer_attention({"old": stale}, voiced)


def test_stack_puts_the_question_first():
    stacked = questions.stack({1: {"t": pd.DataFrame({"a": [1]})}, 2: {"t": pd.DataFrame({"a": [2]}),
                                                                        "u": pd.DataFrame({"b": [3]})}})
    assert list(stacked["t"].columns) == ["question", "a"] and list(stacked["t"]["question"]) == [1, 2]
    assert list(stacked["u"]["question"]) == [2]


@pytest.mark.slow
def test_run_on_every_question_and_both_streams(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    tk.simulate.write(tmp_path / "corpus", preset="tiny", seed=1, voice=True, n_questions=2, progress=False)
    voiced = corpus_mod.load(tmp_path / "corpus")
    result = pipeline.run(voiced, tmp_path / "run", folds=2, epochs=1, question="all", modality="both", repeats=1,
                          redraws=3, progress=False)
    run = tmp_path / "run"
    recorded = json.loads((run / "run.json").read_text())
    assert recorded["question"] == "all" and recorded["modality"] == "both"
    n_questions = voiced.manifest["question"].nunique()
    for stream in ("", "_voice"):
        table = pd.read_csv(run / "results" / f"attention_vs_random{stream}.csv")
        assert table.columns[0] == "question" and sorted(table["question"].unique()) == list(range(1, n_questions + 1))
        assert (run / f"slices{stream}.parquet").exists()
        hir = pd.read_csv(run / "results" / f"hirability_auc{stream}.csv")
        assert sorted(hir["question"].unique()) == list(range(1, n_questions + 1))
    recovery = pd.read_csv(run / "results" / "recovery_voice.csv")
    assert recovery.columns[0] == "question" and "linked vs distractor" in set(recovery["moment"])
    attention = pd.read_csv(run / "results" / "question_attention.csv")
    assert set(attention["network"]) == {"trained", "untrained"}
    # the voice's slices are over the audio frames
    voice_slices = pd.read_parquet(run / "slices_voice.parquet")
    assert voice_slices["answer_id"].nunique() == voiced.manifest["answer_id"].nunique()
    assert not (run / "moments.parquet").exists()  # key moments: single-stream networks only
    assert set(result.tables) >= {"attention_vs_random", "attention_vs_random_voice", "question_attention"}


def test_the_slices_command_cuts_a_voice_run_on_the_audio_frames(voiced, trained, tmp_path):
    from toolkit import cli

    run_dir = trained["voice"].save(tmp_path / "voice-run")
    assert cli.slices([str(run_dir), "--corpus", str(voiced.path), "--quiet"]) == 0
    table = pd.read_parquet(run_dir / "slices.parquet")
    direct = stages.slices(voiced.modality("voice"), trained["voice"]).table
    pd.testing.assert_frame_equal(table.reset_index(drop=True), direct.reset_index(drop=True), check_dtype=False)


def test_the_feedback_view_says_why_a_network_on_both_has_none(trained, tmp_path):
    from toolkit import report

    run_dir = trained["both"].save(tmp_path / "both-run")
    (run_dir / "run.json").write_text(json.dumps({"corpus": None, "modality": "both"}))
    with pytest.raises(ValueError, match="has no key moments yet"):
        report.candidate_figure(run_dir, "c0")


def test_late_fusion_adds_the_logits_of_two_networks(voiced, trained):
    fused = modalities.late_fusion(trained["face"], trained["voice"])
    f, v = trained["face"].predictions, trained["voice"].predictions
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    np.testing.assert_allclose(logit(fused.predictions["score"].to_numpy()),
                               logit(f["score"].to_numpy()) + logit(v["score"].to_numpy()), rtol=1e-6)
    table = modalities.ablation({"late": fused}, voiced, n_boot=20)
    assert table["modality"].tolist() == ["both"]
    other = trained["face"].predictions.assign(fold=lambda p: (p["fold"] + 1) % 2)
    with pytest.raises(ValueError, match="same candidates in the same folds"):
        modalities.late_fusion(modalities.LateFusion(other), trained["voice"])


def test_key_moments_of_a_voice_network_are_over_the_audio_frames(voiced, trained):
    voice = voiced.modality("voice")
    table = stages.moments.compute(voice, trained["voice"], progress=False)
    assert len(table) and set(table["answer_id"]) <= set(voiced.audio["answer_id"])
    assert np.isfinite(table[["impact_occlusion", "impact_ig"]].to_numpy()).all()
    assert any(c.startswith("Loudness_sma3") for c in table.columns)  # slice features of the voice
    truth = tk.moments.planted_truth(table, corpus_mod.planted(voice))
    assert set(truth["planted"]) <= {"none", "hesitation", "lively", "distractor"}
