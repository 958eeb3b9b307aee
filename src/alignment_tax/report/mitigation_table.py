"""A mitigation search on the terminal: finalists screened by the probe, their confirmation, the choice and effects."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from alignment_tax.analysis.inference import Interval
from alignment_tax.analysis.safety import Proportion
from alignment_tax.workflows.mitigate import MitigationResult


def _ci(value: float | None, interval: Interval | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if interval is None else f"{value:.1f} [{interval[0]:.1f}, {interval[1]:.1f}]"


def _share(p: Proportion) -> str:
    return _ci(p.percent, p.ci)


def _items(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in counts.items())


def print_mitigation(console: Console, result: MitigationResult) -> None:
    """Every candidate's screening (finalists marked), the confirmation of the base and the finalists with the
    criteria each breaks, the levers' main effects, and the chosen configuration."""
    screening = Table(title=f"Screening (probe, {result.screening_suite}); finalists marked >")
    for column in ("configuration", "coverage %", "over-refusal %"):
        screening.add_column(column, justify="left" if column == "configuration" else "right")
    for row in result.screened:
        name = ("> " if row.finalist else "  ") + row.name
        screening.add_row(name, _ci(row.coverage, row.coverage_ci), _ci(row.over_refusal, row.over_refusal_ci))
    console.print(screening)
    console.print(
        f"{len(result.screened) - 1} candidates screened on {_items(result.screening_items)} items; probe threshold "
        f"{result.probe_threshold:g} ({result.probe_threshold_source}); coverage floor {result.screening_floor:.1f}%",
        highlight=False,
    )
    confirmation = Table(title=f"Confirmation (run {result.run_id}, {result.confirmation_suite})")
    for column in ("configuration", "coverage %", "over-refusal %", "tax vs base (pp)", "fails"):
        confirmation.add_column(column, justify="left" if column in ("configuration", "fails") else "right")
    for confirmed in result.confirmed:
        mark = " *" if confirmed.name == result.chosen else ""
        confirmation.add_row(
            confirmed.name + mark,
            _share(confirmed.coverage),
            _share(confirmed.over_refusal),
            _ci(confirmed.tax, confirmed.tax_ci),
            "; ".join(confirmed.broken) or "-",
        )
    console.print(confirmation)
    console.print(
        f"95% intervals; {_items(result.confirmation_items)} confirmation items, disjoint from the screening ones; "
        f"coverage floor {result.confirmation_floor:.1f}%",
        highlight=False,
    )
    if result.effects:
        effects = Table(title="Main effect of each lever on over-refusal (points, confirmed configurations)")
        for column in ("lever", "with", "without", "difference [95% CI]"):
            effects.add_column(column, justify="left" if column == "lever" else "right")
        for e in result.effects:
            effects.add_row(e.lever, str(e.with_lever), str(e.without), _ci(e.difference, e.ci))
        console.print(effects)
    chosen = f"[bold]chosen: {result.chosen}[/]" if result.chosen else "[bold]nothing chosen[/]"
    console.print(
        f"{chosen} ({result.reason}). The screening split chose the finalists; the confirmation split measured "
        "them and made this choice.",
        highlight=False,
    )
