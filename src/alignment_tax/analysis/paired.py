"""Paired statistics of one configuration against the reference over the same items (percentage points)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict

from alignment_tax.analysis.inference import (
    FULL_RANGE,
    Interval,
    clip_interval,
    clustered_se,
    mcnemar_exact,
    percentile_ci,
    resample_sums,
    t_half_width,
)
from alignment_tax.records import OUTCOMES


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class McNemar(_Model):
    """Discordant items (the reference did better: ``losses``; worse: ``gains``) and the exact two-sided p-value."""

    losses: int
    gains: int
    p_value: float


class Sampling(_Model):
    """What averaging K samples per item bought: the standard error one sample per item would have had, and
    the share of the per-item variance removed."""

    k: int
    se_one_sample: float | None
    variance_reduction: float | None


class PairedTax(_Model):
    """Tax of a configuration against the reference, its exact decomposition and 95% CIs.

    ``tax == refusal_driven + capability_loss - gains``. ``tax_ci`` is the clustered t interval, the other
    intervals come from the paired (cluster) bootstrap. ``table`` counts pairings by reference outcome, then
    configuration outcome; ``n_excluded_pairs`` counts the pairings the refusal-excluded gap leaves out.
    """

    n: int
    pairs: int
    n_clusters: int
    tax: float
    tax_se: float | None
    tax_df: int | None
    tax_ci: Interval
    tax_boot_ci: Interval
    refusal_driven: float
    refusal_driven_ci: Interval
    capability_loss: float
    capability_loss_ci: Interval
    gains: float
    gains_ci: Interval
    refusal_excluded_gap: float | None
    refusal_excluded_gap_ci: Interval | None
    n_excluded_pairs: int
    mcnemar: McNemar
    p_adjusted: float | None = None
    table: dict[str, dict[str, int]]
    sampling: Sampling | None


def _matrix(values: ArrayLike) -> np.ndarray:
    array = np.asarray(values)
    return array[:, None] if array.ndim == 1 else array


@dataclass(frozen=True)
class PairedItems:
    """Both configurations' outcomes and correctness per item and sample (items x K), aligned by item."""

    ref_outcome: np.ndarray
    ref_correct: np.ndarray
    cfg_outcome: np.ndarray
    cfg_correct: np.ndarray

    @classmethod
    def build(cls, ref_outcome: ArrayLike, ref_correct: ArrayLike, cfg_outcome: ArrayLike, cfg_correct: ArrayLike):
        """Check and align arrays of one entry per item (or items x K samples)."""
        arrays = [_matrix(ref_outcome), _matrix(ref_correct).astype(bool)]
        arrays += [_matrix(cfg_outcome), _matrix(cfg_correct).astype(bool)]
        shape = arrays[0].shape
        if shape[0] == 0 or any(a.shape != shape for a in arrays):
            raise ValueError("paired arrays must be non-empty, of one shape, and aligned by item")
        if ((arrays[0] == "refused") & arrays[1]).any() or ((arrays[2] == "refused") & arrays[3]).any():
            raise ValueError("a refused outcome cannot be correct")
        return cls(*arrays)

    def subset(self, mask: np.ndarray) -> PairedItems:
        """The same pairs restricted to the items where ``mask`` holds."""
        return PairedItems(
            self.ref_outcome[mask], self.ref_correct[mask], self.cfg_outcome[mask], self.cfg_correct[mask]
        )

    @property
    def n(self) -> int:
        return self.ref_correct.shape[0]

    @property
    def k(self) -> int:
        return self.ref_correct.shape[1]

    @property
    def diff(self) -> np.ndarray:
        """Per-item difference of mean correctness, reference minus configuration, in [-1, 1]."""
        return self.ref_correct.mean(axis=1) - self.cfg_correct.mean(axis=1)

    def counts(self) -> np.ndarray:
        """Per-item whole counts over the K x K pairings of a reference sample with a configuration sample:
        pairings, tax, refusal-driven, capability loss, gains, neither refused, and the tax among those."""
        k = self.k
        rc, cc = self.ref_correct.sum(axis=1), self.cfg_correct.sum(axis=1)
        rr, cr = (self.ref_outcome == "refused").sum(axis=1), (self.cfg_outcome == "refused").sum(axis=1)
        return np.column_stack(
            [
                np.full(self.n, k * k),
                k * (rc - cc),
                rc * cr,
                rc * (k - cc - cr),
                (k - rc) * cc,
                (k - rr) * (k - cr),
                rc * (k - cr) - cc * (k - rr),
            ]
        ).astype(float)

    def table(self) -> dict[str, dict[str, int]]:
        """Pairings counted by reference outcome, then configuration outcome."""
        ref = np.stack([(self.ref_outcome == o).sum(axis=1) for o in OUTCOMES], axis=1)
        cfg = np.stack([(self.cfg_outcome == o).sum(axis=1) for o in OUTCOMES], axis=1)
        counts = ref.T @ cfg
        return {a: {b: int(counts[i, j]) for j, b in enumerate(OUTCOMES)} for i, a in enumerate(OUTCOMES)}

    def sampling(self, se: float | None) -> Sampling | None:
        """Variance reduction from K > 1 samples: within-item variance of sample-matched differences."""
        if self.k == 1:
            return None
        between = self.diff.var(ddof=1) if self.n > 1 else 0.0
        within = (self.ref_correct.astype(float) - self.cfg_correct).var(axis=1, ddof=1).mean()
        one_sample = between + within * (1 - 1 / self.k)
        if se is None or one_sample == 0:
            return Sampling(k=self.k, se_one_sample=None, variance_reduction=None)
        ratio = between / one_sample
        return Sampling(
            k=self.k, se_one_sample=se / np.sqrt(ratio) if ratio > 0 else None, variance_reduction=1 - ratio
        )


