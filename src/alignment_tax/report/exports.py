"""Per-item outcomes of a run (prompt, response, judgment, flip against the reference) as rows, CSV or Parquet."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import BinaryIO

from alignment_tax.analysis.diff import flip_label, item_status
from alignment_tax.errors import AltaxError
from alignment_tax.files import write_file
from alignment_tax.store import Store

FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class ItemOutcome:
    """One configuration's judged answer to one item. ``status`` is the answer in one word (see
    ``item_status``); ``flip`` is ``"reference status → status"``, ``"unchanged"``, or ``"reference"`` on the
    reference's own rows."""

    run_id: str
    item_id: str
    category: str
    kind: str
    domain: str | None
    config: str
    sample: int
    outcome: str
    correct: bool
    status: str
    flip: str
    prompt: str
    choices: str | None
    response: str
    finish_reason: str


COLUMNS = tuple(f.name for f in fields(ItemOutcome))


def item_outcomes(store: Store, run_id: str, judge: str) -> list[ItemOutcome]:
    """Every judged answer of a run, in suite order, with the item's prompt and the generated text."""
    info = store.run(run_id)
    items = {item.id: item for item in store.run_items(info.run_id)}
    keys = {(r.config, r.item_id, r.sample): r.key for r in store.run_requests(info.run_id)}
    texts = store.generations(set(keys.values()))
    rows = store.judged_items(info.run_id, judge)
    statuses = {(r.config, r.item_id, r.sample): item_status(r.kind, r.outcome, r.correct) for r in rows}
    out = []
    for row in rows:
        item = items[row.item_id]
        generation = texts.get(keys[row.config, row.item_id, row.sample])
        status = statuses[row.config, row.item_id, row.sample]
        before = statuses.get((info.reference, row.item_id, row.sample))
        flip = "reference" if row.config == info.reference else flip_label(before, status) if before else "unknown"
        out.append(
            ItemOutcome(
                run_id=info.run_id,
                item_id=row.item_id,
                category=row.category,
                kind=row.kind,
                domain=row.domain,
                config=row.config,
                sample=row.sample,
                outcome=row.outcome,
                correct=row.correct,
                status=status,
                flip=flip,
                prompt=item.prompt,
                choices="\n".join(item.choices) if item.choices else None,
                response=generation.text if generation else "",
                finish_reason=generation.finish_reason if generation else "",
            )
        )
    return out


def _write_csv(rows: list[ItemOutcome], handle: BinaryIO) -> None:
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    writer = csv.DictWriter(text, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(asdict(row) for row in rows)
    text.detach()


def _write_parquet(rows: list[ItemOutcome], handle: BinaryIO) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise AltaxError("Parquet export needs pyarrow: pip install 'alignment-tax[parquet]' or use csv") from None

    types = {"sample": pa.int32(), "correct": pa.bool_()}
    schema = pa.schema([(name, types.get(name, pa.string())) for name in COLUMNS])
    table = pa.table({name: [getattr(row, name) for row in rows] for name in COLUMNS}, schema=schema)
    pq.write_table(table, handle)


def export(rows: list[ItemOutcome], path: Path, format: str) -> Path:
    """Write the rows as ``csv`` or ``parquet`` (``files.write_file``: atomically, regular files only)."""
    writers = {"csv": _write_csv, "parquet": _write_parquet}
    if format not in writers:
        raise AltaxError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    return write_file(path, lambda handle: writers[format](rows, handle))
