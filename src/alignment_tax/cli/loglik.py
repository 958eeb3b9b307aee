"""`altax loglik`: score a run's multiple-choice items by log-likelihood and report the gap to generation."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

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
    rows = output.summary
    table = Table(title=f"Log-likelihood vs generation, {rows[0].n if rows else 0} multiple-choice items ({target})")
    for column in ("configuration", "loglik acc", "gen acc", "gap", "refused", "gen tax", "loglik tax"):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    table.add_column("refusal-driven: estimate [95% CI]", justify="right")
    table.add_column("judged", justify="right")
    for row in rows:
        low, high = row.refusal_estimate_ci
        table.add_row(
            row.config,
            f"{row.loglik_accuracy:.1f}%",
            f"{row.generation_accuracy:.1f}%",
            f"{row.gap:+.1f}",
            f"{row.refusal_rate:.1f}%",
            f"{row.generation_tax:+.1f}",
            f"{row.loglik_tax:+.1f}",
            f"{row.refusal_estimate:+.1f} [{low:+.1f},{high:+.1f}]",
            f"{row.refusal_driven:+.1f}",
        )
    console.print(table)
    console.print(f"log-likelihood results: {output.path}", highlight=False)