def tax_interval(diff: np.ndarray, clusters: ArrayLike | None) -> tuple[float | None, int | None, Interval]:
    """Clustered standard error (pp), degrees of freedom G - 1 and the 95% t interval of the mean difference,
    clipped to [-100, 100]; with fewer than two clusters nothing is known and the interval is [-100, 100]."""
    mean, se, g = clustered_se(diff, clusters)
    if g < 2:
        return None, None, FULL_RANGE
    half = 100 * float(t_half_width(se, g - 1, len(diff)))
    return 100 * float(se), g - 1, clip_interval(100 * float(mean), half)


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
    """Tax of a configuration against the reference over the same items: arrays with one entry per item, or
    items x K samples. Only ``"refused"`` counts as a refusal (``"partial"`` is an attempt). With ``clusters``
    the standard error is cluster-robust and the bootstrap resamples whole clusters."""
    return tax_of(PairedItems.build(ref_outcome, ref_correct, cfg_outcome, cfg_correct), clusters, n_boot, seed)


def tax_of(items: PairedItems, clusters: ArrayLike | None, n_boot: int, seed: int) -> PairedTax:
    """``paired_tax`` of already aligned pairs."""
    columns = items.counts()
    totals = columns.sum(axis=0)  # whole numbers, exact in float64
    point = 100 * totals[1:5] / totals[0]
    draws = resample_sums(columns, n_boot, np.random.default_rng(seed), clusters)
    shares = 100 * draws[:, 1:5] / draws[:, [0]]
    with np.errstate(invalid="ignore", divide="ignore"):
        gap_draws = 100 * draws[:, 6] / draws[:, 5]
    gap_draws = gap_draws[np.isfinite(gap_draws)]
    both = totals[5]
    diff = items.diff
    se, df, ci = tax_interval(diff, clusters)
    return PairedTax(
        n=items.n,
        pairs=int(totals[0]),
        n_clusters=len(np.unique(clusters)) if clusters is not None else items.n,
        tax=float(point[0]),
        tax_se=se,
        tax_df=df,
        tax_ci=ci,
        tax_boot_ci=percentile_ci(shares[:, 0]),
        refusal_driven=float(point[1]),
        refusal_driven_ci=percentile_ci(shares[:, 1]),
        capability_loss=float(point[2]),
        capability_loss_ci=percentile_ci(shares[:, 2]),
        gains=float(point[3]),
        gains_ci=percentile_ci(shares[:, 3]),
        refusal_excluded_gap=float(100 * totals[6] / both) if both else None,
        refusal_excluded_gap_ci=percentile_ci(gap_draws) if both and gap_draws.size else None,
        n_excluded_pairs=int(totals[0] - both),
        mcnemar=McNemar(
            losses=int((diff > 0).sum()),
            gains=int((diff < 0).sum()),
            p_value=mcnemar_exact(int((diff > 0).sum()), int((diff < 0).sum())),
        ),
        table=items.table(),
        sampling=items.sampling(se),
    )
