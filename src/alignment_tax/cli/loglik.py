"""`altax loglik`: score a run's multiple-choice items by log-likelihood and report the gap to generation."""

from __future__ import annotations

from typing import Annotated

import typer

from alignment_tax.cli.app import app, console, open_store, settings
from alignment_tax.cli.options import Detector, ResultsDir, RunId
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


@app.command()
def loglik(
    run_id: RunId = "latest",
    target: Annotated[str, typer.Option(help="Score each choice's letter, or its text (per-character).")] = "letter",
    detector: Detector = DEFAULT_DETECTOR,
    results_dir: ResultsDir = None,
) -> None:
    """Log-likelihood accuracy against generation accuracy on a run's multiple-choice items, per configuration,
    and the refusal-driven tax estimated from them (generation tax minus log-likelihood tax)."""
    from alignment_tax.report.loglik_table import loglik_table
    from alignment_tax.report.progress import stage_progress
    from alignment_tax.workflows.loglik import loglik_check

    run_settings = settings(results_dir, detector=detector)
    with stage_progress(console) as progress, open_store(run_settings.store_path) as store:
        output = loglik_check(
            store,
            run_id,
            target,  # type: ignore[arg-type]
            detector,
            n_boot=run_settings.n_boot,
            seed=run_settings.seed,
            results_dir=run_settings.results_dir,
            progress=progress,
        )
    console.print(loglik_table(output.summary, target))
    console.print(f"log-likelihood results: {output.path}", highlight=False)
