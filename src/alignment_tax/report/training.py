"""What `altax align` shows while it trains (a bar with the loss, or a plain line every 10 steps in a log)
and the line that sums up the adapter it wrote."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

OnStep = Callable[[int, int, float], None]
"""``on_step(step, total, loss)``, called by training after each optimizer step."""


@contextmanager
def train_progress(console: Console, total: int) -> Iterator[OnStep]:
    """A bar with the loss on a terminal; elsewhere a plain line every 10 steps (and at the end), flushed at once."""
    if not console.is_terminal:

        def log_step(step: int, total: int, loss: float) -> None:
            if step % 10 == 0 or step == total:
                console.print(f"step {step}/{total} loss {loss:.4f}", highlight=False)
                console.file.flush()

        yield log_step
        return
    columns = (
        TextColumn("[bold]align"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("align", total=total, loss="--")

        def on_step(step: int, total: int, loss: float) -> None:
            progress.update(task, completed=step, total=total, loss=f"{loss:.4f}")

        yield on_step


def adapter_summary(record: dict, out: Path) -> str:
    """One line: where the adapter is, its size and fingerprint, steps, speed, device and the loss it went through."""
    adapter = record["adapter"]
    return (
        f"adapter: {out} ({adapter['weights_bytes'] / 1e6:.1f} MB, {adapter['fingerprint']}), "
        f"{record['steps']} steps, {record['seconds_per_step']:.2f} s/step on {record['device']}, "
        f"loss {record['loss'][0]:.3f} -> {record['loss'][-1]:.3f}"
    )
