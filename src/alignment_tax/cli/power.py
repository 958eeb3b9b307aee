"""`altax power` (formerly `altax plan`): the items per category needed to detect a tax."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from alignment_tax.cli.app import app, console, deprecated_alias, open_store, settings
from alignment_tax.cli.options import ResultsDir
from alignment_tax.errors import AltaxError


@app.command()
def power(
    tax: Annotated[float, typer.Option(help="Tax to detect, in points.")],
    power: Annotated[float, typer.Option(help="Probability of detecting it.")] = 0.8,
    alpha: Annotated[float, typer.Option(help="Two-sided level of McNemar's exact test.")] = 0.05,
    discordance: Annotated[
        float | None, typer.Option(help="Percent of items on which exactly one configuration is right.")
    ] = None,
    pilot: Annotated[
        str | None, typer.Option("--run", help="A stored pilot run giving each category's discordance.")
    ] = None,
    results_dir: ResultsDir = None,
) -> None:
    """Items per category needed to detect a tax with given power, from a discordance rate or a pilot run."""
    from alignment_tax.analysis.power import items_needed, plan_from_pilot

    if (discordance is None) == (pilot is None):
        raise AltaxError("give either --discordance PERCENT or --run RUN (a pilot run), not both or neither")
    if discordance is not None:
        n = items_needed(tax, discordance, power, alpha)
        console.print(
            f"{n} items per category detect a tax of {tax:g} points at {discordance:g}% discordance "
            f"with power {power:g} (McNemar's exact test, two-sided alpha {alpha:g})",
            highlight=False,
        )
        return
    from alignment_tax.workflows.experiment import analyse  # imports torch: only for a pilot run

    run_settings = settings(results_dir)
    with open_store(run_settings.store_path) as store:
        results = analyse(store, store.run(pilot).run_id, run_settings).results
    _print_pilot_plan(plan_from_pilot(results, tax, power, alpha), tax, power, alpha)


def _print_pilot_plan(rows, tax: float, power: float, alpha: float) -> None:
    table = Table("configuration", "category", "pilot items", "discordance", "items needed", title_justify="left")
    table.title = f"Items to detect a tax of {tax:g} points, power {power:g}, alpha {alpha:g} (McNemar exact)"
    for row in rows:
        needed = str(row.items_needed) if row.items_needed is not None else f"discordance < {abs(tax):g}%"
        table.add_row(row.config, row.category, str(row.pilot_items), f"{row.discordance:.1f}%", needed)
    console.print(table)


app.command("plan", hidden=True)(deprecated_alias(power, "plan", "power"))
