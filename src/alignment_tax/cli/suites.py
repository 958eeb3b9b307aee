"""`altax suites` and `altax suite check`: list bundled suites and validate suite files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console

suite_app = typer.Typer(help="Work with suite files.", no_args_is_help=True)
app.add_typer(suite_app, name="suite")


@app.command()
def suites() -> None:
    """List the bundled and standard suites with source, version, licence and item counts."""
    from alignment_tax.report.suite_tables import suites_table

    console.print(suites_table())


@suite_app.command("check")
def suite_check(file: Annotated[Path, typer.Argument(help="A .jsonl or .csv suite file.")]) -> None:
    """Validate a suite file and summarise it by kind and category."""
    from alignment_tax.report.suite_tables import kinds_table
    from alignment_tax.suite.loaders import load_suite_file

    suite = load_suite_file(file)
    console.print(kinds_table(suite))
    console.print(f"{file}: {len(suite.items)} valid items, version {suite.version}", highlight=False)
