"""Where is an answer unusual, knowing nothing of the label? The label-free salience score.

- :func:`salience`: a label-free attention-like curve (each frame's deviation from the answer's
  usual), the control that knows nothing of the label (DESIGN section 6). Its table reads like
  HireNet's attention (``answer_id``, ``time_s``, ``weight``), so it can be sliced the same way
  (:func:`toolkit.slices.extract`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["salience"]


def salience(corpus, answer_ids=None, columns: list[str] | None = None) -> pd.DataFrame:
    """The label-free salience score: how far each frame is from the answer's usual.

    Per answer, each feature is standardised (divided by its standard deviation over the
    answer's success frames; a constant feature contributes nothing); a frame's score is its
    squared distance from the answer's median, summed over features, normalised to sum to 1
    per answer, so it reads like attention weights.

    Parameters
    ----------
    corpus : toolkit.corpus.Corpus
    answer_ids : iterable of str, optional
        Only these answers (default: all).
    columns : list of str, optional
        Features (default: the corpus's AUs, else all its features).

    Returns
    -------
    pandas.DataFrame
        ``answer_id``, ``time_s``, ``weight``; NaN weight on frames without a face.
    """
    columns = list(columns or corpus.aus or corpus.features)
    frames = corpus.frames
    if answer_ids is not None:
        frames = frames[frames["answer_id"].isin(set(map(str, answer_ids)))]
    ok = frames["success"].to_numpy(bool)
    X = frames[columns].to_numpy(np.float64)
    ok = ok & np.isfinite(X).all(axis=1)
    X = pd.DataFrame(np.where(ok[:, None], X, np.nan), columns=columns, index=frames.index)
    g = X.groupby(frames["answer_id"].to_numpy(), sort=False)
    med = g.transform("median")
    sd = g.transform("std", ddof=0)
    z2 = ((X - med) / sd.where(sd > 0)) ** 2
    score = z2.sum(axis=1).where(ok)  # a constant feature (NaN z) adds nothing
    total = score.groupby(frames["answer_id"].to_numpy(), sort=False).transform("sum")
    n = pd.Series(ok.astype(float), index=frames.index).groupby(frames["answer_id"].to_numpy(),
                                                                 sort=False).transform("sum")
    # An answer without any deviation gets the uniform curve (its slices are then skipped as flat).
    weight = np.where(total > 0, score / total.where(total > 0), 1.0 / n.where(n > 0))
    weight = np.where(ok, weight, np.nan)
    return pd.DataFrame({"answer_id": frames["answer_id"].to_numpy(), "time_s": frames["time_s"].to_numpy(),
                         "weight": weight}).reset_index(drop=True)
