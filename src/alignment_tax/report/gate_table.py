"""The gate in the terminal: a table of checks with their intervals and verdicts, then the overall verdict."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alignment_tax.analysis.gate import LABELS, GateReport
from alignment_tax.report.gate_text import interval_text, level_note, rule_text, verdict, workload_note


def print_gate(console: Console, report: GateReport) -> None:
    """Print every check (configuration, measure, interval, bound against threshold, verdict) and the verdict."""
    title = f"Release gate, run {report.run_id}, detector {report.detector} ({100 * report.confidence:g}% CIs)"
    table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("configuration", "measure", "estimate [CI]", "check", "verdict"):
        table.add_column(column, no_wrap=column != "check")
    for check in report.checks:
        style = "green" if check.passed else "bold red"
        table.add_row(
            escape(check.config),
            LABELS[check.measure],
            interval_text(check),
            rule_text(check),
            f"[{style}]{verdict(check.passed)}[/]",
        )
    console.print(table)
    for note in (workload_note(report), level_note(report)):
        if note:
            console.print(escape(note), style="dim", highlight=False)
    failed = [c for c in report.checks if not c.passed]
    if failed:
        console.print(f"[bold red]gate failed[/]: {len(failed)} of {len(report.checks)} checks", highlight=False)
    else:
        console.print(f"[green]gate passed[/]: {len(report.checks)} checks", highlight=False)
