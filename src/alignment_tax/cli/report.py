"""`altax report`, `altax export` and `altax diff`: the HTML report, per-item exports and run comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console, open_store, settings
from alignment_tax.cli.options import Detector, DetectorList, ResultsDir, RunId
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


@app.command()
def report(
    run_id: RunId = "latest",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="HTML file \\[default: RUN/report.html]")] = None,
    detector: Detector = DEFAULT_DETECTOR,
    detectors: DetectorList = None,
    results_dir: ResultsDir = None,
) -> None:
    """Write one self-contained HTML report of a stored run (opens offline in any browser)."""
    from alignment_tax.files import check_target
    from alignment_tax.report.run_report import write_run_report
    from alignment_tax.workflows.experiment import analyse
    from alignment_tax.workflows.sensitivity import parse_detectors

    if out is not None:
        check_target(out)
    named = parse_detectors(detectors) if detectors else None
    run_settings = settings(results_dir, detector=detector)
    with open_store(run_settings.store_path) as store:
        output = analyse(store, store.run(run_id).run_id, run_settings)
    console.print(f"report: {write_run_report(run_settings, output.results_path, out, named)}", highlight=False)


@app.command()
def export(
    run_id: RunId = "latest",
    format: Annotated[str, typer.Option("--format", "-f", help="csv or parquet.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File \\[default: RUN/items.FORMAT]")] = None,
    detector: Detector = DEFAULT_DETECTOR,
    results_dir: ResultsDir = None,
) -> None:
    """Export every judged answer of a run (item, configuration, outcome, flip, prompt, response)."""
    from alignment_tax.files import check_target
    from alignment_tax.judge.stage import judge_name
    from alignment_tax.report.exports import export as write_rows
    from alignment_tax.report.exports import item_outcomes

    if out is not None:
        check_target(out)
    run_settings = settings(results_dir, detector=detector)
    with open_store(run_settings.store_path) as store:
        info = store.run(run_id)
        rows = item_outcomes(store, info.run_id, judge_name(detector))
    path = write_rows(rows, out or run_settings.results_dir / info.run_id / f"items.{format}", format)
    console.print(f"exported {len(rows)} answers: {path}", highlight=False)


@app.command()
def diff(
    run_a: Annotated[str, typer.Argument(help="The earlier run (id, prefix or 'latest').")],
    run_b: Annotated[str, typer.Argument(help="The later run.")],
    detector: Detector = DEFAULT_DETECTOR,
    results_dir: ResultsDir = None,
) -> None:
    """Compare two runs of one suite: per configuration, accuracy, coverage and over-refusal changes (paired
    bootstrap 95% CIs over the shared items) and which answers flipped."""
    from alignment_tax.judge.stage import judge_name
    from alignment_tax.report.run_diff import diff_stored_runs, print_diff

    run_settings = settings(results_dir, detector=detector)
    with open_store(run_settings.store_path) as store:
        stored = diff_stored_runs(
            store, run_a, run_b, judge_name(detector), n_boot=run_settings.n_boot, seed=run_settings.seed
        )
    print_diff(console, stored)
