"""Per-item changes between two sets of judged answers: status flips and paired differences of two runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from alignment_tax.analysis.frontier import Interval, bootstrap_percent, hit
from alignment_tax.errors import AltaxError
from alignment_tax.records import JudgedItem

CHANGE_METRICS = {"accuracy": "capability", "coverage": "harmful", "over_refusal": "benign"}
"""Each compared metric and the kind of item it is measured on."""


def item_status(kind: str, outcome: str, correct: bool) -> str:
    """A judged answer in one word: ``refused`` first; then for capability items ``correct`` or ``wrong``
    (attempted and not right, degenerate included); for harmful and benign items ``partial``,
    ``degenerate`` or ``answered``."""
    if outcome == "refused":
        return "refused"
    if kind == "capability":
        return "correct" if correct else "wrong"
    return outcome if outcome in ("partial", "degenerate") else "answered"


def flip_label(before: str, after: str) -> str:
    """``"before → after"`` for a changed status, ``"unchanged"`` otherwise."""
    return "unchanged" if before == after else f"{before} → {after}"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Change(_Model):
    """A metric (percent) in run A and run B over the same items, and B - A with a paired bootstrap 95% CI;
    all None when there are no items of its kind."""

    n: int
    a: float | None
    b: float | None
    change: float | None
    change_ci: Interval | None


class ConfigDiff(_Model):
    """One configuration present in both runs: metric changes and counts of per-item status flips."""

    config: str
    metrics: dict[str, Change]
    flips: dict[str, int]


class RunDiff(_Model):
    """Run B against run A over the items both hold with the same content (sample 0)."""

    n_items: int
    configs: list[ConfigDiff]
    only_a: list[str]
    only_b: list[str]
    n_boot: int
    seed: int


def _by_config(rows: Sequence[JudgedItem], items: set[str]) -> dict[str, dict[str, JudgedItem]]:
    table: dict[str, dict[str, JudgedItem]] = {}
    for row in rows:
        if row.sample == 0 and row.item_id in items:
            table.setdefault(row.config, {})[row.item_id] = row
    return table


def _status(row: JudgedItem) -> str:
    return item_status(row.kind, row.outcome, row.correct)


def _change(a: np.ndarray, b: np.ndarray, n_boot: int, rng: np.random.Generator) -> Change:
    if a.size == 0:
        return Change(n=0, a=None, b=None, change=None, change_ci=None)
    draws = bootstrap_percent(np.stack([a, b]), n_boot, rng)
    low, high = np.percentile(draws[:, 1] - draws[:, 0], [2.5, 97.5])
    pa, pb = 100 * a.mean(), 100 * b.mean()
    return Change(n=a.size, a=float(pa), b=float(pb), change=float(pb - pa), change_ci=(float(low), float(high)))


def diff_runs(
    rows_a: Sequence[JudgedItem],
    rows_b: Sequence[JudgedItem],
    items: Sequence[str],
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> RunDiff:
    """Compare every configuration both runs share, over ``items`` (ids both runs hold with equal content):
    accuracy (capability items), coverage (harmful refused) and over-refusal (benign refused)."""
    if not items:
        raise AltaxError("the two runs share no items with the same content; compare runs of one suite")
    if n_boot < 1:
        raise AltaxError(f"n_boot must be at least 1, got {n_boot}")
    common = set(items)
    table_a, table_b = _by_config(rows_a, common), _by_config(rows_b, common)
    shared = [name for name in table_a if name in table_b]
    if not shared:
        raise AltaxError("the two runs share no configuration name; nothing to compare")
    rng = np.random.default_rng(seed)
    ids = sorted(common)
    configs = []
    for name in shared:
        a, b = table_a[name], table_b[name]
        missing = [i for i in ids if i not in a or i not in b]
        if missing:
            raise AltaxError(f"configuration {name!r} has no judged answer for {len(missing)} items, e.g. {missing[0]}")
        metrics = {}
        for metric, kind in CHANGE_METRICS.items():
            picked = [i for i in ids if a[i].kind == kind]
            hits_a = np.array([hit(a[i]) for i in picked], dtype=bool)
            metrics[metric] = _change(hits_a, np.array([hit(b[i]) for i in picked], dtype=bool), n_boot, rng)
        flips = Counter(f"{a[i].kind}: {flip_label(_status(a[i]), _status(b[i]))}" for i in ids)
        changed = {label: n for label, n in sorted(flips.items()) if not label.endswith("unchanged")}
        configs.append(ConfigDiff(config=name, metrics=metrics, flips=changed))
    return RunDiff(
        n_items=len(ids),
        configs=configs,
        only_a=[n for n in table_a if n not in table_b],
        only_b=[n for n in table_b if n not in table_a],
        n_boot=n_boot,
        seed=seed,
    )
