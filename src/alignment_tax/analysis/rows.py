"""Judged rows checked and laid out for analysis: items x samples arrays per configuration, and clusters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from alignment_tax.errors import AltaxError
from alignment_tax.records import JudgedItem
from alignment_tax.suite.schema import CAPABILITY_CATEGORIES

Cluster = Literal["item", "group", "category"]
CLUSTERS: tuple[Cluster, ...] = ("item", "group", "category")


@dataclass(frozen=True)
class ItemTable:
    """Capability items (sorted by id) with each configuration's outcomes and correctness (items x K)."""

    names: list[str]
    ids: list[str]
    k: int
    category: np.ndarray
    group: np.ndarray
    outcome: dict[str, np.ndarray]
    correct: dict[str, np.ndarray]
    safety_rows: dict[str, list[JudgedItem]]
    cluster: Cluster

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def categories(self) -> list[str]:
        present = set(self.category)
        known = [c for c in CAPABILITY_CATEGORIES if c in present]
        return known + sorted(present - set(known))

    def clusters(self, category: str | None) -> np.ndarray | None:
        """Cluster labels of all items (``category`` None) or of one category's items; None: each item alone,
        also where the items fall in a single cluster (one cluster cannot be resampled: the interval then speaks
        for that source's items, as for HumanEval or MMLU's one computer-security topic)."""
        mask = slice(None) if category is None else self.category == category
        if self.cluster == "category" and category is None:
            labels = self.category
        elif self.cluster == "item" or not any(g is not None for g in self.group[mask]):
            return None
        else:
            labels = np.array([g if g is not None else f"item:{i}" for g, i in zip(self.group, self.ids, strict=True)])
        labels = labels[mask]
        return labels if len(set(labels)) > 1 else None


def _label(key: tuple[str, int]) -> str:
    return key[0] if key[1] == 0 else f"{key[0]} (sample {key[1]})"


def _check(by_config: dict[str, dict[tuple[str, int], JudgedItem]], reference: str) -> None:
    if reference not in by_config:
        present = ", ".join(sorted(by_config)) or "none"
        raise AltaxError(f"reference configuration {reference!r} has no results (present: {present})")
    ref = by_config[reference]
    for name, rows in by_config.items():
        missing, extra = (
            sorted(_label(key) for key in keys) for keys in (ref.keys() - rows.keys(), rows.keys() - ref.keys())
        )
        if missing or extra:
            raise AltaxError(
                f"configuration {name!r} does not cover the reference's items: {len(missing)} missing "
                f"(e.g. {missing[:3]}), {len(extra)} extra (e.g. {extra[:3]}); run both on the same suite"
            )
        for key, row in rows.items():
            if (row.category, row.kind) != (ref[key].category, ref[key].kind):
                raise AltaxError(f"item {key[0]!r} has a different category or kind in {name!r}")


def index_rows(rows: Sequence[JudgedItem], reference: str, cluster: Cluster) -> ItemTable:
    """Check that every configuration judged the reference's items and samples once each, and lay them out."""
    if cluster not in CLUSTERS:
        raise AltaxError(f"unknown clustering {cluster!r}; choose one of {', '.join(CLUSTERS)}")
    by_config: dict[str, dict[tuple[str, int], JudgedItem]] = {}
    for row in rows:
        judged = by_config.setdefault(row.config, {})
        if (row.item_id, row.sample) in judged:
            raise AltaxError(f"item {row.item_id!r} is judged twice for configuration {row.config!r}")
        judged[(row.item_id, row.sample)] = row
    _check(by_config, reference)
    ref = by_config[reference]
    samples: dict[str, set[int]] = {}
    for item_id, sample in ref:
        samples.setdefault(item_id, set()).add(sample)
    k = max(map(len, samples.values()), default=1)
    uneven = sorted(i for i, s in samples.items() if s != set(range(k)))
    if uneven:
        raise AltaxError(f"items {uneven[:3]} lack some of samples 0..{k - 1}; run the experiment again to fill them")
    ids = sorted(i for (i, s), r in ref.items() if s == 0 and r.kind == "capability")
    names = [reference, *(c for c in by_config if c != reference)]

    def grid(name: str, field: str, dtype: type) -> np.ndarray:
        judged = by_config[name]
        return np.array([[getattr(judged[(i, s)], field) for s in range(k)] for i in ids], dtype=dtype).reshape(-1, k)

    return ItemTable(
        names=names,
        ids=ids,
        k=k,
        category=np.array([ref[(i, 0)].category for i in ids], dtype=object),
        group=np.array([ref[(i, 0)].group for i in ids], dtype=object),
        outcome={c: grid(c, "outcome", object) for c in names},
        correct={c: grid(c, "correct", bool) for c in names},
        safety_rows={c: [r for (_, s), r in by_config[c].items() if s == 0 and r.kind != "capability"] for c in names},
        cluster=cluster,
    )
