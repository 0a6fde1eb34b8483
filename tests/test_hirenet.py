"""Tests of HireNet (toolkit.model, toolkit.training, toolkit.runs): masking, packed-equivalence, training, folds,
cache, bad input."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from toolkit import cache, model, runs, stats, training
from toolkit.corpus import Corpus, save
from toolkit.model import HireNet, HireNetConfig
from toolkit.training import TrainConfig

torch.set_num_threads(1)

FEATURES = ("AU01", "AU12", "AU45")


def _make_corpus(n_positions=6, per_position=8, n_answers=2, seed=0, planted=True) -> Corpus:
    """A tiny corpus: invited candidates show a short burst of AU12 at a random time in answer 1."""
    rng = np.random.default_rng(seed)
    rows, frames, episodes = [], [], []
    for p in range(n_positions):
        for j in range(per_position):
            cand = f"c{p:02d}{j:02d}"
            label = int(j % 2 == 0)
            for q in range(1, n_answers + 1):
                answer = f"{cand}-q{q}"
                rows.append({"answer_id": answer, "candidate_id": cand, "position_id": f"p{p:02d}",
                             "question": q, "label": label})
                n = int(rng.integers(30, 60))
                X = rng.normal(0.0, 1.0, (n, len(FEATURES))).astype(np.float32)
                if planted and label == 1 and q == 1:
                    start = int(rng.integers(0, n - 5))
                    X[start:start + 5, 1] += 4.0
                    episodes.append({"answer_id": answer, "kind": "positive", "start_s": start / 10,
                                     "end_s": (start + 5) / 10})
                table = pd.DataFrame(X, columns=list(FEATURES))
                table.insert(0, "success", True)
                table.insert(0, "time_s", np.arange(n) / 10.0)
                table.insert(0, "answer_id", answer)
                frames.append(table)
    episodes = pd.DataFrame(episodes, columns=["answer_id", "kind", "start_s", "end_s"])
    return Corpus(pd.DataFrame(rows), pd.concat(frames, ignore_index=True), {"frame_rate": 10.0}, episodes)


FAST = dict(folds=3, epochs=10, patience=10, lr=1e-2, batch_size=8, num_threads=1)
SMALL = HireNetConfig(hidden_size=8, attention_size=8, dropout=0.0, pool=1)
QUICK = dict(FAST, epochs=2, folds=2)


@pytest.fixture(scope="module")
def corpus():
    return _make_corpus()


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    return runs.train(corpus, tmp_path_factory.mktemp("run"), TrainConfig(**FAST), SMALL, progress=False)


def _model(pool=1, n_questions=2):
    torch.manual_seed(0)
    return HireNet(HireNetConfig(hidden_size=6, attention_size=5, dropout=0.0, pool=pool,
                                 n_questions=n_questions, features=FEATURES)).eval()


def _batch():
    """Two candidates: the first with answers of 7 and 4 steps, the second with one of 5 steps."""
    torch.manual_seed(1)
    lengths = torch.tensor([7, 4, 5])
    x = torch.randn(3, 7, 3)
    mask = torch.arange(7)[None, :] < lengths[:, None]
    mask[0, 2] = False  # a frame without a measured face
    questions = torch.tensor([0, 1, 0])
    answer_index = torch.tensor([[0, 1], [2, -1]])
    return x, lengths, mask, questions, answer_index


# --------------------------------------------------------------------------- the network

def test_bigru_equals_packed_bidirectional_gru():
    torch.manual_seed(0)
    ours = model._BiGRU(3, 4)
    ref = nn.GRU(3, 4, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(ref, name).copy_(getattr(ours.forward_gru, name))
            getattr(ref, name + "_reverse").copy_(getattr(ours.backward_gru, name))
    x = torch.randn(3, 6, 3)
    lengths = torch.tensor([6, 2, 4])
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = pad_packed_sequence(ref(packed)[0], batch_first=True)
    got = ours(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(got[i, :n], expected[i, :n])


def test_one_pass_bigru_equals_two_grus_in_outputs_and_gradients():
    torch.manual_seed(1)
    ours = model._BiGRU(3, 4)
    x = torch.randn(5, 7, 3)
    x_reversed = x.flip(1)
    forward, reversed_ = ours._one_pass(x, x_reversed)
    (forward.square().sum() + reversed_.sum()).backward()
    one_pass = {n: p.grad.clone() for n, p in ours.named_parameters()}
    ours.zero_grad()
    expected_forward, _ = ours.forward_gru(x)
    expected_reversed, _ = ours.backward_gru(x_reversed)
    torch.testing.assert_close(forward, expected_forward)
    torch.testing.assert_close(reversed_, expected_reversed)
    (expected_forward.square().sum() + expected_reversed.sum()).backward()
    for name, p in ours.named_parameters():
        torch.testing.assert_close(one_pass[name], p.grad, msg=name)
    # the saved state is that of two GRUs, and making the module draws only their initial weights
    assert sorted(ours.state_dict()) == sorted(f"{d}_gru.{w}_l0" for d in ("forward", "backward")
                                               for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    torch.manual_seed(2)
    model._BiGRU(3, 4)
    after = torch.rand(1)
    torch.manual_seed(2)
    nn.GRU(3, 4), nn.GRU(3, 4)
    assert torch.equal(after, torch.rand(1))


def test_shapes_and_masking():
    model = _model()
    x, lengths, mask, questions, answer_index = _batch()
    logits, frame_w, answer_w = model(x, lengths, mask, questions, answer_index)
    assert logits.shape == (2,)
    assert frame_w.shape == (3, 7)
    assert answer_w.shape == (2, 2)
    # padding and unmeasured frames get exactly zero; real frames sum to one
    assert torch.all(frame_w[~mask] == 0)
    torch.testing.assert_close(frame_w.sum(1), torch.ones(3))
    assert torch.all(frame_w[mask] > 0)
    # the padded answer of the second candidate gets exactly zero
    assert answer_w[1, 1] == 0
    torch.testing.assert_close(answer_w.sum(1), torch.ones(2))


def test_padded_values_do_not_change_the_output():
    model = _model()
    x, lengths, mask, questions, answer_index = _batch()
    out = model(x, lengths, mask, questions, answer_index)
    x2 = x.clone()
    for i, n in enumerate(lengths.tolist()):
        x2[i, n:] = 1000.0 * torch.randn(7 - n, 3)
    out2 = model(x2, lengths, mask, questions, answer_index)
    for a, b in zip(out, out2):
        torch.testing.assert_close(a, b)
    # whereas a real frame does change it (the test can fail)
    x3 = x.clone()
    x3[1, 0] += 5.0
    assert not torch.allclose(model(x3, lengths, mask, questions, answer_index)[0], out[0])


def test_all_masked_answer_gets_zero_weights_not_nan():
    weights = model._masked_softmax(torch.randn(2, 4), torch.tensor([[False] * 4, [True, True, False, False]]))
    assert torch.all(weights[0] == 0)
    torch.testing.assert_close(weights[1].sum(), torch.tensor(1.0))
    assert torch.all(weights[1, 2:] == 0)


def test_config_validation():
    with pytest.raises(ValueError, match="pool: must be a positive integer"):
        HireNetConfig(pool=0)
    with pytest.raises(ValueError, match="dropout"):
        HireNetConfig(dropout=1.0)
    with pytest.raises(ValueError, match="need at least 2 folds"):
        TrainConfig(folds=1)
    with pytest.raises(ValueError, match="n_questions and config.features must be set"):
        HireNet(HireNetConfig())


# --------------------------------------------------------------------------- training

def test_learns_a_planted_moment(run, corpus):
    auc = run.metrics.set_index(["model", "metric"]).loc[("hirenet", "auc"), "value"]
    assert auc > 0.8, run.metrics
    per_fold = [stats.auc_or_nan(g["label"], g["score"]) for _, g in run.predictions.groupby("fold")]
    assert min(per_fold) > 0.7, per_fold
    # the attention of invited candidates' first answers sits on the planted bursts
    inside = []
    for ep in corpus.episodes.itertuples():
        a = run.attention[run.attention["answer_id"] == ep.answer_id]
        on = (a["time_s"] >= ep.start_s - 1e-9) & (a["time_s"] < ep.end_s - 1e-9)
        inside.append(a.loc[on, "weight"].sum() / (on.mean()))
    assert np.median(inside) > 1.3, inside  # above the uniform share (1)
    assert set(run.metrics["model"]) == {"hirenet", "majority", "logistic_regression"}
    assert list(run.metrics.columns) == ["model", "metric", "value", "ci_low", "ci_high"]


def test_run_folder_contract(run, corpus):
    path = run.path
    for name in ("config.json", "predictions.parquet", "attention.parquet", "history.csv",
                 "results/training.csv", "excluded.csv", "checkpoints/fold0.pt", "checkpoints/fold2.json"):
        assert (path / name).exists(), name
    # nothing was left out, and the run does not record where its corpus lay
    assert run.excluded.empty and list(run.excluded.columns) == ["candidate_id", "answer_id", "reason"]
    assert pd.read_csv(path / "excluded.csv").empty
    assert "corpus_path" not in run.config
    assert run.config["corpus_fingerprint"] == cache.corpus_fingerprint(corpus)
    assert list(run.predictions.columns) == ["candidate_id", "fold", "label", "score"]
    assert list(run.attention.columns) == ["answer_id", "time_s", "weight"]
    # attention for every frame of every answer, summing to one per answer
    assert len(run.attention) == len(corpus.frames)
    sums = run.attention.groupby("answer_id")["weight"].sum()
    assert len(sums) == len(corpus.manifest)
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-5)
    assert {"fold", "epoch", "train_loss", "val_auc"} <= set(run.history.columns)
    loaded = runs.load_run(path)
    pd.testing.assert_frame_equal(loaded.predictions, run.predictions)


def test_folds_are_grouped_by_position(run, corpus):
    positions = corpus.candidates.set_index("candidate_id")["position_id"]
    folds = run.predictions.set_index("candidate_id")["fold"]
    per_position = folds.groupby(positions.reindex(folds.index).to_numpy()).nunique()
    assert (per_position == 1).all()
    assert folds.nunique() == 3
    # each checkpoint's test candidates are exactly that fold's candidates
    for k in range(3):
        meta = json.loads((run.path / "checkpoints" / f"fold{k}.json").read_text())
        assert set(meta["test_candidates"]) == set(folds.index[folds == k])


def test_inner_validation_is_grouped_by_position(corpus):
    data = training._prepare(corpus, FEATURES, 1)
    train_c, val_c = training._inner_split(data, np.arange(len(data.labels)), TrainConfig(), 0)
    assert len(val_c) > 0
    assert not set(data.positions[train_c]) & set(data.positions[val_c])


def test_checkpoint_round_trip_and_out_of_fold_attention(run, corpus):
    folds = run.predictions.set_index("candidate_id")["fold"]
    model, standardiser = runs.load_model(run.path, 1)
    assert not model.training
    state = torch.load(run.path / "checkpoints" / "fold1.pt", weights_only=True)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, state[name])
    np.testing.assert_allclose(model.feature_mean.numpy(), standardiser.mean)
    # the stored attention of a fold-1 candidate is the fold-1 model's
    cand = folds.index[folds == 1][0]
    answers = corpus.manifest.loc[corpus.manifest["candidate_id"] == cand, "answer_id"].tolist()
    again = training.attention_weights(model, corpus, answers)
    stored = run.attention[run.attention["answer_id"].isin(answers)].reset_index(drop=True)
    np.testing.assert_allclose(again["weight"].to_numpy(), stored["weight"].to_numpy(), atol=1e-6)
    # ... and not another fold's model
    other, _ = runs.load_model(run.path, 0)
    assert not np.allclose(training.attention_weights(other, corpus, answers)["weight"], stored["weight"], atol=1e-6)


def test_same_seed_same_run(tmp_path):
    corpus = _make_corpus(n_positions=4, per_position=4)
    first = runs.train(corpus, tmp_path / "first", TrainConfig(**QUICK), SMALL, progress=False)
    again = runs.train(corpus, tmp_path / "again", TrainConfig(**QUICK), SMALL, progress=False)
    assert again.path == tmp_path / "again" and (again.path / "checkpoints" / "fold0.pt").exists()
    pd.testing.assert_frame_equal(again.predictions, first.predictions)
    pd.testing.assert_frame_equal(again.attention, first.attention)
    other = runs.train(corpus, tmp_path / "other", TrainConfig(**{**QUICK, "seed": 1}), SMALL, progress=False)
    assert not np.allclose(other.predictions["score"], first.predictions["score"])


def test_hirenet_train_always_trains(run, corpus, tmp_path):
    # runs.train has no cache of its own: into a folder holding the same run, it trains again
    folder = run.save(tmp_path / "copy")
    mtime = (folder / "checkpoints" / "fold0.pt").stat().st_mtime_ns
    again = runs.train(corpus, folder, TrainConfig(**FAST), SMALL, progress=False)
    assert (folder / "checkpoints" / "fold0.pt").stat().st_mtime_ns != mtime
    assert len(again.history) > 0
    pd.testing.assert_frame_equal(again.predictions, run.predictions)  # the same seed: the same run


def test_run_save_and_load(run, tmp_path):
    folder = run.save(tmp_path / "saved")
    for name in (*runs.Run.FILES, "checkpoints/fold0.pt", "checkpoints/fold2.json"):
        if name == "voice_attention.parquet":  # a face network has no attention over the voice
            assert not (run.path / name).exists() and not (folder / name).exists()
            continue
        assert (folder / name).read_bytes() == (run.path / name).read_bytes(), name
    loaded = runs.Run.load(folder)
    assert loaded.path == folder and loaded.config == run.config
    assert loaded.voice_attention is None and loaded.modality == "face"
    for name in ("predictions", "attention", "history", "metrics", "answer_attention"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(run, name), check_dtype=False)
    assert loaded.excluded.empty
    # a run read from a folder without a stage key is fingerprinted by its outputs
    assert loaded.fingerprint == runs.load_run(run.path).fingerprint
    assert len(loaded.fingerprint) == 16
    # saving a run into its own folder changes nothing
    assert run.save(run.path) == run.path
    model, _ = runs.load_model(folder, 2)
    assert not model.training


def test_train_stage_loads_instead_of_training(run, corpus, tmp_path, monkeypatch):
    from toolkit import stages

    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    calls = []
    real = runs.train
    monkeypatch.setattr(runs, "train", lambda *a, **k: calls.append(k["config"]) or real(*a, **k))
    options = dict(folds=3, epochs=10, model=SMALL, options=dict(patience=10, lr=1e-2, batch_size=8))
    first = stages.train(corpus, progress=False, **options)
    assert len(calls) == 1 and calls[0] == TrainConfig(**FAST)  # the stage passes every option on
    assert first.path == stages.train.folder(corpus, **options)
    assert first.fingerprint == stages.train.key(corpus, **options)
    # the same options as runs.train with the same configurations: the same run
    pd.testing.assert_frame_equal(first.predictions, run.predictions)
    pd.testing.assert_frame_equal(first.attention, run.attention)
    mtime = (first.path / "checkpoints" / "fold0.pt").stat().st_mtime_ns
    # the same call loads (threads and progress are not part of the key)
    cached = stages.train(corpus, threads=4, progress=True, **options)
    assert len(calls) == 1
    assert cached.path == first.path and cached.fingerprint == first.fingerprint
    assert (cached.path / "checkpoints" / "fold0.pt").stat().st_mtime_ns == mtime
    pd.testing.assert_frame_equal(cached.predictions, first.predictions)
    # another number of epochs: another key, trained
    other = stages.train(corpus, progress=False, **{**options, "epochs": 1})
    assert len(calls) == 2 and other.path != first.path


def test_untrained_control_keeps_initial_weights(corpus, tmp_path):
    cfg = TrainConfig(**{**QUICK, "untrained": True})
    run = runs.train(corpus, tmp_path / "untrained", cfg, SMALL, progress=False)
    assert run.history.empty
    torch.manual_seed(0 * 1000 + 1)
    fresh = HireNet(HireNetConfig(**{**SMALL.to_dict(), "features": FEATURES, "n_questions": 2}))
    loaded, _ = runs.load_model(run.path, 1)
    for name, tensor in fresh.state_dict().items():
        if not name.startswith("feature_"):
            torch.testing.assert_close(loaded.state_dict()[name], tensor)


def test_pooling_spreads_window_attention_onto_measured_frames(corpus):
    model = HireNet(HireNetConfig(hidden_size=4, attention_size=4, pool=4, n_questions=2, features=FEATURES))
    answer = corpus.manifest["answer_id"][0]
    frames = corpus.frames.copy()
    rows = np.flatnonzero(frames["answer_id"] == answer)
    frames.loc[rows[[1, 2, 9]], "success"] = False
    frames.loc[rows[[1, 2, 9]], "AU01"] = np.nan
    broken = Corpus(corpus.manifest, frames, corpus.meta)
    w = training.attention_weights(model, broken, [answer])
    assert len(w) == len(rows)
    assert np.all(w["weight"].to_numpy()[[1, 2, 9]] == 0)
    np.testing.assert_allclose(w["weight"].sum(), 1.0, atol=1e-6)
    # frames of one window share its weight equally
    assert w["weight"].iloc[4] == w["weight"].iloc[5] == w["weight"].iloc[6] == w["weight"].iloc[7]


# --------------------------------------------------------------------------- bad input

def test_refuses_a_single_label(tmp_path):
    corpus = _make_corpus(n_positions=4, per_position=2)
    corpus.manifest["label"] = 0
    with pytest.raises(ValueError, match="every candidate has label 0; training needs both"):
        runs.train(corpus, tmp_path, TrainConfig(**FAST), SMALL, progress=False)


def test_refuses_fewer_positions_than_folds(tmp_path):
    corpus = _make_corpus(n_positions=2, per_position=2)
    with pytest.raises(ValueError, match="2 position\\(s\\) for 3 folds"):
        runs.train(corpus, tmp_path, TrainConfig(**FAST), SMALL, progress=False)


def test_refuses_a_candidate_without_any_measured_frame(tmp_path):
    corpus = _make_corpus(n_positions=4, per_position=2)
    frames = corpus.frames.copy()
    frames.loc[frames["answer_id"].str.startswith("c0101"), "success"] = False
    with pytest.raises(ValueError, match="candidate\\(s\\) c0101 have no frame with success true"):
        runs.train(Corpus(corpus.manifest, frames, corpus.meta), tmp_path, TrainConfig(**FAST), SMALL,
                      progress=False)


def test_handles_empty_short_failed_and_missing_answers(tmp_path):
    corpus = _make_corpus(n_positions=4, per_position=4)
    frames = corpus.frames
    # c0000-q1: no frames at all; c0001-q2: a single frame; c0002-q2: every frame failed;
    # c0003 answered only one question
    frames = frames[frames["answer_id"] != "c0000-q1"]
    one = frames.index[frames["answer_id"] == "c0001-q2"]
    frames = frames.drop(one[1:])
    frames = frames.copy()
    frames.loc[frames["answer_id"] == "c0002-q2", "success"] = False
    manifest = corpus.manifest[corpus.manifest["answer_id"] != "c0003-q2"].reset_index(drop=True)
    frames = frames[frames["answer_id"] != "c0003-q2"].reset_index(drop=True)
    broken = Corpus(manifest, frames, corpus.meta)
    run = runs.train(broken, tmp_path, TrainConfig(**QUICK), SMALL, progress=False)
    att = run.attention
    assert "c0000-q1" not in set(att["answer_id"])                       # no frames, no rows
    assert att.loc[att["answer_id"] == "c0001-q2", "weight"].tolist() == [1.0]
    assert (att.loc[att["answer_id"] == "c0002-q2", "weight"] == 0).all()  # all failed: zeros
    assert np.isfinite(run.predictions["score"]).all()
    assert len(run.predictions) == broken.manifest["candidate_id"].nunique()


def test_cli_trains_a_corpus_folder(tmp_path, capsys, monkeypatch):
    from toolkit import cli
    from toolkit.__main__ import main

    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    corpus = _make_corpus(n_positions=4, per_position=3)
    save(corpus, tmp_path / "corpus")
    code = main(["train", str(tmp_path / "corpus"), str(tmp_path / "run"), "--folds", "2", "--epochs", "1",
                 "--device", "cpu", "--threads", "1", "--quiet"])
    assert code == 0
    captured = capsys.readouterr()
    assert f"run written to {tmp_path / 'run'}" in captured.out and "hirenet" in captured.out
    assert captured.err == ""
    run = runs.load_run(tmp_path / "run")
    assert run.config["train"]["folds"] == 2 and run.config["train"]["epochs"] == 1
    assert run.config["train"]["device"] == "cpu"
    assert run.predictions["candidate_id"].nunique() == 12 and run.excluded.empty
    # run.json records the options and the corpus relative to the run folder
    recorded = json.loads((tmp_path / "run" / "run.json").read_text())
    assert recorded == {"corpus": "../corpus", "folds": 2, "seed": 0, "epochs": 1, "attribute": None,
                        "adversary": 0.0, "adversary_kind": None, "modality": "face", "fusion": "attention"}
    # the default five folds need five positions
    with pytest.raises(ValueError, match="4 position\\(s\\) for 5 folds"):
        cli.train([str(tmp_path / "corpus"), str(tmp_path / "run2"), "--device", "cpu", "--quiet"])
    assert main(["train", str(tmp_path / "corpus"), str(tmp_path / "run2"), "--device", "cpu", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "4 position(s) for 5 folds" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run2" / "attention.parquet").exists()


@pytest.mark.slow
def test_folds_trained_in_worker_processes_give_the_same_run(corpus):
    """workers > 1 trains folds side by side in fresh processes: every number is the same as in one process."""
    config = TrainConfig(**QUICK)
    noisy = HireNetConfig(hidden_size=8, attention_size=8, dropout=0.2, pool=2)  # dropout draws random numbers
    one = training.fit(corpus, config, noisy, progress=False, workers=1)
    two = training.fit(corpus, config, noisy, progress=False, workers=2)
    pd.testing.assert_frame_equal(one.predictions, two.predictions)
    pd.testing.assert_frame_equal(one.attention, two.attention)
    pd.testing.assert_frame_equal(one.history.drop(columns="seconds"), two.history.drop(columns="seconds"))
    for a, b in zip(one.folds, two.folds):
        assert a["best_epoch"] == b["best_epoch"] and a["test_candidates"] == b["test_candidates"]
        for name, tensor in a["state_dict"].items():
            assert torch.equal(tensor, b["state_dict"][name]), name
    # the worker processes are kept for the next training (a null study trains dozens of times)
    pool = training._POOL[2]
    again = training.fit(corpus, config, noisy, progress=False, workers=2)
    assert training._POOL[2] is pool
    pd.testing.assert_frame_equal(again.attention, one.attention)
    with pytest.raises(ValueError, match="workers: a positive number"):
        training.fit(corpus, config, SMALL, progress=False, workers=0)
