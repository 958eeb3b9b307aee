"""`python -m alignment_tax` runs the `altax` command."""

from alignment_tax.cli import app

app()
