"""Slices with a known answer, shared by the tests of salience, classify, importances, recovery and analyze.

Not a test module (no ``test_`` prefix): the tests import it by name, pytest puts ``tests/`` on the path.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit import corpus as corpus_mod

FPS = 10


def times(duration: float) -> np.ndarray:
    return np.round(np.arange(int(round(duration * FPS)) + 1) / FPS, 6)


def burst_corpus(n_candidates=40, duration=20.0, seed=0):
    """Answers to question 1 with one AU45 burst each (eyes closed for 1 s) at a known time."""
    rng = np.random.default_rng(seed)
    rows, frames, bursts = [], [], {}
    for c in range(n_candidates):
        aid = f"c{c:02d}-q1"
        rows.append((aid, f"c{c:02d}", f"p{c % 4}", 1, c % 2))
        t = times(duration)
        f = pd.DataFrame({"answer_id": aid, "time_s": t, "success": True})
        for au in ("AU12", "AU20", "AU45"):
            f[au] = rng.normal(1.0, 0.1, len(t))
        start = float(rng.uniform(2, duration - 3))
        inside = (t >= start) & (t <= start + 1.0)
        f.loc[inside, "AU45"] += 2.0
        bursts[aid] = (start, start + 1.0)
        frames.append(f)
    manifest = pd.DataFrame(rows, columns=["answer_id", "candidate_id", "position_id", "question", "label"])
    return corpus_mod.Corpus(manifest, pd.concat(frames, ignore_index=True), {"frame_rate": FPS}), bursts


def attention_at(corpus, centres: dict) -> pd.DataFrame:
    """An attention-like table peaking at ``centres`` (one time per answer)."""
    parts = []
    for aid, t, _, _ in corpus.iter_answers():
        w = 1.0 + 3.0 * np.clip(1 - np.abs(t - centres[aid]) / 0.8, 0, None)
        parts.append(pd.DataFrame({"answer_id": aid, "time_s": t, "weight": w}))
    return pd.concat(parts, ignore_index=True)


def synthetic_features(n_candidates=40, shift=2.0, seed=0):
    """Slice features of one attention and four random slices per candidate; attention shifts ``AU45_delta``."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_candidates):
        for k in range(5):
            kind = "attention" if k == 0 else "random"
            x = rng.normal(0, 1, 6)
            if kind == "attention":
                x[0] += shift
            rows.append((f"c{c}-q1:{k}", f"c{c}-q1", f"c{c}", kind, 10, *x))
    cols = ["AU45_delta", "AU20_delta", "AU45_std", "AU20_std", "AU45_active", "AU20_active"]
    return pd.DataFrame(rows, columns=["slice_id", "answer_id", "candidate_id", "kind", "n_frames", *cols])
