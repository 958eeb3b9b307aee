"""Whether a run's process still runs: it holds a lock on a file in the run's folder, which the kernel releases
however the process ends (SIGKILL included), so a run left "running" in the store by a dead process shows."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = "running.lock"


@dataclass(frozen=True)
class Owner:
    """The process that started a run: whether it still runs, its command line and working folder (empty
    when unknown: a run from before the lock, or a lock file not yet written)."""

    alive: bool
    argv: tuple[str, ...] = ()
    cwd: str = ""


@contextlib.contextmanager
def hold(run_dir: Path) -> Iterator[None]:
    """Hold the run's lock while the block runs, recording this process's command line in the lock file.

    The file is removed when the block ends normally; after an error it stays, so the run shows as
    interrupted with the command that resumes it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    with path.open("w", encoding="utf-8") as handle:
        with contextlib.suppress(OSError):  # a file system without locks: the run shows as running, as before
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        json.dump({"argv": sys.argv, "cwd": os.getcwd(), "pid": os.getpid()}, handle)
        handle.flush()
        yield
        path.unlink(missing_ok=True)


def owner(run_dir: Path) -> Owner:
    """Who holds the lock of the run in ``run_dir``, read without taking it from a live process."""
    try:
        handle = (run_dir / LOCK_FILE).open(encoding="utf-8")
    except OSError:
        return Owner(False)
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            alive = False
        except OSError:  # held by the live process (or no locks on this file system: assume it runs)
            alive = True
        try:
            record = json.loads(handle.read())
        except ValueError:  # written this instant
            record = {}
    if not isinstance(record, dict):
        record = {}
    return Owner(alive, tuple(str(a) for a in record.get("argv", ())), str(record.get("cwd", "")))
