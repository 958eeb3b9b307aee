"""Lab training rows: the pydantic schema, JSONL loading with clear errors, scope filters and resampling."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from alignment_tax.errors import AltaxError

Kind = Literal["harmful", "benign", "capability"]
Split = Literal["train", "heldout"]
ALL_SCOPE = "general"
"""The scope that keeps every area (general safety training); any other scope keeps one area."""
ROW_HELP = 'each line one JSON object: {"id", "prompt", "target", "kind": harmful|benign|capability, "area", "split"}'


class LabRow(BaseModel):
    """One supervised pair: harmful prompts carry a refusal as target, benign and capability ones an answer."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    id: str = Field(min_length=1)
    prompt: str
    target: str
    kind: Kind
    area: str = Field(default="general", validation_alias=AliasChoices("area", "domain"))
    split: Split = "train"

    @field_validator("prompt", "target")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty; give the text the model should see or learn to answer")
        return value


@dataclass(frozen=True)
class DataFile:
    """A loaded data file: where it is, its SHA-256 and its rows."""

    path: Path
    sha256: str
    rows: list[LabRow]


def _error_message(path: Path, line: int, error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(row)"
    message = "is missing" if first["type"] == "missing" else first["msg"].removeprefix("Value error, ")
    return f"{path} line {line}: field {where!r} {message}; {ROW_HELP}"


def load_file(path: str | Path) -> DataFile:
    """Read and validate one ``.jsonl`` file; any bad line raises an AltaxError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise AltaxError(f"training data not found: {path}")
    if path.suffix != ".jsonl":
        raise AltaxError(f"{path}: training data must be a .jsonl file; {ROW_HELP}")
    raw = path.read_bytes()
    rows: list[LabRow] = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise AltaxError(f"{path} line {number}: not JSON ({error.msg}); {ROW_HELP}") from None
        if not isinstance(data, dict):
            raise AltaxError(f"{path} line {number}: a JSON object is needed, not {type(data).__name__}; {ROW_HELP}")
        try:
            rows.append(LabRow.model_validate(data))
        except ValidationError as error:
            raise AltaxError(_error_message(path, number, error)) from None
    if not rows:
        raise AltaxError(f"{path} holds no rows; {ROW_HELP}")
    return DataFile(path, hashlib.sha256(raw).hexdigest(), rows)


def load_files(paths: list[str | Path]) -> list[DataFile]:
    """Load several files; an id used twice (in one file or across files) is an error."""
    if not paths:
        raise AltaxError("no training data: pass --data FILE.jsonl (repeat it for more files)")
    files = [load_file(p) for p in paths]
    seen: dict[str, Path] = {}
    for file in files:
        for row in file.rows:
            if row.id in seen:
                raise AltaxError(f"row id {row.id!r} appears in {seen[row.id]} and {file.path}; ids must be unique")
            seen[row.id] = file.path
    return files


def in_scope(area: str, scope: str) -> bool:
    """An area is in a scope when it equals it or one of its ``_``-separated words does (benign_drugs: drugs)."""
    return scope == ALL_SCOPE or area == scope or scope in area.split("_")


def select(rows: list[LabRow], split: Split, scope: str = ALL_SCOPE) -> list[LabRow]:
    """Rows of one split; a scope other than ``general`` keeps the harmful and benign rows of that area only
    (capability rows stay whatever their area, so the adapter keeps answering ordinary questions)."""
    chosen = [r for r in rows if r.split == split]
    if scope != ALL_SCOPE:
        if not any(r.kind != "capability" and in_scope(r.area, scope) for r in chosen):
            areas = sorted({r.area for r in chosen if r.kind != "capability"})
            raise AltaxError(f"scope {scope!r} matches no {split} rows; areas in the data: {', '.join(areas)}")
        chosen = [r for r in chosen if r.kind == "capability" or in_scope(r.area, scope)]
    if not chosen:
        raise AltaxError(f"no {split} rows in the data (rows carry split: train or heldout)")
    return chosen


def counts(rows: list[LabRow]) -> dict[str, int]:
    """Rows per kind, for the training record."""
    return dict(sorted(Counter(r.kind for r in rows).items()))


def _draw(rows: list[LabRow], n: int, rng: random.Random) -> list[LabRow]:
    """``n`` rows by passing through seeded shuffles of ``rows`` (each row once before any repeats)."""
    out: list[LabRow] = []
    while len(out) < n:
        batch = rows[:]
        rng.shuffle(batch)
        out.extend(batch[: n - len(out)])
    return out


def resample(rows: list[LabRow], refusal_share: float | None, seed: int) -> list[LabRow]:
    """The training pool: as many rows as given, with harmful rows making up ``refusal_share`` of them
    (drawn without repeats while possible); None keeps the rows as they are."""
    if refusal_share is None:
        return list(rows)
    if not 0.0 <= refusal_share <= 1.0:
        raise AltaxError(f"--refusal-share {refusal_share} must lie between 0 and 1")
    harmful = [r for r in rows if r.kind == "harmful"]
    others = [r for r in rows if r.kind != "harmful"]
    n_harmful = round(refusal_share * len(rows))
    if n_harmful and not harmful:
        raise AltaxError("--refusal-share needs harmful rows, and the selected data has none")
    if n_harmful < len(rows) and not others:
        raise AltaxError("--refusal-share below 1 needs benign or capability rows, and the selected data has none")
    rng = random.Random(seed)
    return _draw(harmful, n_harmful, rng) + _draw(others, len(rows) - n_harmful, rng)
