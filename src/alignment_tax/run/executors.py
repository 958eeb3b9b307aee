"""Picks the executor a run generates with: ``local`` (this process) or ``ray[:ADDRESS]``; the Ray executor's
module, and Ray with it, are imported only when a run asks for Ray."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from alignment_tax.errors import AltaxError
from alignment_tax.run.executor import execute

Executor = Callable[..., int]
"""``execute``'s signature: (backend, planned, store, *, batch_size, fresh, progress) -> generated count."""


@contextlib.contextmanager
def open_executor(name: str) -> Iterator[Executor]:
    """The executor ``local`` or ``ray[:ADDRESS]`` names, closed (Ray actors released) on exit."""
    kind, _, address = name.partition(":")
    if kind == "local" and not address:
        yield execute
        return
    if kind != "ray":
        raise AltaxError(f"unknown executor {name!r}: use local, ray (a new local cluster) or ray:HOST:PORT")
    from alignment_tax.run.ray_executor import RayExecutor

    executor = RayExecutor(address or None)
    try:
        yield executor
    finally:
        executor.close()
