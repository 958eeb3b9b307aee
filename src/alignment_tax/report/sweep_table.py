"""The steering sweep on the terminal: every (layer, strength) setting on both halves of the items, and the choice."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from alignment_tax.analysis.sweep import SweepResult


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_sweep(console: Console, result: SweepResult) -> None:
    """Each setting's numbers on the tuning and the held-out half, the chosen one starred, and why it was chosen."""
    table = Table(title=f"Steering sweep: {result.direction} ({result.mode}), tuning half | held-out half")
    columns = ("tax", "coverage", "over-refusal", "degenerate")
    for column in ("setting", *columns, *(("| " if c == "tax" else "") + c for c in columns)):
        table.add_column(column, justify="left" if column == "setting" else "right")
    for point in result.points:
        t, h = point.tuning, point.held_out
        mark = " *" if point.name == result.chosen else ""
        table.add_row(
            point.name + mark,
            _pct(t.tax),
            _pct(t.coverage),
            _pct(t.over_refusal),
            _pct(t.degenerate),
            _pct(h.tax),
            _pct(h.coverage),
            _pct(h.over_refusal),
            _pct(h.degenerate),
        )
    console.print(table)
    n_tune, n_held = result.points[0].tuning.n_items, result.points[0].held_out.n_items
    console.print(f"percent; tax in points against the unsteered reference; {n_tune} tuning / {n_held} held-out items")
    if result.chosen is None:
        console.print(f"[bold]no setting chosen[/]: {result.reason}")
        return
    chosen = next(p for p in result.points if p.name == result.chosen).held_out
    console.print(
        f"[bold]chosen: {result.chosen}[/] ({result.reason}); held out: tax {_pct(chosen.tax)} points, "
        f"coverage {_pct(chosen.coverage)}%, over-refusal {_pct(chosen.over_refusal)}%, "
        f"degenerate {_pct(chosen.degenerate)}%",
        highlight=False,
    )
