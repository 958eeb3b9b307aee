"""Users' data files as validated pydantic rows: UTF-8 text, JSONL parsing, one-line errors naming file and field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from alignment_tax.errors import AltaxError

M = TypeVar("M", bound=BaseModel)


def read_text(path: str | Path, what: str = "file") -> str:
    """The text of a UTF-8 file, a leading byte-order mark dropped; a missing, unreadable or non-UTF-8 file (or
    a directory, a FIFO) raises AltaxError. ``what`` names the file in the messages ("suite file")."""
    path = Path(path)
    if not path.exists():
        raise AltaxError(f"{what} not found: {path}")
    if not path.is_file():
        raise AltaxError(f"{what} {path} is not a regular file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AltaxError(f"cannot read {what} {path}: {error.strerror or error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise AltaxError(f"{path}:{line}: not UTF-8 text; save the file as UTF-8") from None


def field_error(where: str, error: ValidationError) -> AltaxError:
    """``where: field: why`` for the first problem pydantic found (``where`` is a file, a file:line, ...)."""
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return AltaxError(f"{where}: {field}: {first['msg']}")


def parse_models(text: str, source: str, model: type[M]) -> list[M]:
    """Every non-blank line of JSONL ``text`` as ``model``; the first bad line raises ``source:line: field: why``.

    Lines end at ``\\n`` only: JSON strings may hold U+2028 and other characters ``str.splitlines`` breaks at."""
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append(model.model_validate_json(line))
        except ValidationError as error:
            raise field_error(f"{source}:{number}", error) from None
    return rows


def read_models(path: str | Path, model: type[M]) -> list[M]:
    """Every non-blank line of the JSONL file ``path`` as ``model`` (see ``parse_models``)."""
    return parse_models(read_text(path), str(path), model)
