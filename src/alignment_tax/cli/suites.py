"""`altax suites` and `altax suite check`: list bundled suites and validate suite files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from alignment_tax.cli.app import app, console

suite_app = typer.Typer(help="Work with suite files.", no_args_is_help=True)
app.add_typer(suite_app, name="suite")


@app.command()
def suites() -> None:
    """List the bundled and standard suites with source, version, licence and item counts."""
    from alignment_tax.errors import AltaxError
    from alignment_tax.suite.loaders import STANDARD_PARTS, bundled_suites, standard_suite
    from alignment_tax.suite.standard import SOURCES

    table = Table("suite", "source", "version", "licence", "items", "description")
    for suite in bundled_suites():
        table.add_row(suite.name, "alignment-tax", suite.version, "project", str(len(suite.items)), suite.description)
    for name in (*STANDARD_PARTS, "standard"):
        source = SOURCES.get(name)
        try:
            loaded = standard_suite(name)
        except AltaxError as error:
            table.add_row(name, source.package if source else "", "", "", "-", str(error))
            continue
        package = source.package if source else "the four above + core benign"
        licence = source.licence if source else "as its parts"
        version = source.version if source else "its parts'"
        table.add_row(name, package, version, licence, str(len(loaded.items)), loaded.description)
    console.print(table)


@suite_app.command("check")
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
