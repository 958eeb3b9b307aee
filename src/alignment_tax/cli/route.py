"""`altax route train` and `altax route score`: train the router's risk classifier and try it on prompts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from alignment_tax.cli.app import app, console

route_app = typer.Typer(help="The router's risk classifier.", no_args_is_help=True)
app.add_typer(route_app, name="route")


@route_app.command("train")
def route_train(
    data: Annotated[Path | None, typer.Option(help="Folder with train/dev/test.jsonl \\[default: shipped].")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the cross-fitting folds and of the bootstrap.")] = 0,
    name: Annotated[str, typer.Option(help="Name recorded with the classifier.")] = "default",
    out: Annotated[Path | None, typer.Option(help="Where to write the .npz and .json \\[default: package].")] = None,
    suite: Annotated[str, typer.Option(help="Suite of the out-of-distribution check ('' to skip).")] = "core",
) -> None:
    """Train a risk classifier on labelled prompts, report held-out numbers, write its weights."""
    from alignment_tax.interventions.risk_train import DATA_DIR, summary, train_and_save

    classifier, npz = train_and_save(data or DATA_DIR, seed, name, out, suite)
    console.print(f"wrote {npz}", highlight=False)
    for line in summary(classifier):
        console.print(line, highlight=False, soft_wrap=True)


@route_app.command("score")
def route_score(
    prompts: Annotated[list[str], typer.Argument(help="Prompts to score.")],
    classifier: Annotated[str, typer.Option(help="Packaged name, or path to a trained .npz.")] = "default",
) -> None:
    """Print each prompt's calibrated probability of being a harmful request."""
    from alignment_tax.interventions.risk import load_risk_classifier

    loaded = load_risk_classifier(classifier)
    table = Table("risk", "prompt")
    for prompt, score in zip(prompts, loaded.scores(prompts), strict=True):
        table.add_row(f"{score:.3f}", prompt)
    console.print(table)
    console.print(f"classifier {loaded.name} ({loaded.fingerprint})", highlight=False)
