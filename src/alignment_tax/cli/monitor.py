"""`altax monitor`: refusals in served traffic, from the gateway's logs or chat logs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console, settings
from alignment_tax.cli.options import Detector, ResultsDir
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


@app.command()
def monitor(
    logs: Annotated[list[Path], typer.Argument(help="Traffic logs: the gateway's JSONL, chat logs (JSONL) or CSV.")],
    window: Annotated[
        str | None, typer.Option(help="Time windows of this length (90s, 30m, 1h, 1d): rates and drift per window.")
    ] = None,
    baseline: Annotated[
        list[Path] | None, typer.Option(help="Logs of a baseline period to test drift against (repeat for more).")
    ] = None,
    run: Annotated[
        str | None, typer.Option(help="A stored run (id, prefix or 'latest'): its tax weighted by the traffic's mix.")
    ] = None,
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Risk score at or above which a prompt counts as risky.")
    ] = 0.5,
    detector: Detector = DEFAULT_DETECTOR,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report as JSON to this file.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the report as an HTML page.")] = None,
    results_dir: ResultsDir = None,
) -> None:
    """Judge every answer in the logs, score and sort every prompt, and report refusal rates, the over-trigger
    share, the guardrail's use and drift, with 95% intervals."""
    from alignment_tax.files import write_text
    from alignment_tax.judge.detectors import check_detector
    from alignment_tax.report.monitor_html import write_monitor
    from alignment_tax.report.monitor_tables import print_monitor
    from alignment_tax.report.progress import stage_progress
    from alignment_tax.workflows.monitor import MonitorSettings, window_seconds
    from alignment_tax.workflows.monitor import monitor as run_monitor

    check_detector(detector)
    options = MonitorSettings(
        logs=logs,
        baseline=baseline or (),
        window_s=window_seconds(window) if window else None,
        run=run,
        results_dir=settings(results_dir).results_dir,
        threshold=threshold,
        detector=detector,
    )
    with stage_progress(console) as progress:
        report = run_monitor(options, progress)
    print_monitor(console, report)
    if json_out is not None:
        console.print(f"json: {write_text(json_out, report.model_dump_json(indent=2) + chr(10))}", highlight=False)
    if html_out is not None:
        console.print(f"html: {write_monitor(report, html_out)}", highlight=False)
