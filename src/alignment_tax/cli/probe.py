"""`altax probe`: refusal rates from the generation-free probe, or the probe against a stored run's verdicts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console, open_store, settings
from alignment_tax.cli.options import Detector, ExperimentFile, ResultsDir
from alignment_tax.errors import AltaxError
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


@app.command()
def probe(
    experiment_file: ExperimentFile = None,
    limit: Annotated[int | None, typer.Option(help="At most N items per category.", min=1)] = None,
    calibrate_from: Annotated[
        str | None, typer.Option(help="A stored run (id, prefix or 'latest') whose detector labels set the threshold.")
    ] = None,
    detector: Detector = DEFAULT_DETECTOR,
    threshold: Annotated[
        float | None, typer.Option(help="Log-odds threshold; default: calibrated, else the documented default.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap intervals.")] = 0,
    stored: Annotated[
        str | None,
        typer.Option("--probe", help="Analyse a stored probe (id, prefix or 'latest') again: no model is loaded."),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            help="A stored run (id, prefix or 'latest'): probe the prompts it answered and set the probe's calls "
            "beside the detector's verdicts, per configuration (no estimates, no JSON).",
        ),
    ] = None,
    results_dir: ResultsDir = None,
) -> None:
    """Estimate refusal rates per configuration and kind from the next-token distribution at the first
    answer position (one forward pass per prompt, nothing generated); the scores are kept in the store and
    the estimates written as JSON under RESULTS_DIR/probes. With --run, compare the probe with a stored run."""
    from alignment_tax.configs.experiment import experiment_with
    from alignment_tax.report.probe_tables import print_estimates
    from alignment_tax.report.progress import stage_progress
    from alignment_tax.store import Store
    from alignment_tax.workflows.probe import DEFAULT_THRESHOLD, analyse_probe, probe_experiment

    if run is not None:
        if experiment_file or limit or calibrate_from or stored:
            raise AltaxError("--run compares the probe with a stored run: leave out --experiment, --limit, "
                             "--calibrate-from and --probe")  # fmt: skip
        probe_against_run(run, detector, DEFAULT_THRESHOLD if threshold is None else threshold, results_dir)
        return
    experiment = experiment_with(experiment_file, limit=limit) if stored is None else None
    run_settings, started = settings(results_dir), time.perf_counter()
    with stage_progress(console) as progress, Store(run_settings.store_path) as store:
        probe_id = stored if experiment is None else probe_experiment(experiment, store, progress=progress)
        output = analyse_probe(
            store, probe_id or "", run_settings.results_dir, threshold=threshold, calibrate_from=calibrate_from,
            detector=detector, seed=seed, progress=progress, started=started,
        )  # fmt: skip
    print_estimates(console, output)


def probe_against_run(run: str, detector: str, threshold: float, results_dir: Path | None) -> None:
    """Print, per configuration of a stored run, the probe's calls at ``threshold`` beside ``detector``'s verdicts
    on the answers (`altax probe --run`, and `altax judge probe` with its own default threshold)."""
    from alignment_tax.report.probe_tables import agreement_table
    from alignment_tax.report.progress import stage_progress
    from alignment_tax.workflows.probe import probe_agreement

    with stage_progress(console) as progress, open_store(settings(results_dir).store_path) as store:
        run_id = store.run(run).run_id
        rows = probe_agreement(store, run_id, detector, threshold, progress=progress)
    console.print(agreement_table(rows))
    console.print(f"probe threshold {threshold:g} (log-odds); detector {detector} on run {run_id}", highlight=False)
