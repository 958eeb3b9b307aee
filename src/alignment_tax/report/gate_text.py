"""The gate's verdicts as text: one line per check, and the Markdown summary CI systems post."""

from __future__ import annotations

from alignment_tax.analysis.gate import LABELS, TAXES, UNITS, Check, GateReport


def _number(value: float, measure: str) -> str:
    return f"{value:+.1f}" if measure in TAXES else f"{value:.1f}"


def interval_text(check: Check) -> str:
    """The estimate with its interval, in the measure's unit: ``+2.3 pp [-1.0, 5.6]``."""
    low, high = (_number(v, check.measure) for v in check.interval)
    return f"{_number(check.estimate, check.measure)} {UNITS[check.measure]} [{low}, {high}]"


def rule_text(check: Check) -> str:
    """The comparison made: ``upper 5.6 <= 10``."""
    sign = ">=" if check.bound == "lower" else "<="
    return f"{check.bound} {_number(check.bound_value, check.measure)} {sign} {check.threshold:g}"


def verdict(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def describe(check: Check, report: GateReport) -> str:
    """One line: configuration, measure, interval, the bound compared and the verdict."""
    return (
        f"{check.config}: {LABELS[check.measure]} {interval_text(check)} ({100 * report.confidence:g}% CI); "
        f"{rule_text(check)} at one-sided {100 * report.one_sided:g}%: {verdict(check.passed)}"
    )


def level_note(report: GateReport) -> str:
    """What the gate's level is and why: one bound of the printed two-sided interval."""
    return (
        f"Each check compares one bound of the {100 * report.confidence:g}% interval `altax show` prints, a one-sided "
        f"{100 * report.one_sided:g}% bound (a non-inferiority test at alpha {1 - report.one_sided:.3g}); the gate "
        "passes only when every check does (an intersection-union test, no multiplicity correction needed)."
    )


def workload_note(report: GateReport) -> str | None:
    """The category weights of a workload-weighted tax, or None when the tax is over all items."""
    if report.workload is None:
        return None
    shares = ", ".join(f"{category} {weight:.3g}" for category, weight in report.workload.items())
    return f"The tax is weighted by the workload: {shares}."


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(report: GateReport) -> str:
    """A Markdown summary: the overall verdict, a table of checks and the level."""
    head = f"### altax gate: {'passed' if report.passed else 'failed'}"
    lines = [
        head,
        "",
        f"Run `{report.run_id}`, refusal detector `{report.detector}`.",
        "",
        "| configuration | measure | estimate [CI] | bound | threshold | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for check in report.checks:
        sign = ">=" if check.bound == "lower" else "<="
        cells = [
            check.config,
            LABELS[check.measure],
            interval_text(check),
            f"{check.bound} {_number(check.bound_value, check.measure)}",
            f"{sign} {check.threshold:g}",
            "pass" if check.passed else "**FAIL**",
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    notes = [note for note in (workload_note(report), level_note(report)) if note]
    return "\n".join([*lines, "", *notes, ""])
