"""`altax show` and `altax runs`: work with stored runs without calling a model."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console, open_store, settings
from alignment_tax.cli.options import ClusterBy, Detector, ResultsDir, RunId, WorkloadFile
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


@app.command()
def show(
    run_id: RunId = "latest",
    detector: Detector = DEFAULT_DETECTOR,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results JSON.")] = False,
    workload: WorkloadFile = None,
    cluster: ClusterBy = "group",
    results_dir: ResultsDir = None,
) -> None:
    """Print a past run again from the store, without touching a model."""
    from alignment_tax.report.terminal import print_results
    from alignment_tax.workflows.experiment import analyse

    run_settings = settings(results_dir, detector=detector, workload=workload, cluster=cluster)
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
