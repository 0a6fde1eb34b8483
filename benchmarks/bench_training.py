"""Benchmark: HireNet epoch time at the paper's scale, against a plain PyTorch reference.

The paper-scale shape (7095 candidates, 5 answers x 300 frames x 20 features) is generated as
random tensors directly (the values do not change the cost): ``--distinct`` candidates are drawn
and reused by reference to fill the 7095, so memory stays small. Both models see the same shapes.

* ours: ``toolkit.model.HireNet`` trained by ``toolkit.training`` at the given sizes (hidden 64 by default, as the reference), its own
  training epoch (length-bucketed batches, the padding-free bidirectional GRU, Adam, clipping);
* reference: the same hierarchical network written plainly: ``nn.GRU(bidirectional=True)`` on
  padded answers, batch 64 candidates.

Usage::

    python benchmarks/bench_training.py                      # CPU, 2 threads, both models
    python benchmarks/bench_training.py --device cuda        # on a GPU
    python benchmarks/bench_training.py --max-batches 20     # time 20 batches, extrapolate
    python benchmarks/bench_training.py --book               # also: the book run's training time

Results go to ``benchmarks/results/training.json`` and ``.md`` (command, machine, date, load).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from toolkit import model as hirenet_model, training

RESULTS = Path(__file__).resolve().parent / "results"


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _paper_data(n_candidates, n_answers, n_frames, n_features, distinct, seed=0) -> training._Data:
    """A prepared dataset of the paper's shape from random tensors (shared by reference)."""
    rng = np.random.default_rng(seed)
    base = [rng.normal(size=(n_frames, n_features)).astype(np.float32) for _ in range(distinct * n_answers)]
    ones = np.ones(n_frames, np.int64)
    n_all = n_candidates * n_answers
    windows = [base[i % len(base)] for i in range(n_all)]
    features = tuple(f"f{i:02d}" for i in range(n_features))
    answers_of = [np.arange(c * n_answers, (c + 1) * n_answers) for c in range(n_candidates)]
    return training._Data(
        features=features, pool=1, answer_ids=[str(i) for i in range(n_all)], times=[], success=[],
        windows=windows, counts=[ones] * n_all, sums=np.zeros((1, n_features)), sumsq=np.zeros((1, n_features)),
        n_success=np.full(n_all, n_frames), question=np.tile(np.arange(n_answers), n_candidates),
        candidate_ids=np.arange(n_candidates).astype(object), positions=np.arange(n_candidates) // 15,
        labels=rng.integers(0, 2, n_candidates), answers_of=answers_of, all_answers_of=answers_of,
        n_questions=n_answers,
    )


