"""`altax power` (formerly `altax plan`): the items per category needed to detect a tax."""

from __future__ import annotations

from typing import Annotated

import typer

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
    from alignment_tax.report.power_table import needed_line, pilot_table

    if (discordance is None) == (pilot is None):
        raise AltaxError("give either --discordance PERCENT or --run RUN (a pilot run), not both or neither")
    if discordance is not None:
        n = items_needed(tax, discordance, power, alpha)
        console.print(needed_line(n, tax, discordance, power, alpha), highlight=False)
        return
    from alignment_tax.workflows.experiment import analyse  # imports torch: only for a pilot run

    run_settings = settings(results_dir)
    with open_store(run_settings.store_path) as store:
        results = analyse(store, store.run(pilot).run_id, run_settings).results
    console.print(pilot_table(plan_from_pilot(results, tax, power, alpha), tax, power, alpha))


app.command("plan", hidden=True)(deprecated_alias(power, "plan", "power"))
