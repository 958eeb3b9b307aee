"""`altax show` and `altax runs`: work with stored runs without calling a model."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from alignment_tax.cli.app import app, console, open_store, settings
from alignment_tax.cli.options import ClusterBy, Detector, ResultsDir, RunId, WorkloadFile
from alignment_tax.judge.detectors import DEFAULT_DETECTOR

if TYPE_CHECKING:
    from alignment_tax.records import RunInfo
    from alignment_tax.run.owner import Owner


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


def _command(argv: tuple[str, ...]) -> str | None:
    """The altax command line a run was started with; None when another program started it."""
    if argv and (Path(argv[0]).name == "altax" or Path(argv[0]).parent.name == "alignment_tax"):
        return shlex.join(["altax", *argv[1:]])
    return None


def _interrupted(info: RunInfo, owner: Owner, infos: list[RunInfo]) -> str:
    """What to do about a run whose process died: point at a later run that completed the same experiment,
    else give the command that resumes it (finished batches are cached, so it redoes nothing)."""
    later = [
        other.run_id
        for other in infos
        if other.created_at > info.created_at
        and other.status == "complete"
        and (other.experiment, other.suite_hash) == (info.experiment, info.suite_hash)
    ]
    if later:
        return f"{info.run_id} was interrupted; the later run {later[0]} of the same experiment completed it"
    command = _command(owner.argv)
    if command is None:
        return f"{info.run_id} was interrupted; run the command that started it again to resume"
    return f"{info.run_id} was interrupted; resume with: {command}" + (f"  (in {owner.cwd})" if owner.cwd else "")


@app.command()
def runs(results_dir: ResultsDir = None) -> None:
    """List the runs in the store. A run whose process has died shows as interrupted, with how to resume it."""
    from alignment_tax.run.owner import owner

    run_settings = settings(results_dir)
    with open_store(run_settings.store_path) as store:
        infos = store.runs()
    table = Table("run", "created", "suite", "configurations", "status")
    notes = []
    for info in infos:
        status = info.status
        if status == "running":
            found = owner(run_settings.results_dir / info.run_id)
            if not found.alive:
                status = "interrupted"
                notes.append(_interrupted(info, found, infos))
        names = ", ".join(c["name"] for c in info.experiment["configs"])
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created_at))
        suite = escape(f"{info.suite_name} {info.suite_version}")
        table.add_row(info.run_id, created, suite, escape(names), status)
    console.print(table)
    for note in notes:
        console.print(note, markup=False, highlight=False, soft_wrap=True)
