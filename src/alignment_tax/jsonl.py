"""Validated rows from a JSONL file: one pydantic model a line, errors naming file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from alignment_tax.errors import AltaxError

M = TypeVar("M", bound=BaseModel)


def read_models(path: Path, model: type[M]) -> list[M]:
    """Every non-blank line of ``path`` as ``model``; the first bad line raises ``path:line: field: why``."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(model.model_validate_json(line))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(line)"
            raise AltaxError(f"{path}:{number}: {where}: {first['msg']}") from None
    return rows
