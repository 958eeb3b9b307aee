"""`altax probe`: estimate each configuration's refusal rates from the probe, generating nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from alignment_tax.cli.app import app, console, open_store, settings
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
    results_dir: ResultsDir = None,
) -> None:
    """Estimate refusal rates per configuration and kind from the next-token distribution at the first
    answer position (one forward pass per prompt, nothing generated); writes a JSON under RESULTS_DIR/probes."""
    from alignment_tax.configs.experiment import experiment_with
    from alignment_tax.report.progress import stage_progress
    from alignment_tax.workflows.probe import run_probe

    experiment = experiment_with(experiment_file, limit=limit)
    run_settings = settings(results_dir)
    with stage_progress(console) as progress, open_store(run_settings.store_path) as store:
        output = run_probe(
            experiment,
            store,
            run_settings.results_dir,
            threshold=threshold,
            calibrate_from=calibrate_from,
            detector=detector,
            seed=seed,
            progress=progress,
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
