"""Edge correction of the slice rule's moving average (:func:`toolkit.slices.smooth`).

Near an answer's edges a centred window sticks out of the answer; averaging fewer frames
there makes pure noise peak at the edges too often. ``smooth`` shifts such windows inwards
so that every smoothed value is a full-window mean.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.signal import savgol_filter

from toolkit import slices

FPS = 10
DURATION = 60.0
N_FRAMES = int(DURATION * FPS) + 1   # 601 frames, 0 ... 60 s
EDGE_FRAMES = 12                     # the first (last) 2 % of a 60 s answer: 12 of 601 frames
HALF = 2                             # 0.5 s at 10 frames/s: 2 frames either side


def _times(duration: float = DURATION, fps: int = FPS) -> np.ndarray:
    return np.round(np.arange(int(round(duration * fps)) + 1) / fps, 6)


def _centred_mean(t: np.ndarray, w: np.ndarray, smooth_s: float) -> np.ndarray:
    """The plain centred moving average in time, frame by frame (truncated at the edges)."""
    half = smooth_s / 2 + 1e-9
    return np.array([w[np.abs(t - ti) <= half].mean() for ti in t])


def _noise(n_answers: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n_answers, N_FRAMES))


# --------------------------------------------------------------------------- pure noise

def test_noise_peaks_are_not_drawn_to_the_edges():
    """The slice rule's peak on pure noise lands in each edge 2 % as often as chance says.

    (The first and last half-windows share one value, reported at its middle frame, so the
    12 edge frames hold 10 of the 597 distinct window values: the expected rate is about
    1.7 %, within the interval here. The truncated window gave about 3 %, outside it.)
    """
    t = _times()
    weights = _noise(2000, seed=20190904)
    peak = np.empty(len(weights), dtype=np.int64)
    for k, w in enumerate(weights):
        found, reason = slices.find_slice(t, w)
        assert reason == "ok"
        peak[k] = int(round(found["peak_s"] * FPS))
    n = len(peak)
    p_edge = EDGE_FRAMES / N_FRAMES  # 0.01997: 2 % of the frames
    lo, hi = stats.binom.interval(0.99, n, p_edge)
    first = int((peak < EDGE_FRAMES).sum())
    last = int((peak >= N_FRAMES - EDGE_FRAMES).sum())
    assert lo <= first <= hi, f"{first / n:.2%} of peaks in the first 2 %"
    assert lo <= last <= hi, f"{last / n:.2%} of peaks in the last 2 %"
    # Between the edge zones, 10 bins of (nearly) equal width receive peaks uniformly.
    inner = peak[(peak >= EDGE_FRAMES) & (peak < N_FRAMES - EDGE_FRAMES)]
    bins = np.array_split(np.arange(EDGE_FRAMES, N_FRAMES - EDGE_FRAMES), 10)
    observed = np.array([np.isin(inner, b).sum() for b in bins])
    expected = np.array([len(b) for b in bins]) / (N_FRAMES - 2 * EDGE_FRAMES) * len(inner)
    assert stats.chisquare(observed, expected).pvalue > 0.001


def test_edge_values_vary_like_interior_values():
    """On noise, a smoothed edge value has the distribution of a smoothed interior value.

    This is what removes the edge bias, and what neither the truncated window (fewer
    frames) nor reflected padding (some frames counted twice) achieves.
    """
    t = _times()
    weights = _noise(2000, seed=7)
    smoothed = np.array([slices.smooth(t, w) for w in weights])
    interior = smoothed[:, N_FRAMES // 2]
    for edge in (smoothed[:, 0], smoothed[:, 1], smoothed[:, -1], smoothed[:, -2]):
        assert stats.ks_2samp(edge, interior).pvalue > 0.001
        assert stats.levene(edge, interior).pvalue > 0.001
        assert np.var(edge) / np.var(interior) == pytest.approx(1.0, abs=0.15)
    # The alternatives fail the same check: their edge values vary more.
    truncated = np.array([_centred_mean(t[:40], w[:40], 0.5)[0] for w in weights])
    kernel = np.full(2 * HALF + 1, 1 / (2 * HALF + 1))
    reflected = np.array([np.convolve(np.pad(w[:40], HALF, mode="reflect"), kernel, "valid")[0]
                          for w in weights])
    for alternative in (truncated, reflected):
        assert stats.levene(alternative, interior).pvalue < 1e-6
        assert np.var(alternative) / np.var(interior) > 1.4


# --------------------------------------------------------------------------- deterministic values

def test_constant_curve_stays_constant():
    t = _times(3.0)
    np.testing.assert_allclose(slices.smooth(t, np.full(len(t), 0.25)), 0.25, rtol=0, atol=1e-15)
    irregular = np.array([0.0, 0.05, 0.3, 0.35, 0.9, 1.0, 1.6, 1.7])
    np.testing.assert_allclose(slices.smooth(irregular, np.full(8, 3.0), 0.5), 3.0, rtol=0, atol=1e-14)


def test_interior_is_the_plain_centred_moving_average():
    t = _times(30.0)
    w = np.zeros(len(t))
    w[150] = 5.0  # a spike at 15 s
    s = slices.smooth(t, w)
    np.testing.assert_allclose(s[HALF:-HALF], _centred_mean(t, w, 0.5)[HALF:-HALF], rtol=0, atol=1e-15)
    np.testing.assert_allclose(s[148:153], 1.0)
    assert np.count_nonzero(s) == 5
    # On noise too: every frame whose window fits keeps the centred value.
    noise = np.random.default_rng(3).random(len(t))
    np.testing.assert_allclose(slices.smooth(t, noise)[HALF:-HALF], _centred_mean(t, noise, 0.5)[HALF:-HALF],
                               rtol=1e-12)


def test_edge_frames_take_the_nearest_full_window():
    t = _times(30.0)
    w = np.random.default_rng(4).random(len(t))
    s = slices.smooth(t, w)
    np.testing.assert_allclose(s[:HALF + 1], w[:2 * HALF + 1].mean(), rtol=1e-12)
    np.testing.assert_allclose(s[-HALF - 1:], w[-2 * HALF - 1:].mean(), rtol=1e-12)
    # A spike on the first frame is spread over a full window, not over a truncated one.
    spike = np.zeros(len(t))
    spike[0] = 5.0
    np.testing.assert_allclose(slices.smooth(t, spike)[:4], [1.0, 1.0, 1.0, 0.0], atol=1e-15)


@pytest.mark.parametrize("fps, smooth_s, window", [(10, 0.5, 5), (25, 0.5, 13), (30, 0.5, 15), (10, 0.4, 5)])
def test_regular_grid_matches_savgol_interp(fps, smooth_s, window):
    """On a regular grid: a 0th-order Savitzky-Golay filter fitted to the edge windows."""
    t = _times(20.0, fps)
    w = np.random.default_rng(fps).random(len(t))
    np.testing.assert_allclose(slices.smooth(t, w, smooth_s), savgol_filter(w, window, 0, mode="interp"),
                               rtol=1e-12)


def test_irregular_grid_known_values():
    # Frames missing between 0.3 s and 0.6 s; weights 0 ... 8.
    t = np.array([0.0, 0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.9, 1.0])
    w = np.arange(9.0)
    # 0.2 s is the first frame whose window [-0.05, 0.45] fits (it holds frames 0-3), and
    # 0.8 s the last ([0.55, 1.05]: frames 4-8); 0.3 s and 0.6 s average what their windows hold.
    np.testing.assert_allclose(slices.smooth(t, w, 0.5), [1.5, 1.5, 1.5, 2.0, 5.0, 5.5, 6.0, 6.0, 6.0])


def test_short_answers():
    # Shorter than any full window: every frame gets the answer's mean.
    np.testing.assert_allclose(slices.smooth([0.0, 0.1, 0.2], [1.0, 2.0, 6.0], 0.5), 3.0)
    np.testing.assert_allclose(slices.smooth([0.0], [4.0], 0.5), [4.0])
    assert slices.smooth([], [], 0.5).shape == (0,)


def test_length_and_dtype_preserved():
    t = _times(5.0)
    for w in (np.arange(len(t)), list(range(len(t))), np.arange(len(t), dtype=np.float32)):
        s = slices.smooth(t, w)
        assert s.shape == (len(t),) and s.dtype == np.float64
    w = np.random.default_rng(5).random(len(t))
    unchanged = slices.smooth(t, w, 0.0)
    np.testing.assert_array_equal(unchanged, w)
    assert unchanged is not w
