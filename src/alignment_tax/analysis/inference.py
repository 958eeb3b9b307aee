"""Inference primitives: clustered standard errors, t intervals, McNemar's exact test, BH, the bootstrap."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from alignment_tax.errors import AltaxError

Interval = tuple[float, float]
CONFIDENCE = 0.95
FULL_RANGE: Interval = (-100.0, 100.0)
"""The interval of a tax (pp) about which nothing is known."""
_CHUNK = 4_000_000  # resampled draws per block, which bounds memory for large suites


def cluster_labels(clusters: ArrayLike | None, n: int) -> np.ndarray:
    """Integer cluster codes 0..G-1 for ``n`` items; every item is its own cluster when ``clusters`` is None."""
    if clusters is None:
        return np.arange(n)
    labels = np.asarray(clusters)
    if len(labels) != n:
        raise ValueError("clusters must have one entry per item")
    return np.unique(labels, return_inverse=True)[1].ravel()


def clustered_se(values: ArrayLike, clusters: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean of ``values`` (items, or items x datasets), its cluster-robust (CR1) standard error, and the
    number of clusters G.

    ``se**2 = G / (G - 1) * sum_g (sum_{i in g} (x_i - mean))**2 / n**2``: statsmodels' OLS on a constant with
    ``cov_type="cluster"``. With one item per cluster it is the paired standard error ``s / sqrt(n)``.
    """
    x = np.asarray(values, dtype=float)
    n = x.shape[0]
    codes = cluster_labels(clusters, n)
    g = int(codes.max()) + 1 if n else 0
    mean = x.mean(axis=0)
    if g < 2:
        return mean, np.full_like(mean, np.nan), g
    resid = x - mean
    if clusters is None:
        sums = resid
    else:
        sums = np.zeros((g, *x.shape[1:]))
        np.add.at(sums, codes, resid)
    variance = g / (g - 1) * (sums**2).sum(axis=0) / n**2
    return mean, np.sqrt(variance), g


def t_half_width(se: ArrayLike, df: ArrayLike, n: ArrayLike, confidence: float = CONFIDENCE) -> np.ndarray:
    """Half-width of the t interval ``t_{df} * sqrt(se**2 + 1/n**2)`` (units of the items' values, in [-1, 1]).

    The ``1/n**2`` floor is one pseudo-discordant pair's worth of variance (Chow and Robbins' ``s**2 + 1/n``,
    akin to Agresti and Min's pseudo-counts): it keeps the interval honest when few pairs disagree."""
    quantile = stats.t.ppf(0.5 + confidence / 2, np.asarray(df, dtype=float))
    n = np.asarray(n, dtype=float)
    return quantile * np.sqrt(np.asarray(se, dtype=float) ** 2 + 1 / n**2)


def clip_interval(centre: float, half: float) -> Interval:
    """``centre +- half`` (pp) clipped to the range a tax can take."""
    return max(-100.0, centre - half), min(100.0, centre + half)


def mcnemar_exact(losses: int, gains: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs: ``min(1, 2 * P[Binom(b + c, 1/2) <= min(b, c)])``."""
    total = losses + gains
    if total == 0:
        return 1.0
    return float(min(1.0, 2 * stats.binom.cdf(min(losses, gains), total, 0.5)))


def benjamini_hochberg(p_values: ArrayLike) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adjusted
    return out


def resample_sums(
    values: np.ndarray, n_boot: int, rng: np.random.Generator, clusters: ArrayLike | None = None
) -> np.ndarray:
    """Column sums of ``values`` (items x m) over ``n_boot`` resamples of items, or of whole clusters,
    drawn with replacement: returns an ``n_boot x m`` array."""
    if n_boot < 1:
        raise AltaxError(f"n_boot must be at least 1, got {n_boot}")
    if clusters is None:
        group_sums = values
    else:
        codes = cluster_labels(clusters, len(values))
        group_sums = np.zeros((codes.max() + 1, values.shape[1]))
        np.add.at(group_sums, codes, values)
    k = len(group_sums)
    sums = np.empty((n_boot, values.shape[1]))
    step = max(1, _CHUNK // k)
    for start in range(0, n_boot, step):
        rows = min(step, n_boot - start)
        picks = rng.integers(0, k, size=(rows, k)) + k * np.arange(rows)[:, None]
        counts = np.bincount(picks.ravel(), minlength=rows * k).reshape(rows, k)
        sums[start : start + rows] = counts @ group_sums
    return sums


def percentile_ci(draws: np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """Percentile interval of bootstrap draws."""
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)
