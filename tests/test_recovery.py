"""Slice positions and the recovery of planted moments (toolkit.recovery)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from slice_cases import times

from toolkit import corpus as corpus_mod
from toolkit import recovery, slices


def _recovery_case():
    t = times(10)
    frames = pd.concat([pd.DataFrame({"answer_id": a, "time_s": t, "success": True, "AU45": 0.0})
                        for a in ("a1", "a2")], ignore_index=True)
    manifest = pd.DataFrame({"answer_id": ["a1", "a2"], "candidate_id": ["c1", "c2"], "position_id": ["p", "p"],
                             "question": [1, 1], "label": [0, 1]})
    corpus = corpus_mod.Corpus(manifest, frames)
    episodes = pd.DataFrame([
        ("a1", "anxiety", 2.0, 3.0, True),      # centre 25 %: middle
        ("a1", "distractor", 8.5, 9.5, False),  # centre 90 %: end
        ("a2", "positive", 0.2, 1.2, True),     # centre 7 %: start
        ("a2", "distractor", 5.0, 6.0, False),  # middle
    ], columns=["answer_id", "kind", "start_s", "end_s", "linked"])
    spans = {"a1": [(2.5, 3.5, "attention"), (0, 1, "random"), (5, 6, "random"), (8, 9, "random"),
                    (9, 10, "random")],
             "a2": [(5.5, 6.5, "attention"), (0.5, 1.5, "random"), (3, 4, "random"), (7, 8, "random"),
                    (2, 3, "random")]}
    rows = [(f"{a}:{i}", a, "c1" if a == "a1" else "c2", k, s, e)
            for a, lst in spans.items() for i, (s, e, k) in enumerate(lst)]
    table = pd.DataFrame(rows, columns=list(slices.SLICE_COLUMNS))
    return corpus, episodes, table


def test_recovery_exact_rates():
    corpus, episodes, table = _recovery_case()
    rec = recovery.recovery(table, episodes, corpus, n_boot=50)
    v = rec.set_index(["moment", "location", "metric"])["value"]
    assert v[("linked", "all", "p_attention")] == pytest.approx(0.5)
    assert v[("linked", "all", "p_random")] == pytest.approx(0.125)
    assert v[("linked", "all", "ratio")] == pytest.approx(4.0)
    assert v[("distractor", "all", "p_attention")] == pytest.approx(0.5)
    assert v[("distractor", "all", "p_random")] == pytest.approx(0.25)
    assert v[("linked vs distractor", "all", "preference")] == pytest.approx(2.0)
    # Chance for a 1 s slice in a 10 s answer: starts in (a - 1, b) within [0, 9].
    assert v[("linked", "all", "p_chance")] == pytest.approx((2 / 9 + 1.2 / 9) / 2)
    assert v[("linked", "middle", "p_attention")] == 1.0
    assert v[("linked", "start", "p_attention")] == 0.0
    assert v[("linked", "start", "p_random")] == pytest.approx(0.25)
    assert v[("anxiety", "all", "p_attention")] == 1.0
    n = rec.set_index(["moment", "location", "metric"])["n_answers"]
    assert n[("linked", "all", "p_attention")] == 2 and n[("anxiety", "all", "ratio")] == 1
    assert ("distractor", "start", "p_attention") not in v.index


def test_recovery_defaults_linked_from_kind_and_rejects_bad_episodes():
    corpus, episodes, table = _recovery_case()
    a = recovery.recovery(table, episodes, corpus, n_boot=20)
    b = recovery.recovery(table, episodes.drop(columns="linked"), corpus, n_boot=20)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match=r"episodes: missing column\(s\) \['end_s'\]"):
        recovery.recovery(table, episodes.drop(columns="end_s"), corpus)
    with pytest.raises(ValueError, match="no attention slice"):
        recovery.recovery(table[table["kind"] == "random"], episodes, corpus)
    # Without a bootstrap: the same values, no intervals.
    c = recovery.recovery(table, episodes, corpus, n_boot=0)
    np.testing.assert_allclose(c["value"], a["value"])
    assert c["ci_low"].isna().all()


def test_slice_positions():
    corpus, _, table = _recovery_case()
    pos = recovery.slice_positions(table, corpus).set_index("slice_id")
    assert pos.loc["a1:0", "duration_s"] == pytest.approx(1.0)
    assert pos.loc["a1:0", "relative_time"] == pytest.approx(0.3)
    assert pos.loc["a1:0", "location"] == "middle"
    assert pos.loc["a1:4", "location"] == "end" and pos.loc["a2:1", "location"] == "start"
    assert list(recovery.location_of([0.0, 0.19, 0.2, 0.8, 0.81])) == ["start", "start", "middle", "middle", "end"]
