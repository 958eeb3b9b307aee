"""`altax monitor --html`: the monitor's tables on one offline page in the report's style (no script; every text
from a log, configuration names included, is escaped)."""

from __future__ import annotations

from html import escape
from pathlib import Path

from alignment_tax.analysis.monitor import MonitorReport
from alignment_tax.analysis.traffic import window_label
from alignment_tax.files import write_file
from alignment_tax.report.html import _table, page
from alignment_tax.report.monitor_tables import SLICE_COLUMNS, points, rate, slice_cells

NOTES = {
    "traffic": "Refused: full refusals among answered requests. Over-trigger share: refusals of prompts the risk "
    "router scores below the threshold, among refusals of scored prompts. Guardrail on: requests the gateway "
    "answered with the guardrail (gateway logs only). Risky prompts: prompts scored at or above the threshold. "
    "Wilson 95% intervals.",
    "categories": "Prompts with text, sorted into the nine capability categories by a classifier trained on the "
    "project's own prompts (its held-out accuracy is in the header; docs/deployment.md says how it was measured). "
    "Share of traffic: of the prompts with text.",
    "drift": "Each window against the one before it and, with a baseline, the traffic, each window and each "
    "category against the baseline: pooled two-proportion z tests, Benjamini-Hochberg adjusted together; the "
    "change has Newcombe's hybrid score interval. Flagged: adjusted p below 0.05.",
    "tax": "A stored run's per-category tax weighted by the traffic's category mix (prompts scored below the risk "
    "threshold). The interval adds the mix's sampling error to the run's paired t interval.",
}


def _section(title: str, note: str, table: str) -> str:
    return f"<section><h2>{escape(title)}</h2><p class='note'>{escape(note)}</p>{table}</section>"


def sections(report: MonitorReport) -> list[str]:
    """The page's sections: traffic, categories, windows, drift and the run's tax, where there is something."""
    traffic = report.traffic
    rows = [["all traffic", *slice_cells(traffic.overall)]]
    if traffic.baseline is not None:
        rows.append(["baseline", *slice_cells(traffic.baseline)])
    rows += [[f"config {name}", *slice_cells(s)] for name, s in traffic.configs.items()]
    out = [_section("Refusals in traffic", NOTES["traffic"], _table(["requests of", *SLICE_COLUMNS], rows))]
    if traffic.categories:
        head = ["category", "share of traffic", "requests", "refused", "over-trigger share", "risky prompts"]
        rows = [
            [c, rate(traffic.mix[c]), str(s.lines), rate(s.refusal), rate(s.over_trigger), rate(s.risky)]
            for c, s in traffic.categories.items()
        ]
        out.append(_section("By category", NOTES["categories"], _table(head, rows)))
    if traffic.windows:
        rows = [[window_label(w.start), *slice_cells(w)] for w in traffic.windows]
        note = f"Windows of {traffic.window_s:g} s, by their UTC start."
        out.append(_section("By window", note, _table(["window", *SLICE_COLUMNS], rows)))
    if traffic.drift:
        head = ["test", "earlier", "current", "earlier rate", "current rate", "change, pp [95% CI]", "p", "p adj."]
        head.append("flagged")
        rows = [
            [f"{d.kind} {d.scope}", d.earlier, d.current, rate(d.earlier_rate), rate(d.current_rate)]
            + [points(d.change, d.change_ci), f"{d.p_value:.3g}", f"{d.p_adjusted:.3g}", "yes" if d.flagged else ""]
            for d in traffic.drift
        ]
        out.append(_section("Drift of the refusal rate", NOTES["drift"], _table(head, rows)))
    if report.tax is not None:
        tax = report.tax
        rows = [
            [n, points(t.tax, t.tax_ci), points(t.tax, t.run_ci), f"{t.mix_se:.2f}"] for n, t in tax.configs.items()
        ]
        title = f"Tax on this traffic's mix (run {tax.run_id}, against {tax.reference})"
        head = ["configuration", "tax, pp [95% CI]", "run's CI alone", "mix SE, pp"]
        out.append(_section(title, NOTES["tax"], _table(head, rows)))
    return out


def render_monitor(report: MonitorReport) -> str:
    """The page of a monitor report."""
    logs = report.logs
    accuracy = report.category_accuracy
    held_out = "" if accuracy is None else f", held-out accuracy {accuracy:.1%}"
    meta = [
        ("logs", ", ".join(logs.files)),
        ("lines", str(logs.lines)),
        ("detector", report.detector),
        ("risk router", f"{report.risk_classifier}, threshold {report.traffic.threshold:g}"),
        ("categories", report.category_classifier + held_out),
    ]
    title = f"altax monitor · {logs.lines} requests"
    return page(title, "Refusals in traffic", meta, "\n".join(sections(report)))


def write_monitor(report: MonitorReport, out: Path) -> Path:
    """Write the page to ``out`` (a new or regular file, atomically)."""
    page = render_monitor(report)
    return write_file(out, lambda handle: handle.write(page.encode("utf-8")))
