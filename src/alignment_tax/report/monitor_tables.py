"""`altax monitor` on the terminal: refusals in traffic overall, per configuration, category and window, drift,
and a stored run's tax on the traffic's mix."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alignment_tax.analysis.inference import Interval
from alignment_tax.analysis.monitor import MonitorReport
from alignment_tax.analysis.safety import Proportion
from alignment_tax.analysis.traffic import Drift, Slice, window_label
from alignment_tax.report.terminal import _table

SLICE_COLUMNS = ("requests", "refused", "partial", "over-trigger share", "guardrail on", "risky prompts")
TERMINAL_COLUMNS = tuple(c for c in SLICE_COLUMNS if c != "partial")
"""The terminal leaves the partial share to the JSON and the page, to fit 120 columns."""


def rate(p: Proportion) -> str:
    """``4.2% [3.1, 5.6]`` (Wilson 95% CI), or a dash without a denominator."""
    if p.percent is None or p.ci is None:
        return "–"
    return f"{p.percent:.1f}% [{p.ci[0]:.1f}, {p.ci[1]:.1f}]"


def points(value: float, ci: Interval) -> str:
    return f"{value:+.1f} [{ci[0]:+.1f}, {ci[1]:+.1f}]"


def slice_cells(s: Slice, partial: bool = True) -> list[str]:
    """The cells of one slice in the order of ``SLICE_COLUMNS`` (``TERMINAL_COLUMNS`` without ``partial``)."""
    shares = (
        [s.refusal, s.partial, s.over_trigger, s.guardrail, s.risky]
        if partial
        else [s.refusal, s.over_trigger, s.guardrail, s.risky]
    )
    return [str(s.lines), *map(rate, shares)]


def slices_table(report: MonitorReport) -> Table:
    """The whole traffic, the baseline and each configuration."""
    traffic = report.traffic
    table = _table("Refusals in traffic (Wilson 95% CI)", "requests of")
    for column in TERMINAL_COLUMNS:
        table.add_column(column, justify="right")
    table.add_row("all traffic", *slice_cells(traffic.overall, partial=False))
    if traffic.baseline is not None:
        table.add_row("baseline", *slice_cells(traffic.baseline, partial=False))
    for name, s in traffic.configs.items():
        table.add_row(f"config {escape(name)}", *slice_cells(s, partial=False))
    return table


def category_table(report: MonitorReport) -> Table:
    """Share of the traffic and refusals per category the classifier sorted the prompts into."""
    traffic = report.traffic
    held_out = report.category_accuracy
    accuracy = "" if held_out is None else f"; classifier held-out accuracy {held_out:.0%}"
    table = _table(f"By category (prompts with text{accuracy})", "category")
    for column in ("share of traffic", "requests", "refused", "over-trigger share", "risky prompts"):
        table.add_column(column, justify="right")
    for name, s in traffic.categories.items():
        cells = [rate(traffic.mix[name]), str(s.lines), rate(s.refusal), rate(s.over_trigger), rate(s.risky)]
        table.add_row(escape(name), *cells)
    return table


def window_table(report: MonitorReport) -> Table:
    traffic = report.traffic
    table = _table(f"By window of {traffic.window_s:g} s (UTC start)", "window")
    for column in TERMINAL_COLUMNS:
        table.add_column(column, justify="right")
    for w in traffic.windows:
        table.add_row(window_label(w.start), *slice_cells(w, partial=False))
    return table


def compared(d: Drift) -> str:
    """What a drift test compares: ``earlier -> current``."""
    return f"{d.earlier} -> {d.current}"


def drift_table(report: MonitorReport) -> Table:
    """Every drift test; a flagged one is marked."""
    table = _table(
        "Drift of the refusal rate (pooled two-proportion z; * Benjamini-Hochberg adjusted p < 0.05)", "test"
    )
    for column in ("compared", "earlier rate", "current rate", "change, pp [95% CI]", "p adj."):
        table.add_column(column, justify="right")
    for d in report.traffic.drift:
        mark = "*" if d.flagged else ""
        cells = [escape(compared(d)), rate(d.earlier_rate), rate(d.current_rate), points(d.change, d.change_ci)]
        table.add_row(f"{d.kind} {d.scope}", *cells, f"{d.p_adjusted:.2g}{mark}")
    return table


def tax_table(report: MonitorReport) -> Table:
    """Each configuration's tax on the traffic's category mix."""
    tax = report.tax
    assert tax is not None
    title = (
        f"Tax on this traffic's mix, pp against {escape(tax.reference)} (run {escape(tax.run_id)}; "
        f"mix of {tax.prompts} prompts scored below the risk threshold)"
    )
    table = _table(title, "configuration")
    for column in ("tax [95% CI]", "run's CI alone", "mix SE"):
        table.add_column(column, justify="right")
    for name, t in tax.configs.items():
        table.add_row(escape(name), points(t.tax, t.tax_ci), points(t.tax, t.run_ci), f"{t.mix_se:.2f}")
    return table


def print_monitor(console: Console, report: MonitorReport) -> None:
    """The monitor's report as tables."""
    logs = report.logs
    formats = ", ".join(f"{n} {f}" for f, n in logs.formats.items()) or "none"
    judged = ", ".join(f"{n} by the {who}" for who, n in logs.judged_by.items() if n)
    console.print(
        f"{logs.lines} lines ({escape(formats)}) from {len(logs.files)} file(s); verdicts: {judged or 'none'}; "
        f"detector {escape(report.detector)}, risk router {escape(report.risk_classifier)}, "
        f"threshold {report.traffic.threshold:g}",
        highlight=False,
        soft_wrap=True,
    )
    for path in logs.torn:
        console.print(f"note: {escape(path)} ends in a torn line (a writer stopped mid-line); it was skipped")
    console.print(slices_table(report))
    if report.traffic.categories:
        console.print(category_table(report))
    if report.traffic.windows:
        console.print(window_table(report))
    if report.traffic.drift:
        console.print(drift_table(report))
        flagged = sum(d.flagged for d in report.traffic.drift)
        console.print(f"{flagged} of {len(report.traffic.drift)} drift tests flagged", highlight=False)
    if report.tax is not None:
        console.print(tax_table(report))
        if report.tax.uncovered.count:
            console.print(
                f"{rate(report.tax.uncovered)} of the categorised traffic is in categories the run lacks",
                highlight=False,
            )
    console.print(f"{report.seconds:.1f} s", style="dim")
