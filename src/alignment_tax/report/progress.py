"""Progress per stage: a rich bar on a terminal, plain periodic lines in a log, with items/s and an ETA."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

Start = Callable[[str, int], Callable[[int], None]]
"""``start(stage, total)`` returns ``advance(n)``."""
EVERY = 10.0
"""Seconds between two plain lines of one stage."""


class _RateColumn(TextColumn):
    def __init__(self) -> None:
        super().__init__("")

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} items/s" if speed else "-- items/s", style="progress.data.speed")


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


class _PlainStage:
    """One stage written as lines: when it starts, every ``every`` seconds while it runs, and when it ends."""

    def __init__(self, console: Console, stage: str, total: int, every: float, clock: Callable[[], float]):
        self.console, self.stage, self.total, self.every, self.clock = console, stage, total, every, clock
        self.done, self.ended = 0, False
        self.started = self.shown = clock()
        self._line("")

    def advance(self, n: int) -> None:
        self.done += n
        now = self.clock()
        if not self.ended and (self.done >= self.total or now - self.shown >= self.every):
            self.shown, self.ended = now, self.done >= self.total
            elapsed = now - self.started
            rate = self.done / elapsed if elapsed > 0 else 0.0
            speed = f" {rate:.2f} items/s," if rate else ""
            if self.ended:
                self._line(f"{speed} done in {_clock(elapsed)}")
            else:
                self._line(f"{speed} eta {_clock((self.total - self.done) / rate) if rate else '--'}")

    def _line(self, rest: str) -> None:
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        self.console.print(f"{self.stage}: {self.done}/{self.total}{share}{rest}", highlight=False, markup=False)


@contextmanager
def stage_progress(
    console: Console, every: float = EVERY, clock: Callable[[], float] = time.monotonic
) -> Iterator[Start]:
    """Yields ``start(stage, total) -> advance(n)``. On a terminal each stage is a bar that stays on screen
    after it finishes; elsewhere (``| tee log``, CI) each stage writes a line when it starts, one every
    ``every`` seconds (``clock`` tells the time) with done/total, items/s and an ETA, and one when it ends."""
    if not console.is_terminal:
        yield lambda stage, total: _PlainStage(console, stage, total, every, clock).advance
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:

        def start(stage: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(stage, total=total)
            return lambda n: progress.advance(task, n)

        yield start
