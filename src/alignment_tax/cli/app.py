"""The `altax` Typer app, its shared options, and the one-line handling of user errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from alignment_tax.errors import AltaxError

app = typer.Typer(help="Measure the alignment tax: what safety costs a model in capability.", no_args_is_help=True)
console = Console() if Console().is_terminal else Console(width=120)
_state = {"debug": False}

ResultsDir = Annotated[
    Path | None,
    typer.Option("--results-dir", help="Store and results folder [env ALTAX_RESULTS_DIR, default ./altax-results]."),
]
RunId = Annotated[str, typer.Argument(help="Run id, a unique prefix of one, or 'latest'.")]
Detector = Annotated[str, typer.Option(help="Refusal detector (lexical, embedding, ensemble, llm-judge[:SPEC]).")]


def friendly(command: Callable) -> Callable:
    """Print a user error in one line and exit 2, unless --debug asks for the traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except AltaxError as error:
            if _state["debug"]:
                raise
            Console(stderr=True).print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            Console(stderr=True).print("interrupted: finished batches are stored; run again to resume")
            raise typer.Exit(130) from None

    return wrapper


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    _state["debug"] = debug


def settings(results_dir: Path | None, **options):
    """Pipeline settings from command-line options (``results_dir`` None keeps the default)."""
    from alignment_tax.pipeline import Settings

    if results_dir is not None:
        options["results_dir"] = results_dir
    return Settings(**options)


def open_store(path: Path):
    """The store at ``path``; a clear error when there is none yet."""
    from alignment_tax.store import Store

    if not path.is_file():
        raise AltaxError(f"no store at {path}: run `altax run` first or pass --results-dir")
    return Store(path)
