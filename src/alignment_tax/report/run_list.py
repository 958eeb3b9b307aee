"""The stored runs as a table: a run whose process died shows as interrupted, with how to resume it."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alignment_tax.records import RunInfo
from alignment_tax.run.owner import Owner, owner


def _command(argv: tuple[str, ...]) -> str | None:
    """The altax command line a run was started with; None when another program started it."""
    if argv and (Path(argv[0]).name == "altax" or Path(argv[0]).parent.name == "alignment_tax"):
        return shlex.join(["altax", *argv[1:]])
    return None


def _interrupted(info: RunInfo, found: Owner, infos: list[RunInfo]) -> str:
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
    command = _command(found.argv)
    if command is None:
        return f"{info.run_id} was interrupted; run the command that started it again to resume"
    return f"{info.run_id} was interrupted; resume with: {command}" + (f"  (in {found.cwd})" if found.cwd else "")


def print_runs(console: Console, infos: list[RunInfo], results_dir: Path) -> None:
    """One row per run (id, created, suite, configurations, status), then a note per interrupted run; a
    ``running`` run is interrupted when the process holding ``results_dir/RUN`` is gone."""
    table = Table("run", "created", "suite", "configurations", "status")
    notes = []
    for info in infos:
        status = info.status
        if status == "running":
            found = owner(results_dir / info.run_id)
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
