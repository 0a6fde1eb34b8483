"""The findings at a glance (toolkit.scorecard): its Markdown, and chapter rows that never start the null study."""
from __future__ import annotations

import pandas as pd
import pytest

from toolkit import scorecard, stages


def _card():
    return pd.DataFrame([("attention differs (F1)", "0.884", "0.787 [0.75, 0.82]", "yes", "survives", "05"),
                         ("ours | preference", "not studied", "3.9", "", "does not survive", "09")],
                        columns=list(scorecard.COLUMNS))


def test_markdown_table_with_and_without_chapter_links():
    text = scorecard.markdown(_card(), chapter_links={"05": "{doc}`05 <x>`"})
    lines = text.splitlines()
    assert lines[0] == "| result | poster | ours | reproduced | null controls | chapter |"
    assert lines[2] == "| attention differs (F1) | 0.884 | 0.787 [0.75, 0.82] | yes | survives | {doc}`05 <x>` |"
    # a pipe inside a cell would break the table; an empty verdict shows a dash; an unlinked chapter its number
    assert lines[3] == "| ours / preference | not studied | 3.9 | - | does not survive | 09 |"
    bare = scorecard.markdown(_card()[:1]).splitlines()
    assert bare[0].count("|") == 6 and "chapter" not in bare[0] and len(bare) == 3


def test_chapter_summary_never_starts_the_null_study(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    corpus = stages.simulate("tiny", seed=3)
    run = stages.train(corpus, folds=3, epochs=1, progress=False)
    started = []
    monkeypatch.setattr(stages.controls, "compute", lambda *a, **k: started.append(1))
    text = scorecard.chapter_summary("07", corpus, run)
    assert "has not run yet" in text and "{ref}`findings-at-a-glance`" in text and started == []
    with pytest.raises(ValueError, match="chapter: one of 04, 05, 06, 07, 09"):
        scorecard.chapter_summary("08", corpus, run)
