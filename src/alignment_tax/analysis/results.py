"""The results file: per-configuration capability, paired tax, aggregates and safety, built from judged rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from alignment_tax.analysis.aggregates import Aggregate, Workload, weighted_tax
from alignment_tax.analysis.inference import benjamini_hochberg
from alignment_tax.analysis.paired import PairedItems, PairedTax, tax_of
from alignment_tax.analysis.rows import Cluster, ItemTable, index_rows
from alignment_tax.analysis.safety import SafetyStats, safety_stats


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CapabilityStats(_Model):
    """Rates (percent, over all samples) of one configuration over a set of capability items; ``tax`` against
    the reference (None for the reference itself)."""

    n: int
    accuracy: float
    refusal_rate: float
    partial_rate: float
    degenerate_rate: float
    tax: PairedTax | None = None


class ConfigResults(_Model):
    """Everything measured for one configuration; ``overall.tax`` is the micro tax (all items)."""

    is_reference: bool
    overall: CapabilityStats | None
    categories: dict[str, CapabilityStats]
    macro: Aggregate | None
    workload: Aggregate | None
    safety: SafetyStats


class Adaptive(_Model):
    """How an adaptive run (``--target-ci``) ended: items drawn of those available, the widest tax half-width
    among configurations (None without capability items), and whether the stopping rule was met."""

    target_half_width: float
    chunk_size: int
    n_drawn: int
    n_available: int
    half_width: float | None
    reached: bool


class Results(_Model):
    """The results file (schema_version 2); ``configs`` lists the reference first."""

    schema_version: Literal[2] = 2
    reference: str
    n_boot: int
    seed: int
    confidence: float = 0.95
    cluster: Cluster
    samples: int
    configs: dict[str, ConfigResults]
    adaptive: Adaptive | None = None

    def to_json(self, indent: int | None = 2) -> str:
        """The results file's text."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> Results:
        """Read a results file's text back."""
        return cls.model_validate_json(text)


def refusal_share(config: ConfigResults) -> float | None:
    """Refusal-driven loss as a percent of the gross loss (refusal-driven + capability loss); None without loss."""
    tax = config.overall.tax if config.overall else None
    if tax is None or tax.refusal_driven + tax.capability_loss <= 0:
        return None
    return 100 * tax.refusal_driven / (tax.refusal_driven + tax.capability_loss)


def _capability(outcome: np.ndarray, correct: np.ndarray, tax: PairedTax | None) -> CapabilityStats:
    size = outcome.size
    return CapabilityStats(
        n=outcome.shape[0],
        accuracy=100 * int(correct.sum()) / size,
        refusal_rate=100 * int((outcome == "refused").sum()) / size,
        partial_rate=100 * int((outcome == "partial").sum()) / size,
        degenerate_rate=100 * int((outcome == "degenerate").sum()) / size,
        tax=tax,
    )


def _with_bh(categories: dict[str, CapabilityStats]) -> dict[str, CapabilityStats]:
    """Attach Benjamini-Hochberg adjusted McNemar p-values across categories."""
    taxed = {c: s.tax for c, s in categories.items() if s.tax is not None}
    adjusted = benjamini_hochberg([tax.mcnemar.p_value for tax in taxed.values()])
    out = dict(categories)
    for (c, tax), p in zip(taxed.items(), adjusted, strict=True):
        out[c] = categories[c].model_copy(update={"tax": tax.model_copy(update={"p_adjusted": float(p)})})
    return out


def _config(table: ItemTable, name: str, ref: str, workload: Workload | None, n_boot: int, seed: int) -> ConfigResults:
    outcome, correct = table.outcome[name], table.correct[name]
    is_ref = name == ref
    overall, macro, weighted, categories = None, None, None, {}
    if table.n:
        pairs = None if is_ref else PairedItems(table.outcome[ref], table.correct[ref], outcome, correct)
        overall = _capability(
            outcome, correct, None if pairs is None else tax_of(pairs, table.clusters(None), n_boot, seed)
        )
        diffs, clusters = {}, {}
        for cat in table.categories:
            mask = table.category == cat
            sub = None if pairs is None else pairs.subset(mask)
            categories[cat] = _capability(
                outcome[mask], correct[mask], None if sub is None else tax_of(sub, table.clusters(cat), n_boot, seed)
            )
            if sub is not None:
                diffs[cat], clusters[cat] = sub.diff, table.clusters(cat)
        if pairs:
            categories = _with_bh(categories)
            macro = weighted_tax(diffs, clusters, {c: 1 / len(diffs) for c in diffs})
            if workload is not None:
                weighted = weighted_tax(diffs, clusters, workload.weights(table.categories))
    return ConfigResults(
        is_reference=is_ref,
        overall=overall,
        categories=categories,
        macro=macro,
        workload=weighted,
        safety=safety_stats(table.safety_rows[name]),
    )


def summarize(
    rows: Sequence,
    reference: str,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    cluster: Cluster = "group",
    workload: Workload | None = None,
) -> Results:
    """Summarize judged rows (``JudgedItem``) of every configuration against ``reference``.

    Every item carries the same K samples (0..K-1) in every configuration; capability statistics average them
    per item, safety uses sample 0. ``cluster`` picks the clusters of standard errors and bootstraps: ``item``,
    ``group`` (an item's group, else the item itself) or ``category`` (the overall tax only; categories then
    cluster by group). Raises AltaxError when the reference is missing, items differ or samples are uneven."""
    table = index_rows(rows, reference, cluster)
    configs = {name: _config(table, name, reference, workload, n_boot, seed) for name in table.names}
    return Results(reference=reference, n_boot=n_boot, seed=seed, cluster=cluster, samples=table.k, configs=configs)
