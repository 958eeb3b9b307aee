"""Adaptive stopping (``--target-ci``): the seeded draw order, the looks, and the rule that ends a run."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from alignment_tax.analysis.results import Adaptive, Results

MIN_DISCORDANT = 10
"""A look may stop the run only once every configuration differs from the reference on this many items: the
normal approximation behind the t interval needs that many discordant pairs."""


def draw_order(categories: Sequence[str], seed: int) -> list[int]:
    """A fixed seeded order of items, shuffled within each category and interleaved so that every prefix holds
    each category in proportion to its size (item ``j`` of ``n_c`` sits at ``(j + u) / n_c``, u uniform)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(categories, dtype=object)
    position = np.empty(len(labels))
    for name in sorted(set(labels)):
        where = np.flatnonzero(labels == name)
        position[rng.permutation(where)] = (np.arange(len(where)) + rng.random(len(where))) / len(where)
    return [int(i) for i in np.argsort(position, kind="stable")]


def looks(n_items: int, chunk_size: int) -> list[int]:
    """The item counts at which the rule looks: every ``chunk_size`` items, and the whole suite."""
    return [*range(chunk_size, n_items, chunk_size), n_items]


def stop_now(half_width: ArrayLike, n_discordant: ArrayLike, target: float) -> np.ndarray:
    """The stopping rule at one look: the tax interval's half-width (pp) is at most ``target`` and at least
    ``MIN_DISCORDANT`` items are discordant (vectorised over configurations or simulated datasets)."""
    return (np.asarray(half_width) <= target) & (np.asarray(n_discordant) >= MIN_DISCORDANT)


def _watched(results: Results) -> list[tuple[float, tuple[float, float], int]]:
    """(tax, interval, discordant items) of the tax each configuration's stopping looks at: workload-weighted
    when a workload is given, else over all items."""
    out = []
    for config in results.configs.values():
        if config.is_reference or config.overall is None or config.overall.tax is None:
            continue
        tax = config.overall.tax
        target = config.workload or tax
        out.append((target.tax, target.tax_ci, tax.mcnemar.losses + tax.mcnemar.gains))
    return out


def adaptive_status(results: Results, target: float, chunk_size: int, n_drawn: int, n_available: int) -> Adaptive:
    """Where an adaptive run stands after a look at ``n_drawn`` of ``n_available`` items: the widest half-width
    among configurations and whether the rule is met (never, for results without capability items)."""
    watched = _watched(results)
    widths = [max(t - ci[0], ci[1] - t) for t, ci, _ in watched]
    discordant = [d for _, _, d in watched]
    reached = bool(watched) and bool(stop_now(widths, discordant, target).all())
    return Adaptive(
        target_half_width=target,
        chunk_size=chunk_size,
        n_drawn=n_drawn,
        n_available=n_available,
        half_width=max(widths, default=None),
        reached=reached,
    )
