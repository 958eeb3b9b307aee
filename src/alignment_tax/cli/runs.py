"""`altax show` and `altax runs`: work with stored runs without calling a model."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer
from rich.table import Table

from alignment_tax.cli.app import Detector, ResultsDir, RunId, app, console, friendly, open_store, settings
from alignment_tax.cli.stats import ClusterBy, WorkloadFile
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


@app.command()
@friendly
def show(
    run_id: RunId = "latest",
    detector: Detector = DEFAULT_DETECTOR,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results JSON.")] = False,
    workload: WorkloadFile = None,
    cluster: ClusterBy = "group",
    results_dir: ResultsDir = None,
) -> None:
    """Print a past run again from the store, without touching a model."""
    from alignment_tax.pipeline import analyse
    from alignment_tax.report.terminal import print_results

    run_settings = settings(results_dir, detector=detector, workload=workload, cluster=cluster)
    with open_store(run_settings.store_path) as store:
        output = analyse(store, store.run(run_id).run_id, run_settings)
    payload = json.loads(output.results_path.read_text())
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        print_results(console, payload)


@app.command()
@friendly
def runs(results_dir: ResultsDir = None) -> None:
    """List the runs in the store."""
    table = Table("run", "created", "suite", "configurations", "status")
    with open_store(settings(results_dir).store_path) as store:
        for info in store.runs():
            names = ", ".join(c["name"] for c in info.experiment["configs"])
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created_at))
            table.add_row(info.run_id, created, f"{info.suite_name} {info.suite_version}", names, info.status)
    console.print(table)
