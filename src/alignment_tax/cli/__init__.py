"""The `altax` command; each module below registers its commands on the shared app."""

from alignment_tax.cli import (  # noqa: F401  (registers the commands)
    align,
    card,
    experiment,
    gate,
    gateway,
    importing,
    judge,
    loglik,
    mitigate,
    monitor,
    power,
    probe,
    report,
    route,
    runs,
    serve,
    steer,
    suites,
)
from alignment_tax.cli.app import app

__all__ = ["app"]
