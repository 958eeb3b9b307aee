"""Load suites: the bundled ones by name, users' own JSONL or CSV files by path."""

from __future__ import annotations

import csv
import hashlib
import json
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from alignment_tax.errors import AltaxError
from alignment_tax.suite.schema import Item


@dataclass(frozen=True)
class Suite:
    """A versioned set of items; ``content_hash`` changes whenever any item does."""

    name: str
    version: str
    items: tuple[Item, ...]
    description: str = ""

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for item in self.items:
            digest.update(item.model_dump_json().encode())
        return digest.hexdigest()[:16]


def _error(where: str, error: Exception) -> AltaxError:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "item"
        return AltaxError(f"{where}: {field}: {first['msg']}")
    return AltaxError(f"{where}: {error}")


def _check_unique(items: list[Item], source: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise AltaxError(f"{source}: item id {item.id!r} appears more than once")
        seen.add(item.id)


def read_jsonl(text: str, source: str) -> list[Item]:
    """Items from JSONL text, one object a line; blank lines are skipped. Errors give file:line."""
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(Item.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as error:
            raise _error(f"{source}:{number}", error) from None
    return items


def _csv_row(row: dict[str, str]) -> dict:
    data: dict = {key: value for key, value in row.items() if key is not None and value not in ("", None)}
    for field in ("reference", "choices"):
        if field in data:
            data[field] = json.loads(data[field])
    return data


def read_csv(text: str, source: str) -> list[Item]:
    """Items from CSV with a header; ``reference`` and ``choices`` columns hold JSON."""
    items = []
    reader = csv.DictReader(text.splitlines())
    for row in reader:
        try:
            items.append(Item.model_validate(_csv_row(row)))
        except (json.JSONDecodeError, ValidationError) as error:
            raise _error(f"{source}:{reader.line_num}", error) from None
    return items


def load_suite_file(path: str | Path) -> Suite:
    """A user's suite from a ``.jsonl`` or ``.csv`` file; its version is the content hash."""
    path = Path(path)
    if not path.is_file():
        raise AltaxError(f"suite file not found: {path}")
    readers = {".jsonl": read_jsonl, ".csv": read_csv}
    if path.suffix not in readers:
        raise AltaxError(f"{path}: suites are .jsonl or .csv files")
    items = readers[path.suffix](path.read_text(encoding="utf-8"), str(path))
    if not items:
        raise AltaxError(f"{path}: the suite holds no items")
    _check_unique(items, str(path))
    suite = Suite(path.stem, "", tuple(items))
    return Suite(suite.name, suite.content_hash, suite.items)


def _bundled_root():
    return resources.files("alignment_tax.suite").joinpath("bundled")


def bundled_suites() -> list[Suite]:
    """Every suite shipped with the package, sorted by name."""
    return [_load_bundled(entry) for entry in sorted(_bundled_root().iterdir(), key=lambda e: e.name) if entry.is_dir()]


def _load_bundled(folder) -> Suite:
    meta = tomllib.loads(folder.joinpath("suite.toml").read_text(encoding="utf-8"))
    items: list[Item] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".jsonl"):
            items.extend(read_jsonl(entry.read_text(encoding="utf-8"), f"{meta['name']}/{entry.name}"))
    _check_unique(items, meta["name"])
    return Suite(meta["name"], meta["version"], tuple(items), meta.get("description", ""))


def load_suite(name_or_path: str) -> Suite:
    """A bundled suite by name, or a suite file by path."""
    folder = _bundled_root().joinpath(name_or_path)
    if "/" not in name_or_path and folder.is_dir():
        return _load_bundled(folder)
    if Path(name_or_path).suffix in (".jsonl", ".csv"):
        return load_suite_file(name_or_path)
    known = ", ".join(s.name for s in bundled_suites())
    raise AltaxError(f"unknown suite {name_or_path!r}: give a bundled name ({known}) or a .jsonl/.csv file")
