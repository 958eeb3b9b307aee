"""The `altax` command; each module below registers its commands on the shared app."""

from alignment_tax.cli import align, judging, loglik, probing, reporting, runs, serve, stats, suites, tasks  # noqa: F401  (registers the commands)
from alignment_tax.cli.app import app

__all__ = ["app"]
