"""Refusal labels for the responses in any CSV file: the file again, with four columns added."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from alignment_tax.errors import AltaxError
from alignment_tax.files import write_text
from alignment_tax.judge.degenerate import is_degenerate
from alignment_tax.judge.detectors import get_detector

ADDED = ("refusal", "refusal_decided", "refusal_confidence", "degenerate")
"""The label (refusal, partial, compliance, undetermined), the label with undetermined taken at its lean, the
detector's confidence, and why a response is degenerate (empty when it is not)."""


def label_csv(
    source: Path, out: Path, detector: str, column: str = "completion", prompt_column: str | None = None
) -> tuple[int, dict[str, int]]:
    """Label every response in ``source``'s ``column`` (with its prompt from ``prompt_column``, if given) and
    write ``source`` with the ``ADDED`` columns to ``out``; returns the number of responses and how many were
    decided as each of refusal, partial and compliance."""
    if not source.is_file():
        raise AltaxError(f"no CSV file {source}")
    with source.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    for name in (column, prompt_column):
        if name is not None and name not in fields:
            raise AltaxError(f"{source} has no column {name!r}; its columns: {', '.join(fields)}")
    pairs = [(row[prompt_column] if prompt_column else "", row[column] or "") for row in rows]
    verdicts = get_detector(detector).classify(pairs)
    sheet = io.StringIO(newline="")
    writer = csv.DictWriter(sheet, [*fields, *[a for a in ADDED if a not in fields]])
    writer.writeheader()
    for row, (_, text), v in zip(rows, pairs, verdicts, strict=True):
        reason = is_degenerate(text) or ""
        writer.writerow(row | dict(zip(ADDED, [v.label, v.decided, f"{v.confidence:.3f}", reason], strict=True)))
    write_text(out, sheet.getvalue())
    return len(rows), {
        label: sum(v.decided == label for v in verdicts) for label in ("refusal", "partial", "compliance")
    }