def time_ours(data, hidden, batch_size, device, max_batches, seed=0) -> dict:
    """Seconds per epoch of toolkit.training's training loop (extrapolated from ``max_batches``)."""
    n_features = len(data.features)
    config = hirenet_model.HireNetConfig(hidden_size=hidden, attention_size=hidden, dropout=0.2, pool=1,
                                   n_questions=data.n_questions, features=data.features)
    torch.manual_seed(seed)
    model = hirenet_model.HireNet(config).to(device)
    standardiser = hirenet_model.Standardiser(data.features, np.zeros(n_features), np.ones(n_features))
    train_config = training.TrainConfig(batch_size=batch_size, device=str(device))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    candidates = np.arange(len(data.labels))
    n_batches = -(-len(candidates) // batch_size)
    use = candidates if not max_batches else candidates[: max_batches * batch_size]
    # warm-up on two batches (allocator, cuDNN plans), not timed
    training._train_epoch(model, data, candidates[: 2 * batch_size], standardiser, optimizer, loss_fn,
                         train_config, np.random.default_rng(1), device)
    _sync(device)
    tic = time.perf_counter()
    training._train_epoch(model, data, use, standardiser, optimizer, loss_fn, train_config,
                         np.random.default_rng(seed), device)
    _sync(device)
    seconds = time.perf_counter() - tic
    timed = -(-len(use) // batch_size)
    return {"seconds_per_epoch": seconds * n_batches / timed, "batches_timed": timed, "batches_per_epoch": n_batches,
            "batch_size": batch_size, "hidden_size": hidden, "parameters": sum(p.numel() for p in model.parameters())}


class _Reference(nn.Module):
    """The same hierarchical attention network, written plainly (padded bidirectional GRUs)."""

    def __init__(self, n_features, hidden, n_questions):
        super().__init__()
        self.frame_gru = nn.GRU(n_features, hidden, batch_first=True, bidirectional=True)
        self.frame_project = nn.Linear(2 * hidden, hidden)
        self.question_context = nn.Embedding(n_questions, hidden)
        self.answer_gru = nn.GRU(2 * hidden, hidden, batch_first=True, bidirectional=True)
        self.answer_project = nn.Linear(2 * hidden, hidden)
        self.answer_context = nn.Parameter(torch.randn(hidden))
        self.output = nn.Linear(2 * hidden, 1)

    def forward(self, x, questions):  # x: (candidates, answers, frames, features)
        b, a, t, f = x.shape
        h, _ = self.frame_gru(x.reshape(b * a, t, f))
        u = torch.tanh(self.frame_project(h))
        w = torch.softmax((u * self.question_context(questions.reshape(-1))[:, None, :]).sum(-1), dim=1)
        s = (w[..., None] * h).sum(1).reshape(b, a, -1)
        g, _ = self.answer_gru(s)
        w2 = torch.softmax((torch.tanh(self.answer_project(g)) * self.answer_context).sum(-1), dim=1)
        return self.output((w2[..., None] * g).sum(1)).squeeze(-1)


def time_reference(n_candidates, n_answers, n_frames, n_features, hidden, batch_size, device, max_batches,
                   seed=0) -> dict:
    """Seconds per epoch of the plain reference (extrapolated from ``max_batches``)."""
    torch.manual_seed(seed)
    model = _Reference(n_features, hidden, n_answers).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    pool = [torch.randn(batch_size, n_answers, n_frames, n_features, device=device) for _ in range(4)]
    questions = torch.arange(n_answers, device=device).repeat(batch_size, 1)
    labels = torch.randint(0, 2, (batch_size,), device=device).float()
    n_batches = -(-n_candidates // batch_size)
    timed = min(max_batches or n_batches, n_batches)

    def step(x):
        loss = loss_fn(model(x, questions), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for x in pool[:2]:
        step(x)
    _sync(device)
    tic = time.perf_counter()
    for i in range(timed):
        step(pool[i % len(pool)])
    _sync(device)
    seconds = time.perf_counter() - tic
    return {"seconds_per_epoch": seconds * n_batches / timed, "batches_timed": timed, "batches_per_epoch": n_batches,
            "batch_size": batch_size, "hidden_size": hidden}


def time_book_run(threads: int) -> dict:
    """Total training time of the default book run (all folds) on the embedded corpus."""
    import toolkit as tk

    corpus = tk.stages.simulate("book", seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        run = tk.runs.train(corpus, Path(tmp) / "book", tk.training.TrainConfig(num_threads=threads),
                               progress=False)
        seconds = time.perf_counter() - tic
    auc = run.metrics.set_index(["model", "metric"]).loc[("hirenet", "auc"), "value"]
    return {"seconds_total": seconds, "training_seconds": run.config["training_seconds"],
            "epochs_run": int(len(run.history)), "auc": float(auc), "corpus": repr(corpus), "threads": threads}


def _machine(device) -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count()}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                           if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--candidates", type=int, default=7095)
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=64, help="GRU size per direction (both models)")
    parser.add_argument("--batch-size", type=int, default=None, help="ours, candidates (default 256 cpu, 1024 cuda)")
    parser.add_argument("--ref-batch-size", type=int, default=64, help="reference, candidates (default 64)")
    parser.add_argument("--distinct", type=int, default=512, help="distinct random candidates (memory)")
    parser.add_argument("--max-batches", type=int, default=0, help="time this many batches, extrapolate (0: all)")
    parser.add_argument("--pool", type=int, default=1,
                        help="ours only: frames per pooled window (the data get frames // pool steps)")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--book", action="store_true", help="also time the default book run (all folds)")
    parser.add_argument("--out", default=str(RESULTS / "training.json"))
    args = parser.parse_args(argv)

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    torch.set_num_threads(args.threads)
    batch_size = args.batch_size or (1024 if device.type == "cuda" else 256)
    load_before = os.getloadavg()
    result = {
        "command": "python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(device), "device": str(device), "threads": args.threads,
        "shape": {"candidates": args.candidates, "answers": args.answers, "frames": args.frames,
                  "features": args.features},
        "data": "random tensors of the paper-scale shape (not the simulator's paper preset)",
        "targets_s": {"cpu_2_cores": 45.0, "gpu": 0.5},
        "reference_quoted_s": {"cpu_2_cores": 79.0, "gpu": 1.25},
    }
    data = _paper_data(args.candidates, args.answers, args.frames // args.pool, args.features, args.distinct)
    result["pool"] = args.pool
    result["ours"] = time_ours(data, args.hidden, batch_size, device, args.max_batches)
    print(f"ours: {result['ours']['seconds_per_epoch']:.2f} s per epoch ({device}, batch {batch_size})", flush=True)
    if not args.skip_reference:
        result["reference"] = time_reference(args.candidates, args.answers, args.frames, args.features, args.hidden,
                                             args.ref_batch_size, device, args.max_batches)
        print(f"reference: {result['reference']['seconds_per_epoch']:.2f} s per epoch", flush=True)
        result["speedup"] = result["reference"]["seconds_per_epoch"] / result["ours"]["seconds_per_epoch"]
    if args.book:
        result["book_run"] = time_book_run(threads=1 if device.type == "cpu" else 0)
        print(f"book run: {result['book_run']['seconds_total']:.1f} s", flush=True)
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(_markdown(result))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


def _markdown(r: dict) -> str:
    lines = [
        "# Training benchmark", "",
        f"- command: `{r['command']}`", f"- date: {r['date']}",
        f"- machine: {r['machine'].get('cpu')} ({r['machine']['cpu_count']} cores visible), "
        f"{r['machine'].get('gpu', 'no GPU')}; torch {r['machine']['torch']}; device {r['device']}, "
        f"{r['threads']} threads",
        f"- load average before / after: {r['load_average']['before']} / {r['load_average']['after']} "
        f"(other jobs shared the machine when it is above the thread count)",
        f"- data: {r['data']}: {r['shape']}; ours with frame pooling {r.get('pool', 1)} "
        f"({r['shape']['frames'] // r.get('pool', 1)} steps per answer)", "",
        "| model | batch (candidates) | hidden | batches timed | s per epoch |", "|---|---|---|---|---|",
    ]
    for name in ("ours", "reference"):
        if name in r:
            m = r[name]
            lines.append(f"| {name} | {m['batch_size']} | {m['hidden_size']} | {m['batches_timed']} / "
                         f"{m['batches_per_epoch']} | {m['seconds_per_epoch']:.2f} |")
    if "speedup" in r:
        lines += ["", f"Speed-up over the reference: {r['speedup']:.2f}x. Targets: 45 s per epoch on 2 CPU cores, "
                      f"0.5 s on one H100/H200."]
    if "book_run" in r:
        b = r["book_run"]
        lines += ["", f"Default book run (all folds, {b['threads']} thread): {b['seconds_total']:.1f} s, "
                      f"{b['epochs_run']} epochs in all, out-of-fold AUC {b['auc']:.3f} ({b['corpus']})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
