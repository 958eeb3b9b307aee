"""The log-likelihood check on the terminal: per configuration, accuracy by log-likelihood against accuracy by
generation, and the refusal-driven tax estimated from the two."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from alignment_tax.analysis.loglik import LoglikRow


def loglik_table(rows: Sequence[LoglikRow], target: str) -> Table:
    """One row per configuration: both accuracies and their gap, the refusal rate, both taxes, the
    refusal-driven tax estimated as their difference (bootstrap 95% CI) beside the judged one."""
    table = Table(title=f"Log-likelihood vs generation, {rows[0].n if rows else 0} multiple-choice items ({target})")
    for column in ("configuration", "loglik acc", "gen acc", "gap", "refused", "gen tax", "loglik tax"):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    table.add_column("refusal-driven: estimate [95% CI]", justify="right")
    table.add_column("judged", justify="right")
    for row in rows:
        low, high = row.refusal_estimate_ci
        table.add_row(
            row.config,
            f"{row.loglik_accuracy:.1f}%",
            f"{row.generation_accuracy:.1f}%",
            f"{row.gap:+.1f}",
            f"{row.refusal_rate:.1f}%",
            f"{row.generation_tax:+.1f}",
            f"{row.loglik_tax:+.1f}",
            f"{row.refusal_estimate:+.1f} [{low:+.1f},{high:+.1f}]",
            f"{row.refusal_driven:+.1f}",
        )
    return table
