"""The `altax` command; each module below registers its commands on the shared app."""

from alignment_tax.cli import (  # noqa: F401  (registers the commands)
    align,
    judging,
    loglik,
    power,
    probing,
    reporting,
    route,
    runs,
    serve,
    steer,
    suites,
    tasks,
)
from alignment_tax.cli.app import app

__all__ = ["app"]
