"""Progress written to a console that is not a terminal (``make run | tee log``): plain periodic lines."""

import io

from rich.console import Console

from alignment_tax.report.progress import stage_progress


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def test_a_log_gets_a_line_per_stage_start_every_ten_seconds_and_at_the_end():
    console, out = plain_console()
    clock = Clock()
    with stage_progress(console, clock=clock) as start:
        advance = start("generate", 100)
        for _ in range(100):  # 4 items/s: one line every 40 items
            clock.now += 0.25
            advance(1)
        start("judge", 3)(3)
    assert out.getvalue().splitlines() == [
        "generate: 0/100 (0%)",
        "generate: 40/100 (40%) 4.00 items/s, eta 0:00:15",
        "generate: 80/100 (80%) 4.00 items/s, eta 0:00:05",
        "generate: 100/100 (100%) 4.00 items/s, done in 0:00:25",
        "judge: 0/3 (0%)",
        "judge: 3/3 (100%) done in 0:00:00",
    ]


def test_the_interval_is_a_setting_and_a_stage_ends_once():
    console, out = plain_console()
    clock = Clock()
    with stage_progress(console, every=1.0, clock=clock) as start:
        advance = start("load models", 2)
        for _ in range(3):  # one more advance than the total writes nothing more
            clock.now += 2
            advance(1)
    assert out.getvalue().splitlines() == [
        "load models: 0/2 (0%)",
        "load models: 1/2 (50%) 0.50 items/s, eta 0:00:02",
        "load models: 2/2 (100%) 0.50 items/s, done in 0:00:04",
    ]


def test_a_terminal_gets_the_bar_and_no_lines():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with stage_progress(console) as start:
        start("generate", 2)(2)
    assert "generate" in out.getvalue() and "generate: 0/2" not in out.getvalue()
    assert "items/s" in out.getvalue()
