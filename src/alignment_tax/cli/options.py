"""Options and arguments that several `altax` commands share, so each reads and documents the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ResultsDir = Annotated[
    Path | None,
    typer.Option("--results-dir", help="Store and results folder \\[env ALTAX_RESULTS_DIR, default ./altax-results]."),
]
RunId = Annotated[str, typer.Argument(help="Run id, a unique prefix of one, or 'latest'.")]
Detector = Annotated[str, typer.Option(help="Refusal detector (lexical, embedding, ensemble, llm-judge[:SPEC]).")]
DetectorList = Annotated[
    str | None,
    typer.Option(
        "--detectors",
        help="Detectors to set side by side, comma-separated (lexical,reader,...): the stored answers are judged "
        "with each (no model answers again) and the conclusions that change with the detector are marked.",
    ),
]
Limit = Annotated[int | None, typer.Option(help="At most N items per category.", min=1)]
ExperimentFile = Annotated[
    Path | None,
    typer.Option("--experiment", "-c", help="Experiment file (.toml or .yaml); default: the bundled one."),
]
Sample = Annotated[
    int | None, typer.Option(help="N items in all, a seeded sample stratified by category (after --limit).", min=1)
]
Fresh = Annotated[bool, typer.Option(help="Ignore cached generations.")]
BatchSize = Annotated[
    int, typer.Option(min=1, help="Sequences generated at once; every four batches are stored together.")
]
Executor = Annotated[
    str, typer.Option(help="local, ray (a Ray instance on this machine) or ray:HOST:PORT (a Ray cluster).")
]
Kernel = Annotated[
    str,
    typer.Option(
        help="Linear-layer kernel of CPU float32 models: auto (timed once per machine and model, then cached), "
        "dense (torch's default) or onednn (prepacked). Sets ALTAX_KERNEL."
    ),
]
WorkloadFile = Annotated[
    Path | None,
    typer.Option("--workload", help="TOML/JSON file of category -> share of your traffic: adds the workload tax."),
]
ClusterBy = Annotated[
    str, typer.Option("--cluster", help="Clusters for standard errors and bootstraps: item, group or category.")
]
SUITE_HELP = "Suite name (see altax suites), .jsonl/.csv file or .toml dataset mapping (docs/suites.md)."
