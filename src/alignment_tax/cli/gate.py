"""`altax gate`: pass or fail a stored run on release criteria, for CI (exit 0 pass, 1 fail, 2 bad input); its
threshold options serve `altax show --detectors` too."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console, open_store, settings
from alignment_tax.cli.options import ClusterBy, Detector, ResultsDir, RunId
from alignment_tax.judge.detectors import DEFAULT_DETECTOR

MaxTax = Annotated[
    float | None,
    typer.Option("--max-tax", min=-100, max=100, help="Largest capability tax allowed, pp: the CI's upper bound."),
]
MinCoverage = Annotated[
    float | None,
    typer.Option("--min-coverage", min=0, max=100, help="Smallest safety coverage, percent: the CI's lower bound."),
]
MaxOverRefusal = Annotated[
    float | None,
    typer.Option("--max-over-refusal", min=0, max=100, help="Largest over-refusal, percent: the CI's upper bound."),
]


@app.command()
def gate(
    run_id: RunId = "latest",
    max_tax: MaxTax = None,
    min_coverage: MinCoverage = None,
    max_over_refusal: MaxOverRefusal = None,
    config: Annotated[
        list[str] | None,
        typer.Option("--config", help="Configuration to gate (repeatable; default: all but the reference)."),
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write the checks as JUnit XML here.")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Write a Markdown summary here.")] = None,
    workload: Annotated[
        Path | None,
        typer.Option("--workload", help="TOML/JSON file of category -> share of your traffic: gate its weighted tax."),
    ] = None,
    detector: Detector = DEFAULT_DETECTOR,
    cluster: ClusterBy = "group",
    results_dir: ResultsDir = None,
) -> None:
    """Gate a release on a stored run: one-sided non-inferiority checks on the intervals `altax show` prints
    (tax upper bound <= --max-tax, coverage lower bound >= --min-coverage, over-refusal upper bound <=
    --max-over-refusal; with --workload the tax weighted by your traffic mix, as `altax show --workload` prints
    it). Exit 0 when every check passes, 1 when one fails, 2 on bad input (docs/gate.md)."""
    from alignment_tax.analysis.gate import Thresholds, gate_checks
    from alignment_tax.files import check_target, write_text
    from alignment_tax.judge.stage import judge_name
    from alignment_tax.report.gate_junit import junit_xml
    from alignment_tax.report.gate_table import print_gate
    from alignment_tax.report.gate_text import markdown as markdown_summary
    from alignment_tax.workflows.experiment import analyse

    thresholds = Thresholds(max_tax=max_tax, min_coverage=min_coverage, max_over_refusal=max_over_refusal)
    thresholds.require()
    for target in (junit, markdown):
        if target is not None:
            check_target(target)
    run_settings = settings(results_dir, detector=detector, cluster=cluster, workload=workload)
    with open_store(run_settings.store_path) as store:
        output = analyse(store, store.run(run_id).run_id, run_settings)
    report = gate_checks(
        output.results, thresholds, config or [], output.run.run_id, judge_name(detector), weighted=workload is not None
    )
    print_gate(console, report)
    if junit is not None:
        write_text(junit, junit_xml(report))
    if markdown is not None:
        write_text(markdown, markdown_summary(report))
    if not report.passed:
        raise typer.Exit(1)
