"""`altax show` and `altax runs`: work with stored runs without calling a model."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console, open_store, settings
from alignment_tax.cli.gate import MaxOverRefusal, MaxTax, MinCoverage
from alignment_tax.cli.options import ClusterBy, Detector, DetectorList, ResultsDir, RunId, WorkloadFile
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


@app.command()
def show(
    run_id: RunId = "latest",
    detector: Detector = DEFAULT_DETECTOR,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results JSON.")] = False,
    workload: WorkloadFile = None,
    cluster: ClusterBy = "group",
    detectors: DetectorList = None,
    max_tax: MaxTax = None,
    min_coverage: MinCoverage = None,
    max_over_refusal: MaxOverRefusal = None,
    results_dir: ResultsDir = None,
) -> None:
    """Print a past run again from the store, without touching a model; with --detectors, side by side as each
    detector judges it (gate verdicts too, given gate thresholds)."""
    from alignment_tax.analysis.gate import Thresholds
    from alignment_tax.cli.sensitivity import show_detectors
    from alignment_tax.report.terminal import print_results
    from alignment_tax.workflows.experiment import analyse

    run_settings = settings(results_dir, detector=detector, workload=workload, cluster=cluster)
    thresholds = Thresholds(max_tax=max_tax, min_coverage=min_coverage, max_over_refusal=max_over_refusal)
    if detectors or thresholds.asked():
        show_detectors(run_id, detectors, thresholds, run_settings, as_json)
        return
    with open_store(run_settings.store_path) as store:
        output = analyse(store, store.run(run_id).run_id, run_settings)
    payload = json.loads(output.results_path.read_text())
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        print_results(console, payload)


@app.command()
def runs(results_dir: ResultsDir = None) -> None:
    """List the runs in the store. A run whose process has died shows as interrupted, with how to resume it."""
    from alignment_tax.report.run_list import print_runs

    run_settings = settings(results_dir)
    with open_store(run_settings.store_path) as store:
        infos = store.runs()
    print_runs(console, infos, run_settings.results_dir)
