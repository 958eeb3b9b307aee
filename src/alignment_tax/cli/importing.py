"""`altax import lm-eval|inspect`: another harness's logged answers become a configuration of a stored run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alignment_tax.cli.app import app, console, settings
from alignment_tax.cli.options import Detector, ResultsDir
from alignment_tax.judge.detectors import DEFAULT_DETECTOR

import_app = typer.Typer(
    help="Read lm-evaluation-harness or inspect_ai logs into the store: the answers are judged by altax's refusal "
    "detector and keep the harness's own score, so show, report, diff and the frontier work on them."
)
app.add_typer(import_app, name="import")

ConfigName = Annotated[str, typer.Option("--config", help="Name of the configuration the log becomes.")]
IntoRun = Annotated[
    str | None,
    typer.Option(
        "--run",
        help="Add it to this stored run (id, prefix or 'latest'): the log must answer every item of it. "
        "Without it a new run on the log's items starts, with this configuration as reference.",
    ),
]


@import_app.command("lm-eval")
def import_lm_eval(
    path: Annotated[Path, typer.Argument(help="A samples_TASK_DATE.jsonl written by --log_samples, or its folder.")],
    config: ConfigName,
    run: IntoRun = None,
    task: Annotated[str | None, typer.Option(help="The task to read, when the folder holds several.")] = None,
    metric: Annotated[str | None, typer.Option(help="Per-sample metric (0 or 1) (default: the task's first).")] = None,
    detector: Detector = DEFAULT_DETECTOR,
    results_dir: ResultsDir = None,
) -> None:
    """Import one task of an lm-evaluation-harness --log_samples output."""
    from alignment_tax.suite.harness_logs import read_lm_eval

    _import(read_lm_eval(path, task, metric), config, str(path), run, detector, results_dir)


@import_app.command("inspect")
def import_inspect(
    log: Annotated[Path, typer.Argument(help="An inspect_ai log (.eval or .json).")],
    config: ConfigName,
    run: IntoRun = None,
    scorer: Annotated[str | None, typer.Option(help="The scorer to read (pass/fail) (default: the first).")] = None,
    detector: Detector = DEFAULT_DETECTOR,
    results_dir: ResultsDir = None,
) -> None:
    """Import an inspect_ai eval log, read by inspect_ai's own read_eval_log (the inspect extra)."""
    from alignment_tax.suite.harness_logs import read_inspect

    _import(read_inspect(log, scorer), config, str(log), run, detector, results_dir)


def _import(harness_log, config: str, source: str, run: str | None, detector: str, results_dir: Path | None) -> None:
    from alignment_tax.workflows.importing import import_log

    out = import_log(harness_log, config, source, settings(results_dir, detector=detector), run)
    console.print(
        f"imported {out.imported} answers of {harness_log.harness} task {escape(harness_log.task)} as configuration "
        f"{escape(config)} of run {out.run_id} (judged by {detector}, scored by {escape(harness_log.metric)})",
        highlight=False,
    )
    for sample_id, why in out.unmatched:
        console.print(f"  not imported: sample {escape(sample_id)}: {why}", highlight=False)
    console.print(f"`altax show {out.run_id}` prints the results", highlight=False)
