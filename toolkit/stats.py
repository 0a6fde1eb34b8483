"""AUCs and the tests that compare them: bootstrap intervals, paired permutations, DeLong, Holm, redraws.

Every function takes plain arrays (a binary ``y`` and one or two ``score`` vectors on the same
candidates) and refuses inputs where an AUC is undefined (a single class) with a clear message;
only :func:`auc_or_nan`, for per-fold scores, returns NaN there instead.
Random functions take a ``seed``: the same inputs and seed give the same p-value, bit for bit.

The paired permutation test is exact and fast
--------------------------------------------
The test swaps the two scores of each candidate with probability 1/2 and recomputes the AUC
difference. Written with the pair indicator :math:`H(x) = [x > 0] + \\tfrac12 [x = 0]`,

.. math::

    n_1 n_0 \\, \\Delta(\\sigma) = \\sum_{i \\in P} \\sum_{j \\in N}
        \\big[ H(a'_i - a'_j) - H(b'_i - b'_j) \\big],

where :math:`\\sigma_k = +1` keeps candidate :math:`k`'s pair and :math:`-1` swaps it. With
:math:`D_{ij} = H(a_i - a_j) - H(b_i - b_j)` and :math:`E_{ij} = H(b_i - a_j) - H(a_i - b_j)`,
the four cases (kept/swapped for the positive :math:`i` and the negative :math:`j`) collapse to

.. math::

    \\sigma_i \\tfrac{D_{ij} - E_{ij}}{2} + \\sigma_j \\tfrac{D_{ij} + E_{ij}}{2},

so the AUC difference is *linear* in the signs: :math:`n_1 n_0 \\Delta(\\sigma) = \\sum_k \\sigma_k w_k`
with one weight per candidate, :math:`w_i = \\tfrac12 \\sum_{j \\in N} (D_{ij} - E_{ij})` for a
positive and :math:`w_j = \\tfrac12 \\sum_{i \\in P} (D_{ij} + E_{ij})` for a negative. The weights
are counts obtained by binary search in :math:`O(n \\log n)`; each permutation is then a signed
sum. The signs are drawn as random bytes and the sums are read from a table of the 256 partial
sums of every block of 8 candidates, so :math:`P` permutations cost :math:`P n / 8` look-ups.
All weights are multiples of 1/4, so the comparison with the observed difference is done in
integers, without rounding. The result is the same null distribution as re-ranking every
permutation (``tests/test_stats.py`` checks this against a slow reference).

Scores of two different models live on different scales, so by default each score is first
replaced by its mid-rank (Venkatraman & Begg, 1996): the AUCs are unchanged and the swap
exchanges comparable quantities.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import stats as _sps

_ALTERNATIVES = ("greater", "less", "two-sided")


# --------------------------------------------------------------------------- input checks

def _check_labels(y, name: str = "y") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {y.shape}")
    if y.size == 0:
        raise ValueError(f"{name} is empty")
    if y.dtype == bool:
        y = y.astype(np.int8)
    try:
        yf = y.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold the labels 0 and 1, got values of type {y.dtype}") from None
    bad = ~np.isin(yf, (0.0, 1.0))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must hold only the labels 0 and 1; row {k} is {y[k].item()!r}")
    y = yf.astype(np.int8)
    n1 = int(y.sum())
    if n1 == 0 or n1 == y.size:
        only = int(y[0])
        raise ValueError(f"an AUC needs both classes, but {name} holds only label {only} "
                         f"({y.size} rows): the AUC is undefined")
    return y


def _check_score(score, n: int, name: str = "score") -> np.ndarray:
    s = np.asarray(score, dtype=float)
    if s.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {s.shape}")
    if s.size != n:
        raise ValueError(f"{name} has {s.size} values but y has {n}")
    bad = ~np.isfinite(s)
    if bad.any():
        raise ValueError(f"{name} must be finite; row {int(np.flatnonzero(bad)[0])} is {s[bad][0].item()}")
    return s


def _check_alternative(alternative: str) -> str:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(_ALTERNATIVES)}, got {alternative!r}")
    return alternative


# --------------------------------------------------------------------------- AUC and its interval

def auc(y, score) -> float:
    """Area under the ROC curve, from ranks (ties count one half).

    AUC is the probability that a random positive scores above a random negative:
    :math:`(R_1 - n_1(n_1+1)/2) / (n_1 n_0)` with :math:`R_1` the sum of the mid-ranks of the
    positives.

    Parameters
    ----------
    y : array-like of 0/1
        Labels; both classes must be present.
    score : array-like of float
        Higher means "more likely 1".

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When ``y`` holds a single class, values other than 0/1, or ``score`` is not finite.
    """
    y = _check_labels(y)
    s = _check_score(score, y.size)
    return float(_auc_ranked(y.astype(bool), s))


def auc_or_nan(y, score) -> float:
    """:func:`auc`, or NaN where ``y`` holds fewer than two classes (a cross-validation fold can).

    For per-fold scores, where a fold without one of the classes has no AUC but should not stop
    the others; every other bad input is refused as by :func:`auc`.
    """
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return float("nan")
    return auc(y, score)


def _auc_ranked(pos: np.ndarray, s: np.ndarray) -> float:
    n1 = int(pos.sum())
    n0 = pos.size - n1
    r = _sps.rankdata(s)
    return (r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


@dataclass(frozen=True)
class AucInterval:
    """An AUC with its percentile bootstrap interval."""

    auc: float
    ci_low: float
    ci_high: float
    level: float
    n_boot: int


def bootstrap_auc_ci(y, score, n_boot: int = 2000, seed: int = 0, groups=None,
                     level: float = 0.95) -> AucInterval:
    """Percentile bootstrap confidence interval of an AUC.

    Without ``groups`` the candidates are resampled within each class (a stratified bootstrap,
    so every replicate has both classes). With ``groups`` (e.g. ``position_id``) whole groups
    are resampled, as the cross-validation is grouped; a replicate that happens to hold a single
    class is drawn again.

    Parameters
    ----------
    y, score : array-like
        Labels (0/1) and scores.
    n_boot : int
        Bootstrap replicates.
    seed : int
        Seed of the resampling.
    groups : array-like, optional
        One group per row; resample groups instead of rows.
    level : float
        Coverage of the interval.

    Returns
    -------
    AucInterval
    """
    y = _check_labels(y)
    s = _check_score(score, y.size)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    rng = np.random.default_rng(seed)
    pos = y.astype(bool)
    if groups is None:
        sp, sn = s[pos], s[~pos]
        n1, n0 = sp.size, sn.size
        values = np.empty(n_boot)
        chunk = max(1, 2_000_000 // y.size)
        for start in range(0, n_boot, chunk):
            b = min(chunk, n_boot - start)
            mat = np.concatenate([sp[rng.integers(0, n1, (b, n1))], sn[rng.integers(0, n0, (b, n0))]], axis=1)
            r = _sps.rankdata(mat, axis=1)
            values[start:start + b] = (r[:, :n1].sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    else:
        groups = np.asarray(groups)
        if groups.shape != y.shape:
            raise ValueError(f"groups has {groups.size} values but y has {y.size}")
        _, gidx = np.unique(groups, return_inverse=True)
        members = [np.flatnonzero(gidx == g) for g in range(gidx.max() + 1)]
        if len(members) < 2:
            raise ValueError("a grouped bootstrap needs at least 2 groups, got 1")
        values = np.empty(n_boot)
        k = 0
        tries = 0
        while k < n_boot:
            tries += 1
            if tries > 20 * n_boot:
                raise ValueError("grouped bootstrap: almost every replicate holds a single class; "
                                 "too few groups contain both labels")
            idx = np.concatenate([members[g] for g in rng.integers(0, len(members), len(members))])
            p = pos[idx]
            if p.all() or not p.any():
                continue
            values[k] = _auc_ranked(p, s[idx])
            k += 1
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return AucInterval(float(_auc_ranked(pos, s)), float(low), float(high), level, n_boot)


# --------------------------------------------------------------------------- paired permutation test

@dataclass(frozen=True)
class PermutationResult:
    """A paired permutation test of ``AUC(a) - AUC(b)``.

    ``null`` holds the permuted differences when asked for (``return_null=True``).
    """

    auc_a: float
    auc_b: float
    difference: float
    p_value: float
    n_permutations: int
    alternative: str
    null: np.ndarray | None = field(default=None, repr=False)


def _half_counts(sorted_ref: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``2 * sum_r H(query - r)`` over a sorted reference: 2 per smaller value, 1 per tie."""
    return (np.searchsorted(sorted_ref, query, side="left")
            + np.searchsorted(sorted_ref, query, side="right")).astype(np.int64)


