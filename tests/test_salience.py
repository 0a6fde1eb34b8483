"""The label-free salience score (toolkit.salience)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from slice_cases import times

from toolkit import corpus as corpus_mod
from toolkit import salience, slices


def test_salience_peaks_at_a_planted_burst(burst):
    corpus, bursts = burst
    sal = salience.salience(corpus)
    assert list(sal.columns) == ["answer_id", "time_s", "weight"]
    np.testing.assert_allclose(sal.groupby("answer_id")["weight"].sum(), 1.0)
    for aid, g in sal.groupby("answer_id"):
        t_max = g["time_s"].to_numpy()[np.argmax(g["weight"].to_numpy())]
        assert bursts[aid][0] - 0.05 <= t_max <= bursts[aid][1] + 0.05
    table = slices.extract(sal, corpus).table
    att = table[table["kind"] == "attention"]
    hit = [(r.start_s < bursts[r.answer_id][1]) and (r.end_s > bursts[r.answer_id][0]) for r in att.itertuples()]
    assert all(hit)


def test_salience_marks_failed_frames_and_handles_constant_answers():
    t = times(5)
    frames = pd.DataFrame({"answer_id": "a", "time_s": t, "success": True, "AU45": 1.0, "AU12": 0.5})
    frames.loc[3, "success"] = False
    manifest = pd.DataFrame({"answer_id": ["a"], "candidate_id": ["c"], "position_id": ["p"], "question": [1],
                             "label": [1]})
    sal = salience.salience(corpus_mod.Corpus(manifest, frames))
    assert np.isnan(sal["weight"][3])
    np.testing.assert_allclose(sal["weight"].drop(3), 1 / (len(t) - 1))  # no deviation: uniform
