"""`altax plan` and the analysis options shared by run and show (workload file, clustering)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from alignment_tax.cli.app import ResultsDir, app, console, friendly, open_store, settings
from alignment_tax.errors import AltaxError

WorkloadFile = Annotated[
    Path | None,
    typer.Option("--workload", help="TOML/JSON file of category -> share of your traffic: adds the workload tax."),
]
ClusterBy = Annotated[
    str, typer.Option("--cluster", help="Clusters for standard errors and bootstraps: item, group or category.")
]


@app.command()
@friendly
def plan(
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
    from alignment_tax.pipeline import analyse

    run_settings = settings(results_dir)
    with open_store(run_settings.store_path) as store:
        results = analyse(store, store.run(pilot).run_id, run_settings).results
    table = Table("configuration", "category", "pilot items", "discordance", "items needed", title_justify="left")
    table.title = f"Items to detect a tax of {tax:g} points, power {power:g}, alpha {alpha:g} (McNemar exact)"
    for row in plan_from_pilot(results, tax, power, alpha):
        needed = str(row.items_needed) if row.items_needed is not None else f"discordance < {abs(tax):g}%"
        table.add_row(row.config, row.category, str(row.pilot_items), f"{row.discordance:.1f}%", needed)
    console.print(table)