def _permutation_weights(pos: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer weights ``4 w_k`` with ``4 n1 n0 Delta(sigma) = sum_k sigma_k (4 w_k)`` (module docstring)."""
    ap, an, bp, bn = a[pos], a[~pos], b[pos], b[~pos]
    n1 = ap.size
    san, sbn, sap, sbp = np.sort(an), np.sort(bn), np.sort(ap), np.sort(bp)
    # Positives: sums over the negatives j, in units of 1/2 (2H).
    d_pos = _half_counts(san, ap) - _half_counts(sbn, bp)
    e_pos = _half_counts(san, bp) - _half_counts(sbn, ap)
    # Negatives: sums over the positives i of H(x_i - q) = n1 - H(q - x_i), in units of 1/2.
    def over_pos(sorted_p, q):
        return 2 * n1 - _half_counts(sorted_p, q)
    d_neg = over_pos(sap, an) - over_pos(sbp, bn)
    e_neg = over_pos(sbp, an) - over_pos(sap, bn)
    w = np.empty(pos.size, dtype=np.int64)
    w[pos] = d_pos - e_pos          # 2 * (D - E) in 2H units = 4 * w_i
    w[~pos] = d_neg + e_neg
    return w


def _sign_bytes(n: int, n_permutations: int, seed: int) -> np.ndarray:
    """Random swap indicators, 8 candidates per byte (bit k of byte j is candidate 8 j + k)."""
    n_bytes = (n + 7) // 8
    rng = np.random.default_rng(seed)
    return np.frombuffer(rng.bytes(n_permutations * n_bytes), dtype=np.uint8).reshape(n_permutations, n_bytes)


def _swap_indicators(n: int, n_permutations: int, seed: int) -> np.ndarray:
    """The same draws as :func:`_sign_bytes`, unpacked to a (permutations, n) bool matrix (for tests)."""
    bits = np.unpackbits(_sign_bytes(n, n_permutations, seed), axis=1, bitorder="little")
    return bits[:, :n].astype(bool)


def _swapped_sums(w: np.ndarray, n_permutations: int, seed: int, chunk: int = 2000) -> np.ndarray:
    """``sum_k s_k w_k`` for each permutation, ``s_k`` the swap indicator of candidate ``k``."""
    n = w.size
    n_bytes = (n + 7) // 8
    padded = np.zeros(n_bytes * 8, dtype=np.int64)
    padded[:n] = w
    bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little").astype(np.int64)
    table = (padded.reshape(n_bytes, 8) @ bits.T).ravel()      # table[j * 256 + v]
    offsets = (np.arange(n_bytes, dtype=np.int64) * 256)[None, :]
    signs = _sign_bytes(n, n_permutations, seed)
    out = np.empty(n_permutations, dtype=np.int64)
    for start in range(0, n_permutations, chunk):
        block = signs[start:start + chunk]
        out[start:start + block.shape[0]] = table[offsets + block].sum(axis=1)
    return out


def paired_permutation_test(y, score_a, score_b, n_permutations: int = 10_000, seed: int = 0,
                            alternative: str = "greater", rank: bool = True,
                            return_null: bool = False) -> PermutationResult:
    """Paired permutation test of the AUC difference of two scores on the same candidates.

    Under the null hypothesis the two scores of a candidate are exchangeable: each permutation
    swaps them with probability 1/2 per candidate and recomputes ``AUC(a) - AUC(b)``. The
    p-value counts the observed difference itself (``(1 + hits) / (1 + n_permutations)``), so it
    is never 0. The computation is exact and vectorised (see the module docstring): 10,000
    permutations of 7,095 candidates take a fraction of a second.

    Parameters
    ----------
    y : array-like of 0/1
        Labels of the candidates.
    score_a, score_b : array-like of float
        Two scores of the same candidates (e.g. out-of-fold scores from attention-slice and
        random-slice features).
    n_permutations : int
        Number of random swaps.
    seed : int
        Seed of the swaps; the same seed gives the same p-value.
    alternative : {"greater", "less", "two-sided"}
        ``"greater"``: AUC(a) > AUC(b).
    rank : bool
        Replace each score by its mid-rank first (default; scores of different models are not
        on the same scale). ``False`` swaps the raw values.
    return_null : bool
        Keep the permuted differences in the result.

    Returns
    -------
    PermutationResult
    """
    y = _check_labels(y)
    a = _check_score(score_a, y.size, "score_a")
    b = _check_score(score_b, y.size, "score_b")
    _check_alternative(alternative)
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be positive, got {n_permutations}")
    if rank:
        # Twice the mid-rank is an integer: comparisons across a and b stay exact.
        a = np.rint(2 * _sps.rankdata(a)).astype(np.int64)
        b = np.rint(2 * _sps.rankdata(b)).astype(np.int64)
    pos = y.astype(bool)
    n1 = int(pos.sum())
    n0 = y.size - n1
    w = _permutation_weights(pos, a, b)
    total = int(w.sum())                                 # observed, in units of 1 / (4 n1 n0)
    stat = total - 2 * _swapped_sums(w, n_permutations, seed)
    if alternative == "greater":
        hits = np.count_nonzero(stat >= total)
    elif alternative == "less":
        hits = np.count_nonzero(stat <= total)
    else:
        hits = np.count_nonzero(np.abs(stat) >= abs(total))
    scale = 4.0 * n1 * n0
    return PermutationResult(
        auc_a=float(_auc_ranked(pos, a)), auc_b=float(_auc_ranked(pos, b)),
        difference=total / scale, p_value=(1 + hits) / (1 + n_permutations),
        n_permutations=int(n_permutations), alternative=alternative,
        null=stat / scale if return_null else None,
    )


# --------------------------------------------------------------------------- DeLong

@dataclass(frozen=True)
class DeLongResult:
    """DeLong's paired test of two correlated AUCs."""

    auc_a: float
    auc_b: float
    difference: float
    se: float
    z: float
    p_value: float
    alternative: str


def _midrank_components(pos: np.ndarray, s: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and DeLong's structural components V10 (positives) and V01 (negatives), Sun & Xu (2014)."""
    x, yneg = s[pos], s[~pos]
    m, n = x.size, yneg.size
    tz = _sps.rankdata(np.concatenate([x, yneg]))
    tx = _sps.rankdata(x)
    ty = _sps.rankdata(yneg)
    auc_ = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    return auc_, v10, v01


def delong_paired(y, score_a, score_b, alternative: str = "two-sided") -> DeLongResult:
    """DeLong, DeLong & Clarke-Pearson (1988) test of two correlated AUCs, fast algorithm of Sun & Xu (2014).

    The variance of ``AUC(a) - AUC(b)`` comes from the structural components: for a positive
    :math:`i`, :math:`V_{10}(i)` is the fraction of negatives it outscores (ties one half); for a
    negative :math:`j`, :math:`V_{01}(j)` the fraction of positives that outscore it. With
    :math:`S_{10}`, :math:`S_{01}` their 2x2 sample covariances over the two scores,
    :math:`S = S_{10}/n_1 + S_{01}/n_0` and :math:`z = \\Delta / \\sqrt{S_{aa} + S_{bb} - 2 S_{ab}}`.
    The components are read from mid-ranks in :math:`O(n \\log n)`.

    Parameters
    ----------
    y : array-like of 0/1
    score_a, score_b : array-like of float
        Two scores of the same candidates.
    alternative : {"two-sided", "greater", "less"}

    Returns
    -------
    DeLongResult
        ``z`` is 0 and ``p_value`` 1 when the two scores order every pair identically.
    """
    y = _check_labels(y)
    a = _check_score(score_a, y.size, "score_a")
    b = _check_score(score_b, y.size, "score_b")
    _check_alternative(alternative)
    pos = y.astype(bool)
    m, n = int(pos.sum()), int((~pos).sum())
    if m < 2 or n < 2:
        raise ValueError(f"DeLong's variance needs at least 2 candidates of each class, got {m} "
                         f"positives and {n} negatives")
    auc_a, v10a, v01a = _midrank_components(pos, a)
    auc_b, v10b, v01b = _midrank_components(pos, b)
    s10 = np.cov(np.vstack([v10a, v10b]))
    s01 = np.cov(np.vstack([v01a, v01b]))
    cov = s10 / m + s01 / n
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    diff = auc_a - auc_b
    if var <= 1e-15:
        z = 0.0 if abs(diff) < 1e-12 else float(np.sign(diff) * np.inf)
        se = 0.0
    else:
        se = float(np.sqrt(var))
        z = diff / se
    if alternative == "two-sided":
        p = 2 * _sps.norm.sf(abs(z))
    elif alternative == "greater":
        p = _sps.norm.sf(z)
    else:
        p = _sps.norm.cdf(z)
    return DeLongResult(float(auc_a), float(auc_b), float(diff), se, float(z), float(min(1.0, p)), alternative)


# --------------------------------------------------------------------------- multiple testing, redraws

def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (``statsmodels`` ``multipletests``).

    Parameters
    ----------
    p_values : array-like of float in [0, 1]

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, in the input order; reject at level alpha where adjusted <= alpha.
    """
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"p_values must be a non-empty 1-D array, got shape {p.shape}")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"p_values must lie in [0, 1], got {p.tolist()}")
    return multipletests(p, method="holm")[1]


def empirical_p_value(observed: float, null, alternative: str = "greater") -> float:
    """Monte Carlo p-value with the +1 correction: ``(1 + #{null at least as extreme}) / (1 + len(null))``.

    ``"two-sided"`` measures extremeness as the distance from the null's mean.
    """
    null = np.asarray(null, dtype=float)
    _check_alternative(alternative)
    if null.ndim != 1 or null.size == 0:
        raise ValueError("the null distribution is empty")
    if alternative == "greater":
        hits = np.count_nonzero(null >= observed)
    elif alternative == "less":
        hits = np.count_nonzero(null <= observed)
    else:
        centre = null.mean()
        hits = np.count_nonzero(np.abs(null - centre) >= abs(observed - centre))
    return float((1 + hits) / (1 + null.size))


@dataclass(frozen=True)
class RedrawResult:
    """The observed attention AUC against the AUCs of random slices drawn again and again."""

    observed: float
    null: np.ndarray = field(repr=False)
    p_value: float
    alternative: str

    @property
    def n_redraws(self) -> int:
        return int(self.null.size)


def redraw_null(observed: float, draw: Callable[[int], float] | np.ndarray, n_redraws: int = 20,
                seed: int = 0, alternative: str = "greater") -> RedrawResult:
    """Compare an observed AUC with the null distribution of random-slice AUCs over redraws.

    A single random draw is itself random: the random slices, hence the random-slice AUC, change
    with the seed. This test draws the random slices again ``n_redraws`` times (the whole
    pipeline rerun for each draw) and asks how often a random draw does at least as well as the
    attention slices; the p-value carries the +1 correction, so with ``R`` redraws it is at
    least ``1 / (R + 1)``.

    Parameters
    ----------
    observed : float
        The attention AUC.
    draw : callable or array-like
        ``draw(seed) -> float``, the random-slice AUC of one redraw (called with seeds
        ``seed, seed + 1, ...``); or the null AUCs already computed.
    n_redraws : int
        How many redraws when ``draw`` is a callable.
    seed : int
        First seed.
    alternative : {"greater", "less", "two-sided"}

    Returns
    -------
    RedrawResult
    """
    _check_alternative(alternative)
    if callable(draw):
        if n_redraws < 1:
            raise ValueError(f"n_redraws must be positive, got {n_redraws}")
        null = np.array([float(draw(seed + r)) for r in range(n_redraws)])
    else:
        null = np.asarray(draw, dtype=float)
        if null.ndim != 1 or null.size == 0:
            raise ValueError("redraw_null needs at least one redrawn AUC")
    if not np.isfinite(null).all():
        raise ValueError("a redrawn AUC is not finite")
    return RedrawResult(float(observed), null, empirical_p_value(observed, null, alternative), alternative)


def fixed_draw_z_test(y, score_attention, random_auc: float, alternative: str = "greater") -> DeLongResult:
    """A naive test (for the calibration study only): attention AUC against a random AUC taken as exact.

    It uses the DeLong standard error of the attention AUC alone, as if the random-slice AUC of
    one draw were a known constant. It ignores the variance of that draw, so under the null it
    rejects far more often than its nominal level (``benchmarks/calibration.py``).
    """
    y = _check_labels(y)
    a = _check_score(score_attention, y.size, "score_attention")
    _check_alternative(alternative)
    pos = y.astype(bool)
    m, n = int(pos.sum()), int((~pos).sum())
    auc_a, v10, v01 = _midrank_components(pos, a)
    se = float(np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n))
    diff = auc_a - float(random_auc)
    z = diff / se if se > 0 else (0.0 if diff == 0 else float(np.sign(diff) * np.inf))
    p = {"greater": _sps.norm.sf(z), "less": _sps.norm.cdf(z), "two-sided": 2 * _sps.norm.sf(abs(z))}[alternative]
    return DeLongResult(float(auc_a), float(random_auc), float(diff), se, float(z), float(min(1.0, p)), alternative)
