"""The `altax` Typer app: one place that turns a user error into a line on stderr, and the store helpers."""

from __future__ import annotations

from functools import wraps
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from alignment_tax.errors import AltaxError


class FriendlyGroup(TyperGroup):
    """Runs every command: a project error prints one line and exits 2 (the traceback only with --debug),
    Ctrl-C says how to resume and exits 130."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AltaxError as error:
            if ctx.params.get("debug"):
                raise
            Console(stderr=True).print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            Console(stderr=True).print("interrupted: finished batches are stored; run again to resume")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=FriendlyGroup, help="Measure the alignment tax: what safety costs a model in capability.", no_args_is_help=True
)
console = Console() if Console().is_terminal else Console(width=120)


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    """Measure the alignment tax: what safety costs a model in capability."""


def renamed(old: str, new: str) -> None:
    """Tell on stderr that ``altax OLD`` is now ``altax NEW`` and that the old name goes away."""
    Console(stderr=True).print(
        f"note: `altax {old}` is now `altax {new}`; the old name goes away in the next release",
        highlight=False,
        soft_wrap=True,
    )


def deprecated_alias(command, old: str, new: str):
    """``command`` under its old name: the same options, and a notice on stderr naming the new command."""

    @wraps(command)
    def alias(**options):
        renamed(old, new)
        return command(**options)

    alias.__doc__ = f"Deprecated name of `altax {new}`."
    return alias


def settings(results_dir: Path | None, **options):
    """Pipeline settings from command-line options (``results_dir`` None keeps the default)."""
    from alignment_tax.workflows.experiment import Settings

    if results_dir is not None:
        options["results_dir"] = results_dir
    return Settings(**options)


def open_store(path: Path):
    """The store at ``path``; a clear error when there is none yet."""
    from alignment_tax.store import Store

    if not path.is_file():
        raise AltaxError(f"no store at {path}: run `altax run` first or pass --results-dir")
    return Store(path)
