"""A detector audit on the terminal: its error against a person, and the refusal rates corrected for it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from alignment_tax.judge.audit import ConfigAudit, Rate


def _pct(rate: Rate) -> str:
    return f"{100 * rate.value:.1f}% [{100 * rate.low:.1f}, {100 * rate.high:.1f}]"


def audit_table(audits: Sequence[ConfigAudit]) -> Table:
    """Per configuration: answers labelled, sensitivity, specificity, the detector's rate and the corrected
    (Rogan-Gladen) rate, each with its 95% interval."""
    table = Table("configuration", "labelled", "sensitivity", "specificity", "detector rate", "corrected rate")
    for a in audits:
        table.add_row(
            a.config, str(a.labelled), _pct(a.sensitivity), _pct(a.specificity), _pct(a.observed_rate),
            _pct(a.corrected_rate),
        )  # fmt: skip
    return table
