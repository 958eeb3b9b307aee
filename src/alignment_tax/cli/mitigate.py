"""`altax mitigate`: search prompt mitigations of an over-refusing configuration, screened by the probe, confirmed
by generation on held-out items."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console, settings
from alignment_tax.cli.options import BatchSize, Detector, ExperimentFile, Limit, ResultsDir
from alignment_tax.judge.detectors import DEFAULT_DETECTOR
from alignment_tax.run.executor import GENERATION_BATCH


@app.command()
def mitigate(
    experiment_file: ExperimentFile = None,
    base: Annotated[str, typer.Option(help="The configuration to mitigate (one of the experiment's).")] = "safety-lora",
    space: Annotated[
        Path | None, typer.Option(help="Your own levers (.toml, docs/mitigate.md), tried after the bundled ones.")
    ] = None,
    min_coverage: Annotated[
        float | None,
        typer.Option(help="Coverage to keep (%) \\[default: the base's lower bound on each split].", min=0, max=100),
    ] = None,
    budget: Annotated[
        int | None, typer.Option(help="Screen at most N candidates (in documented order).", min=1)
    ] = None,
    finalists: Annotated[int, typer.Option(help="Candidates confirmed by generation.", min=1)] = 3,
    split_seed: Annotated[int, typer.Option(help="Seed of the screening/confirmation split.", min=0)] = 0,
    limit: Limit = None,
    threshold: Annotated[float | None, typer.Option(help="Probe log-odds threshold \\[default: the probe's].")] = None,
    calibrate_from: Annotated[
        str | None, typer.Option(help="A stored run whose detector labels set the probe's threshold.")
    ] = None,
    target_ci: Annotated[
        float | None,
        typer.Option(
            help="Confirm adaptively: draw items until every tax CI half-width is at most W points.", min=0.01
        ),
    ] = None,
    factorial: Annotated[
        bool,
        typer.Option(
            "--factorial",
            help="Also confirm the candidates that complete the 2x2 designs of the finalists' levers, so every main "
            "effect and interaction can be estimated (measured, never chosen).",
        ),
    ] = False,
    batch_size: BatchSize = GENERATION_BATCH,
    detector: Detector = DEFAULT_DETECTOR,
    out: Annotated[
        Path | None, typer.Option(help="Chosen experiment TOML \\[default: beside the search's JSON].")
    ] = None,
    results_dir: ResultsDir = None,
) -> None:
    """Try every lever of the mitigation library (and --space) on the base configuration, alone and in pairs;
    screen them with the generation-free probe on half of the safety items, confirm the finalists by generation on
    the other half, and write the one with the lowest over-refusal that keeps coverage and capability as TOML."""
    from alignment_tax.configs.experiment import experiment_with
    from alignment_tax.configs.mitigations import load_space
    from alignment_tax.report.mitigation_table import print_mitigation
    from alignment_tax.report.progress import stage_progress
    from alignment_tax.workflows.mitigate import Search, run_mitigate

    experiment = experiment_with(experiment_file, limit=limit)
    levers = load_space(space)
    search = Search(
        base=base, min_coverage=min_coverage, budget=budget, finalists=finalists, split_seed=split_seed,
        threshold=threshold, calibrate_from=calibrate_from, target_ci=target_ci, factorial=factorial,
    )  # fmt: skip
    run_settings = settings(results_dir, batch_size=batch_size, detector=detector)
    with stage_progress(console) as progress:
        output = run_mitigate(experiment, levers, search, run_settings, out, progress)
    print_mitigation(console, output.result)
    console.print(f"search: {output.json_path}", highlight=False)
    if output.toml_path is not None:
        console.print(
            f"chosen configuration: {output.toml_path} (altax run --config {output.toml_path})", highlight=False
        )
