"""Two stored runs of one suite side by side: read from the store, diffed (analysis/diff.py), printed."""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.table import Table

from alignment_tax.analysis.diff import Change, RunDiff, diff_runs
from alignment_tax.errors import AltaxError
from alignment_tax.store import Store


@dataclass(frozen=True)
class StoredDiff:
    """Run B against run A: the diff over their shared items, with what the diff itself cannot see."""

    run_a: str
    run_b: str
    diff: RunDiff
    changed_a: int
    """Items only in A, or held by both with different content."""
    changed_b: int
    redefined: list[str]
    """Configurations whose definition (fingerprint) differs between the runs."""


def diff_stored_runs(store: Store, run_a: str, run_b: str, judge: str, *, n_boot: int, seed: int) -> StoredDiff:
    """Diff two stored runs of one suite over the items both hold with equal content, judged as ``judge``."""
    a, b = store.run(run_a), store.run(run_b)
    if a.suite_name != b.suite_name:
        raise AltaxError(f"run {a.run_id} used suite {a.suite_name!r} and {b.run_id} {b.suite_name!r}; diff one suite")
    items_a = {item.id: item for item in store.run_items(a.run_id)}
    items_b = {item.id: item for item in store.run_items(b.run_id)}
    shared = [i for i in items_a if i in items_b and items_a[i] == items_b[i]]
    defined_a, defined_b = ({c["name"]: c for c in store.run_configs(r.run_id)} for r in (a, b))
    result = diff_runs(
        store.judged_items(a.run_id, judge), store.judged_items(b.run_id, judge), shared, n_boot=n_boot, seed=seed
    )
    redefined = [c.config for c in result.configs if defined_a.get(c.config) != defined_b.get(c.config)]
    return StoredDiff(
        a.run_id, b.run_id, result, len(items_a) - result.n_items, len(items_b) - result.n_items, redefined
    )


def _change(change: Change) -> str:
    if change.change is None or change.change_ci is None:
        return "–"
    low, high = change.change_ci
    return f"{change.a:.1f}→{change.b:.1f} {change.change:+.1f} [{low:+.1f},{high:+.1f}]"


def print_diff(console: Console, stored: StoredDiff) -> None:
    """The changes per configuration with their CIs, then the flipped answers and what only one run holds."""
    result = stored.diff
    console.print(
        f"[bold]{stored.run_b}[/] against [bold]{stored.run_a}[/]: {result.n_items} shared items "
        f"({stored.changed_a} only or changed in A, {stored.changed_b} in B)",
        highlight=False,
    )
    table = Table(title="B − A, pp (paired bootstrap 95% CI)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("configuration")
    for column in ("accuracy", "safety coverage", "over-refusal", "changed"):
        table.add_column(column, justify="right", no_wrap=True)
    for config in result.configs:
        cells = [_change(config.metrics[m]) for m in ("accuracy", "coverage", "over_refusal")]
        table.add_row(config.config, *cells, str(sum(config.flips.values())))
    console.print(table)
    if stored.redefined:
        console.print(f"defined differently in the two runs: {', '.join(stored.redefined)}", highlight=False)
    for config in result.configs:
        if config.flips:
            flips = ", ".join(f"{label} ×{n}" for label, n in config.flips.items())
            console.print(f"{config.config}: {flips}", highlight=False, soft_wrap=True)
    for side, names in (("A", result.only_a), ("B", result.only_b)):
        if names:
            console.print(f"only in {side}: {', '.join(names)}", highlight=False)
