"""Suite tables: the bundled and standard suites with their provenance, and one suite file's items by kind."""

from __future__ import annotations

from collections import Counter

from rich.table import Table

from alignment_tax.errors import AltaxError
from alignment_tax.suite import loaders
from alignment_tax.suite.loaders import STANDARD_PARTS, Suite, standard_suite
from alignment_tax.suite.standard import SOURCES


def suites_table() -> Table:
    """Every bundled and standard suite: source, version, licence, item count and description; a standard suite
    whose package is missing says why in place of its count."""
    table = Table("suite", "source", "version", "licence", "items", "description")
    for suite in loaders.bundled_suites():
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
    return table


def kinds_table(suite: Suite) -> Table:
    """The suite's item count per kind and category."""
    counts = Counter((item.kind, item.category) for item in suite.items)
    table = Table("kind", "category", "items")
    for (kind, category), n in sorted(counts.items()):
        table.add_row(kind, category, str(n))
    return table
