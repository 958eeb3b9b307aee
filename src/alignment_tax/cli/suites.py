"""`altax suites` and `altax suite check`: list bundled suites and validate suite files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from alignment_tax.cli.app import app, console, friendly

suite_app = typer.Typer(help="Work with suite files.", no_args_is_help=True)
app.add_typer(suite_app, name="suite")


@app.command()
@friendly
def suites() -> None:
    """List the bundled suites."""
    from alignment_tax.suite.loaders import bundled_suites

    table = Table("suite", "version", "items", "description")
    for suite in bundled_suites():
        table.add_row(suite.name, suite.version, str(len(suite.items)), suite.description)
    console.print(table)


@suite_app.command("check")
@friendly
def suite_check(file: Annotated[Path, typer.Argument(help="A .jsonl or .csv suite file.")]) -> None:
    """Validate a suite file and summarise it by kind and category."""
    from alignment_tax.suite.loaders import load_suite_file

    suite = load_suite_file(file)
    counts = Counter((item.kind, item.category) for item in suite.items)
    table = Table("kind", "category", "items")
    for (kind, category), n in sorted(counts.items()):
        table.add_row(kind, category, str(n))
    console.print(table)
    console.print(f"{file}: {len(suite.items)} valid items, version {suite.version}", highlight=False)
