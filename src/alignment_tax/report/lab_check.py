"""What `altax align-check` shows and writes: refusal rates per kind of lab row, and every answer with its verdict."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from alignment_tax.files import write_text
from alignment_tax.lab.data import LabRow


def rates_table(title: str, rates: Mapping[str, Any]) -> Table:
    """Rows, full refusals, partial refusals and the refusal rate per kind (``rates``: the lab evaluation's
    ``KindRate`` per kind)."""
    table = Table(title=title)
    for column in ("kind", "rows", "refused", "partial", "refusal rate"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for rate in rates.values():
        table.add_row(rate.kind, str(rate.total), str(rate.refused), str(rate.partial), f"{100 * rate.rate:.1f}%")
    return table


def write_check(
    path: Path,
    check: Mapping[str, str],
    rates: Mapping[str, Any],
    answers: Sequence[tuple[LabRow, str, str]],
) -> Path:
    """JSON at ``path``: what was checked (model, split, scope), the rates, and each row's answer and verdict."""
    payload = {
        **check,
        "rates": {k: {"rows": r.total, "refused": r.refused, "partial": r.partial} for k, r in rates.items()},
        "answers": [{"id": r.id, "kind": r.kind, "answer": a, "verdict": v} for r, a, v in answers],
    }
    return write_text(path, json.dumps(payload, indent=2) + "\n")
