"""`altax run` and `altax compare`: evaluate configurations and print the tax."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console, settings
from alignment_tax.cli.options import (
    SUITE_HELP,
    BatchSize,
    ClusterBy,
    Detector,
    Executor,
    Fresh,
    Kernel,
    Limit,
    ResultsDir,
    Sample,
    WorkloadFile,
)
from alignment_tax.judge.detectors import DEFAULT_DETECTOR
from alignment_tax.run.executor import GENERATION_BATCH


def _execute(experiment, run_settings) -> None:
    from alignment_tax.report.progress import stage_progress
    from alignment_tax.report.run_report import write_run_report
    from alignment_tax.report.terminal import print_results
    from alignment_tax.workflows.experiment import run_experiment

    with stage_progress(console) as progress:
        output = run_experiment(experiment, run_settings, progress)
    print_results(console, json.loads(output.results_path.read_text()))
    for note in output.notes:
        console.print(note, style="dim", highlight=False, markup=False)
    console.print(f"results: {output.results_path}", highlight=False)
    console.print(f"report: {write_run_report(run_settings, output.results_path)}", highlight=False)


@app.command()
def run(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Experiment file (.toml or .yaml).")] = None,
    suite: Annotated[str | None, typer.Option(help=SUITE_HELP)] = None,
    limit: Limit = None,
    sample: Sample = None,
    fresh: Fresh = False,
    batch_size: BatchSize = GENERATION_BATCH,
    detector: Detector = DEFAULT_DETECTOR,
    target_ci: Annotated[
        float | None,
        typer.Option(help="Draw items in chunks until every tax CI half-width is at most W points.", min=0.01),
    ] = None,
    chunk_size: Annotated[int | None, typer.Option(help="Items drawn per look with --target-ci.", min=1)] = None,
    workload: WorkloadFile = None,
    cluster: ClusterBy = "group",
    executor: Executor = "local",
    kernel: Kernel = "auto",
    results_dir: ResultsDir = None,
) -> None:
    """Evaluate configurations over a suite (default: the core suite under the default configurations)."""
    from alignment_tax.configs.experiment import experiment_with
    from alignment_tax.run.kernel_choice import use_kernel

    use_kernel(kernel)
    experiment = experiment_with(
        config, suite=suite, limit=limit, sample=sample, target_ci=target_ci, chunk_size=chunk_size
    )
    run_settings = settings(
        results_dir,
        fresh=fresh,
        batch_size=batch_size,
        detector=detector,
        workload=workload,
        cluster=cluster,
        executor=executor,
    )
    _execute(experiment, run_settings)


@app.command()
def compare(
    reference: Annotated[str, typer.Option(help="Model spec of the reference (unaligned) model.")],
    aligned: Annotated[str, typer.Option(help="Model spec of the aligned model.")],
    suite: Annotated[str, typer.Option(help=SUITE_HELP)] = "core",
    limit: Limit = None,
    sample: Sample = None,
    fresh: Fresh = False,
    batch_size: BatchSize = GENERATION_BATCH,
    detector: Detector = DEFAULT_DETECTOR,
    executor: Executor = "local",
    kernel: Kernel = "auto",
    results_dir: ResultsDir = None,
) -> None:
    """Measure the tax of one aligned model against its reference twin."""
    from alignment_tax.configs.experiment import pair_experiment
    from alignment_tax.run.kernel_choice import use_kernel

    use_kernel(kernel)
    experiment = pair_experiment(reference, aligned, suite).model_copy(update={"limit": limit, "sample": sample})
    _execute(
        experiment,
        settings(results_dir, fresh=fresh, batch_size=batch_size, detector=detector, executor=executor),
    )
