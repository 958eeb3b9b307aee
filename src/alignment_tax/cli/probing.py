"""`altax probe`: estimate each configuration's refusal rates from the probe, generating nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from alignment_tax.cli.app import app, console, settings
from alignment_tax.cli.options import Detector, ResultsDir
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


@app.command()
def probe(
    experiment_file: Annotated[
        Path | None,
        typer.Option("--experiment", "-c", help="Experiment file (.toml or .yaml); default: the bundled one."),
    ] = None,
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
    results_dir: ResultsDir = None,
) -> None:
    """Estimate refusal rates per configuration and kind from the next-token distribution at the first
    answer position (one forward pass per prompt, nothing generated); the scores are kept in the store and
    the estimates written as JSON under RESULTS_DIR/probes."""
    from alignment_tax.configs.experiment import experiment_with
    from alignment_tax.report.progress import stage_progress
    from alignment_tax.store import Store
    from alignment_tax.workflows.probe import analyse_probe, probe_experiment

    experiment = experiment_with(experiment_file, limit=limit) if stored is None else None
    run_settings = settings(results_dir)
    started = time.perf_counter()
    with stage_progress(console) as progress, Store(run_settings.store_path) as store:
        probe_id = stored if experiment is None else probe_experiment(experiment, store, progress=progress)
        output = analyse_probe(
            store,
            probe_id or "",
            run_settings.results_dir,
            threshold=threshold,
            calibrate_from=calibrate_from,
            detector=detector,
            seed=seed,
            progress=progress,
            started=started,
        )
    table = Table("configuration", "kind", "items", "estimated refusal rate", "95% CI", "mean P(refusal opening)")
    for e in output.estimates:
        table.add_row(
            e.config, e.kind, str(e.n), _pct(e.rate), f"[{_pct(e.low)}, {_pct(e.high)}]", _pct(e.mean_probability)
        )
    console.print(table)
    console.print(
        f"threshold {output.threshold:.2f} log-odds ({output.source}); {len(output.scores)} prompts, nothing generated",
        highlight=False,
    )
    if output.calibration is not None:
        a = output.calibration.overall
        console.print(
            f"on the calibration run: detector rate {_pct(a.detector_rate)}, probe rate {_pct(a.probe_rate)}, "
            f"agreement {_pct(a.agreement)}, AUC {a.auc:.3f} (in-sample)",
            highlight=False,
        )
    console.print(f"probe: {output.path} ({output.seconds:.0f} s)", highlight=False)
