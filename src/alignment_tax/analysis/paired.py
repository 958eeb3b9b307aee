"""Paired statistics of one configuration against the reference over the same items (percentage points)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict

from alignment_tax.errors import AltaxError

Interval = tuple[float, float]
_CHUNK = 4_000_000  # resampled draws per block, which bounds memory for large suites


class PairedTax(BaseModel):
    """Tax of a configuration against the reference, its decomposition and 95% paired bootstrap CIs.

    ``tax == refusal_driven + capability_loss - gains``; ``n_excluded_pairs`` counts the pairs the
    refusal-excluded gap leaves out (at least one configuration refused).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    n: int
    tax: float
    tax_ci: Interval
    refusal_driven: float
    refusal_driven_ci: Interval
    capability_loss: float
    capability_loss_ci: Interval
    gains: float
    gains_ci: Interval
    refusal_excluded_gap: float | None
    refusal_excluded_gap_ci: Interval | None
    n_excluded_pairs: int


class MacroTax(BaseModel):
    """Mean over categories of the per-category tax, with a category-stratified bootstrap 95% CI."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    n_categories: int
    tax: float
    tax_ci: Interval


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
        _, inverse = np.unique(np.asarray(clusters), return_inverse=True)
        group_sums = np.zeros((inverse.max() + 1, values.shape[1]))
        np.add.at(group_sums, inverse.ravel(), values)
    k = len(group_sums)
    sums = np.empty((n_boot, values.shape[1]))
    step = max(1, _CHUNK // k)
    for start in range(0, n_boot, step):
        rows = min(step, n_boot - start)
        picks = rng.integers(0, k, size=(rows, k)) + k * np.arange(rows)[:, None]
        counts = np.bincount(picks.ravel(), minlength=rows * k).reshape(rows, k)
        sums[start : start + rows] = counts @ group_sums
    return sums


def percentile_ci(draws: np.ndarray) -> Interval:
    """95% percentile interval of bootstrap draws."""
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def paired_tax(
    ref_outcome: ArrayLike,
    ref_correct: ArrayLike,
    cfg_outcome: ArrayLike,
    cfg_correct: ArrayLike,
    *,
    clusters: ArrayLike | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> PairedTax:
    """Tax of a configuration against the reference over the same items (arrays aligned by item).

    Outcomes are outcome words; only ``"refused"`` counts as a refusal (``"partial"`` is an attempt).
    With ``clusters`` the bootstrap resamples whole clusters instead of single items.
    """
    ref_c = np.asarray(ref_correct, dtype=bool)
    cfg_c = np.asarray(cfg_correct, dtype=bool)
    ref_r = np.asarray(ref_outcome) == "refused"
    cfg_r = np.asarray(cfg_outcome) == "refused"
    n = len(ref_c)
    if n == 0 or not len(cfg_c) == len(ref_r) == len(cfg_r) == n:
        raise ValueError("paired_tax needs non-empty arrays of one length, aligned by item")
    if clusters is not None and len(np.asarray(clusters)) != n:
        raise ValueError("clusters must have one entry per item")
    if (ref_c & ref_r).any() or (cfg_c & cfg_r).any():
        raise ValueError("a refused outcome cannot be correct")
    diff = ref_c.astype(float) - cfg_c
    both = ~ref_r & ~cfg_r
    columns = np.column_stack(
        [np.ones(n), diff, ref_c & cfg_r, ref_c & ~cfg_c & ~cfg_r, ~ref_c & cfg_c, both, both * diff]
    ).astype(float)
    counts = columns.sum(axis=0)  # whole numbers, exact in float64
    point = 100 * counts[1:5] / n
    draws = resample_sums(columns, n_boot, np.random.default_rng(seed), clusters)
    shares = 100 * draws[:, 1:5] / draws[:, [0]]
    with np.errstate(invalid="ignore", divide="ignore"):
        gap_draws = 100 * draws[:, 6] / draws[:, 5]
    gap_draws = gap_draws[np.isfinite(gap_draws)]
    n_both = int(counts[5])
    return PairedTax(
        n=n,
        tax=float(point[0]),
        tax_ci=percentile_ci(shares[:, 0]),
        refusal_driven=float(point[1]),
        refusal_driven_ci=percentile_ci(shares[:, 1]),
        capability_loss=float(point[2]),
        capability_loss_ci=percentile_ci(shares[:, 2]),
        gains=float(point[3]),
        gains_ci=percentile_ci(shares[:, 3]),
        refusal_excluded_gap=float(100 * counts[6] / n_both) if n_both else None,
        refusal_excluded_gap_ci=percentile_ci(gap_draws) if n_both and gap_draws.size else None,
        n_excluded_pairs=n - n_both,
    )


def macro_tax(
    ref_correct: ArrayLike, cfg_correct: ArrayLike, strata: ArrayLike, *, n_boot: int = 2000, seed: int = 0
) -> MacroTax:
    """Mean over strata (categories) of the per-stratum tax; the bootstrap resamples within each stratum."""
    diff = np.asarray(ref_correct, dtype=float) - np.asarray(cfg_correct, dtype=bool)
    labels = np.asarray(strata)
    if diff.size == 0 or len(labels) != len(diff):
        raise ValueError("macro_tax needs non-empty arrays of one length, aligned by item")
    rng = np.random.default_rng(seed)
    names = np.unique(labels)
    points = np.empty(len(names))
    draws = np.empty((n_boot, len(names)))
    for j, name in enumerate(names):
        part = diff[labels == name][:, None]
        points[j] = 100 * part.sum() / len(part)
        draws[:, j] = 100 * resample_sums(part, n_boot, rng)[:, 0] / len(part)
    return MacroTax(n_categories=len(names), tax=float(points.mean()), tax_ci=percentile_ci(draws.mean(axis=1)))
