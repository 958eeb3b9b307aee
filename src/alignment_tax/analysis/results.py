"""The results file: per-configuration capability, paired tax and safety, built from judged rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from alignment_tax.analysis.paired import MacroTax, PairedTax, macro_tax, paired_tax
from alignment_tax.analysis.safety import SafetyStats, safety_stats
from alignment_tax.errors import AltaxError
from alignment_tax.outcomes import JudgedItem
from alignment_tax.suite.schema import CAPABILITY_CATEGORIES


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CapabilityStats(_Model):
    """Rates (percent) of one configuration over a set of capability items; ``tax`` against the reference
    (None for the reference itself)."""

    n: int
    accuracy: float
    refusal_rate: float
    partial_rate: float
    degenerate_rate: float
    tax: PairedTax | None = None


class ConfigResults(_Model):
    """Everything measured for one configuration."""

    is_reference: bool
    overall: CapabilityStats | None
    categories: dict[str, CapabilityStats]
    macro: MacroTax | None
    safety: SafetyStats


class Results(_Model):
    """The results file (schema_version 1); ``configs`` lists the reference first."""

    schema_version: Literal[1] = 1
    reference: str
    n_boot: int
    seed: int
    confidence: float = 0.95
    configs: dict[str, ConfigResults]

    def to_json(self, indent: int | None = 2) -> str:
        """The results file's text."""
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> Results:
        """Read a results file's text back."""
        return cls.model_validate_json(text)


def _index(rows: Sequence[JudgedItem], reference: str) -> dict[str, dict[str, JudgedItem]]:
    """Rows of sample 0 by configuration (reference first) and item id, checked for a common item set."""
    by_config: dict[str, dict[str, JudgedItem]] = {}
    for row in rows:
        if row.sample != 0:
            continue
        items = by_config.setdefault(row.config, {})
        if row.item_id in items:
            raise AltaxError(f"item {row.item_id!r} is judged twice for configuration {row.config!r}")
        items[row.item_id] = row
    if reference not in by_config:
        present = ", ".join(sorted(by_config)) or "none"
        raise AltaxError(f"reference configuration {reference!r} has no results (present: {present})")
    ref = by_config[reference]
    for name, items in by_config.items():
        missing, extra = sorted(ref.keys() - items.keys()), sorted(items.keys() - ref.keys())
        if missing or extra:
            raise AltaxError(
                f"configuration {name!r} does not cover the reference's items: {len(missing)} missing "
                f"(e.g. {missing[:3]}), {len(extra)} extra (e.g. {extra[:3]}); run both on the same suite"
            )
        for item_id, row in items.items():
            if (row.category, row.kind) != (ref[item_id].category, ref[item_id].kind):
                raise AltaxError(f"item {item_id!r} has a different category or kind in {name!r}")
    return {reference: ref} | {k: v for k, v in by_config.items() if k != reference}


def _category_order(categories: set[str]) -> list[str]:
    known = [c for c in CAPABILITY_CATEGORIES if c in categories]
    return known + sorted(categories - set(known))


def _capability(
    outcome: np.ndarray,
    correct: np.ndarray,
    ref: tuple[np.ndarray, np.ndarray] | None,
    n_boot: int,
    seed: int,
) -> CapabilityStats:
    tax = None if ref is None else paired_tax(*ref, outcome, correct, n_boot=n_boot, seed=seed)
    n = len(outcome)
    return CapabilityStats(
        n=n,
        accuracy=100 * int(correct.sum()) / n,
        refusal_rate=100 * int((outcome == "refused").sum()) / n,
        partial_rate=100 * int((outcome == "partial").sum()) / n,
        degenerate_rate=100 * int((outcome == "degenerate").sum()) / n,
        tax=tax,
    )


def summarize(rows: Sequence[JudgedItem], reference: str, *, n_boot: int = 2000, seed: int = 0) -> Results:
    """Summarize judged rows of every configuration against ``reference`` (rows with sample > 0 are
    ignored). Raises AltaxError when the reference is missing or configurations cover different items."""
    by_config = _index(rows, reference)
    ref_rows = by_config[reference]
    ids = sorted(i for i, r in ref_rows.items() if r.kind == "capability")
    category = np.array([ref_rows[i].category for i in ids], dtype=object)
    order = _category_order(set(category))

    def arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
        items = by_config[name]
        outcome = np.array([items[i].outcome for i in ids], dtype=object)
        return outcome, np.array([items[i].correct for i in ids], dtype=bool)

    ref_outcome, ref_correct = arrays(reference)
    configs: dict[str, ConfigResults] = {}
    for name, items in by_config.items():
        outcome, correct = arrays(name)
        is_ref = name == reference
        overall, macro = None, None
        categories: dict[str, CapabilityStats] = {}
        if ids:
            pair = None if is_ref else (ref_outcome, ref_correct)
            overall = _capability(outcome, correct, pair, n_boot, seed)
            for cat in order:
                mask = category == cat
                sub = None if is_ref else (ref_outcome[mask], ref_correct[mask])
                categories[cat] = _capability(outcome[mask], correct[mask], sub, n_boot, seed)
            if not is_ref:
                macro = macro_tax(ref_correct, correct, category.astype(str), n_boot=n_boot, seed=seed)
        configs[name] = ConfigResults(
            is_reference=is_ref,
            overall=overall,
            categories=categories,
            macro=macro,
            safety=safety_stats(items.values()),
        )
    return Results(reference=reference, n_boot=n_boot, seed=seed, configs=configs)
