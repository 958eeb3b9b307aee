"""Seeded stratified samples of a suite: every category keeps its share of the items."""

from __future__ import annotations

import random
from collections.abc import Sequence

from alignment_tax.suite.schema import Item


def stratified_sample(items: Sequence[Item], n: int, seed: int) -> list[Item]:
    """``n`` items (all of them if fewer), split over categories in proportion to their sizes by largest
    remainder, at least one per category while ``n`` allows; drawn with ``seed``, returned in suite order."""
    if n >= len(items):
        return list(items)
    by_category: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        by_category.setdefault(item.category, []).append(index)
    quotas = {category: n * len(indices) / len(items) for category, indices in by_category.items()}
    counts = {category: int(quota) for category, quota in quotas.items()}
    for category in sorted(counts):  # a floor of one item per category while n allows
        if counts[category] == 0 and sum(counts.values()) < n:
            counts[category] = 1
    by_remainder = sorted(quotas, key=lambda c: (counts[c] - quotas[c], c))
    for category in by_remainder[: n - sum(counts.values())]:
        counts[category] += 1
    rng = random.Random(seed)
    chosen = {i for category, indices in sorted(by_category.items()) for i in rng.sample(indices, counts[category])}
    return [item for index, item in enumerate(items) if index in chosen]
