"""The detector-sensitivity table: each measure of each configuration under every detector, side by side, with
the conclusions that change marked; as cells (for the HTML report) and as a terminal table."""

from __future__ import annotations

from collections.abc import Callable

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alignment_tax.analysis.results import refusal_share
from alignment_tax.analysis.sensitivity import ConclusionKind, DetectorView, Sensitivity, frontier_place, gate_verdict
from alignment_tax.judge.accuracy import measured_accuracy
from alignment_tax.report.terminal import _pp, _share

CHANGE_WORDS: dict[ConclusionKind, str] = {
    "tax sign": "sign of the tax",
    "tax significance": "significance of the tax",
    "frontier": "frontier membership",
    "gate": "gate verdict",
}


def _tax(view: DetectorView, name: str) -> str:
    overall = view.results.configs[name].overall
    tax = overall.tax if overall else None
    return _pp(tax.tax, tax.tax_ci) if tax else "–"


def _refusal_share(view: DetectorView, name: str) -> str:
    share = refusal_share(view.results.configs[name])
    return "–" if share is None else f"{share:.0f}%"


def _frontier(view: DetectorView, name: str) -> str:
    probability = next(p.probability for p in view.frontier.points if p.config == name)
    return f"{frontier_place(view.frontier, name)}, P={probability:.2f}"


MEASURES: dict[str, tuple[Callable[[DetectorView, str], str], tuple[ConclusionKind, ...]]] = {
    "tax, pp [95% CI]": (_tax, ("tax sign", "tax significance")),
    "refusal share of loss": (_refusal_share, ()),
    "safety coverage": (lambda view, name: _share(view.results.configs[name].safety.coverage), ()),
    "over-refusal": (lambda view, name: _share(view.results.configs[name].safety.over_refusal), ()),
    "frontier": (_frontier, ("frontier",)),
    "gate": (lambda view, name: gate_verdict(view.gate, name) or "–", ("gate",)),
}
"""Each row of a configuration: how a detector's cell is written, and the conclusions the row holds."""


def sensitivity_cells(sens: Sensitivity) -> tuple[list[str], list[list[str]], list[bool]]:
    """The header, one row per configuration and measure, and whether each row holds a conclusion that changes
    with the detector (its last cell names which)."""
    gating = any(view.gate for view in sens.views)
    head = ["configuration", "measure", *(view.detector for view in sens.views), "changes with the detector"]
    rows, changed = [], []
    for name in sens.views[0].results.configs:
        label = f"{name} (reference)" if name == sens.reference else name
        for measure, (cell, concludes) in MEASURES.items():
            if measure == "gate" and not gating:
                continue
            kinds = [k for k in concludes if (found := sens.conclusion(name, k)) is not None and found.changes]
            rows.append([label, measure, *(cell(view, name) for view in sens.views)])
            rows[-1].append(", ".join(CHANGE_WORDS[kind] for kind in kinds) or "")
            changed.append(bool(kinds))
    return head, rows, changed


NOTE = (
    "Each column is the run as that detector judged the same stored answers, analysed as `altax show --detector` "
    "does; a marked row holds a conclusion that is not the same under every detector."
)


def accuracy_note(sens: Sensitivity) -> str:
    """Each detector's recorded accuracy on the held-out test split: what to weigh their disagreements by."""
    parts = []
    for view in sens.views:
        measured = measured_accuracy(view.detector)
        parts.append(
            f"{view.detector} {100 * measured.binary:.1f}% binary, {100 * measured.three_class:.1f}% 3-class"
            if measured
            else f"{view.detector} not measured"
        )
    return "Accuracy on altax's held-out test split (docs/refusal.md): " + "; ".join(parts) + "."


def print_sensitivity(console: Console, sens: Sensitivity) -> None:
    """Print the side-by-side table; rows whose conclusion changes with the detector are marked."""
    head, rows, changed = sensitivity_cells(sens)
    table = Table(title=f"Detector sensitivity, run {escape(sens.run_id)}", title_justify="left", box=box.SIMPLE_HEAD)
    for column in head:
        table.add_column(escape(column), no_wrap=column != head[-1])
    for row, marked in zip(rows, changed, strict=True):
        table.add_row(*(escape(cell) for cell in row), style="bold yellow" if marked else None)
    console.print(table)
    console.print(NOTE, style="dim", highlight=False)
    console.print(accuracy_note(sens), style="dim", highlight=False)
    count = sum(changed)
    said = {0: "no row holds", 1: "1 row holds"}.get(count, f"{count} rows hold")
    console.print(f"{said} a conclusion that changes with the detector", highlight=False)
