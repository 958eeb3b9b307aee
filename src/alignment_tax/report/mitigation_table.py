"""A mitigation search on the terminal: the probe's screening, the confirmation's frontier, lever effects, choice."""

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


_CHOSEN_BY = {"reference": "base", "screening": "screening split", "design": "design cell"}
_MEASURES = {"over_refusal": "over-refusal", "coverage": "coverage", "tax": "tax"}


def print_mitigation(console: Console, result: MitigationResult) -> None:
    """Every candidate's screening (finalists marked), the frontier of the confirmed configurations with the criteria
    each breaks, the levers' factorial effects, and the chosen configuration."""
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
    console.print(_frontier_table(result))
    console.print(
        f"95% intervals (coverage and over-refusal Wilson, tax the run's paired t); frontier: not dominated on the "
        f"three measures among the confirmed configurations (P: share of bootstrap draws); "
        f"{_items(result.confirmation_items)} confirmation items, disjoint from the screening ones; coverage floor "
        f"{result.confirmation_floor:.1f}%",
        highlight=False,
    )
    if result.factorial:
        console.print(_factorial_table(result))
    chosen = f"[bold]chosen: {result.chosen}[/]" if result.chosen else "[bold]nothing chosen[/]"
    console.print(
        f"{chosen} ({result.reason}). The screening split chose the finalists; the confirmation split measured "
        "them and made this choice.",
        highlight=False,
    )


def _frontier_table(result: MitigationResult) -> Table:
    """The confirmed configurations: what chose each, the three measures with intervals, frontier membership."""
    table = Table(
        title=f"Frontier of the confirmation split (measured by run {result.run_id}, {result.confirmation_suite})"
    )
    columns = (
        "configuration",
        "chosen by",
        "coverage %",
        "over-refusal %",
        "tax vs base (pp)",
        "frontier (P)",
        "fails",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("configuration", "chosen by", "fails") else "right")
    for row in result.confirmed:
        table.add_row(
            row.name + (" *" if row.name == result.chosen else ""),
            _CHOSEN_BY[row.chosen_by],
            _share(row.coverage),
            _share(row.over_refusal),
            _ci(row.tax, row.tax_ci),
            f"{'yes' if row.on_frontier else 'no'} ({row.frontier_probability:.2f})",
            "; ".join(row.broken) or "-",
        )
    return table


def _factorial_table(result: MitigationResult) -> Table:
    """Each design's main effects and interactions with intervals, or the cells it lacks."""
    table = Table(title="Factorial effects of the levers (points, 95% bootstrap CI over confirmation items)")
    for column in ("design", "term", *_MEASURES.values()):
        table.add_column(column, justify="left" if column in ("design", "term") else "right")
    for design in result.factorial:
        name = " x ".join(design.factors)
        if design.missing:
            table.add_row(name, f"not estimable: no {', '.join(design.missing)} confirmed", *("-" for _ in _MEASURES))
            continue
        for term in design.terms:
            label = term.term if term.kind == "interaction" or len(design.factors) > 1 else f"{term.term} vs base"
            cells = [_ci(e.estimate, e.ci) if (e := term.effects.get(m)) else "-" for m in _MEASURES]
            table.add_row(name, f"{label} ({term.kind})", *cells)
            name = ""
    return table
