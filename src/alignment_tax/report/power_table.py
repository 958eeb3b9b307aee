"""What `altax power` prints: the items one discordance needs, or a pilot run's table of items per category."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from alignment_tax.analysis.power import PlanRow


def needed_line(n: int, tax: float, discordance: float, power: float, alpha: float) -> str:
    """The sentence for ``n`` items per category at a given discordance."""
    return (
        f"{n} items per category detect a tax of {tax:g} points at {discordance:g}% discordance "
        f"with power {power:g} (McNemar's exact test, two-sided alpha {alpha:g})"
    )


def pilot_table(rows: Sequence[PlanRow], tax: float, power: float, alpha: float) -> Table:
    """Items needed per configuration and category of a pilot run, with the pilot's discordance."""
    table = Table("configuration", "category", "pilot items", "discordance", "items needed", title_justify="left")
    table.title = f"Items to detect a tax of {tax:g} points, power {power:g}, alpha {alpha:g} (McNemar exact)"
    for row in rows:
        needed = str(row.items_needed) if row.items_needed is not None else f"discordance < {abs(tax):g}%"
        table.add_row(row.config, row.category, str(row.pilot_items), f"{row.discordance:.1f}%", needed)
    return table
