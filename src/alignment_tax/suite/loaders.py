"""Load suites: the bundled ones by name, users' own JSONL or CSV files by path."""

from __future__ import annotations

import csv
import hashlib
import io
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import from_json

from alignment_tax.errors import AltaxError
from alignment_tax.jsonl import field_error, parse_models, read_text
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


def _check_unique(items: list[Item], source: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise AltaxError(f"{source}: item id {item.id!r} appears more than once")
        seen.add(item.id)


def read_jsonl(text: str, source: str) -> list[Item]:
    """Items from JSONL text, one object a line; blank lines are skipped. Errors give file:line."""
    return parse_models(text, source, Item)


def _csv_row(row: dict[str | None, str | None], where: str) -> Item:
    data: dict = {key: value for key, value in row.items() if key is not None and value not in ("", None)}
    for field in ("reference", "choices"):
        if field in data:
            try:
                data[field] = from_json(data[field])
            except ValueError as error:
                raise AltaxError(f"{where}: {field}: not valid JSON ({error})") from None
    try:
        return Item.model_validate(data)
    except ValidationError as error:
        raise field_error(where, error) from None


def read_csv(text: str, source: str) -> list[Item]:
    """Items from CSV with a header; ``reference`` and ``choices`` columns hold JSON. Fields may be as long as
    the text (csv's default cap of 131,072 characters is lifted while reading)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    limit = csv.field_size_limit(max(len(text), csv.field_size_limit()))
    try:
        return [_csv_row(row, f"{source}:{reader.line_num}") for row in reader]
    except csv.Error as error:
        raise AltaxError(f"{source}:{reader.line_num}: not valid CSV: {error}") from None
    finally:
        csv.field_size_limit(limit)


def load_suite_file(path: str | Path) -> Suite:
    """A user's suite from a ``.jsonl`` or ``.csv`` file; its version is the content hash."""
    path = Path(path)
    readers = {".jsonl": read_jsonl, ".csv": read_csv}
    if path.suffix not in readers:
        raise AltaxError(f"{path}: suites are .jsonl or .csv files")
    items = readers[path.suffix](read_text(path, "suite file"), str(path))
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


STANDARD_PARTS = ("mmlu", "humaneval", "harmbench", "strongreject")


def _interleaved_by_domain(items: list[Item]) -> list[Item]:
    """Each category's items taken in turn from its domains (MMLU topics, harm areas), domains in order of first
    appearance: so ``--limit N`` keeps N items spread over a category's topics rather than its first topic's."""
    by_category: dict[str, dict[str, list[Item]]] = {}
    for item in items:
        by_category.setdefault(item.category, {}).setdefault(item.domain or item.group or "", []).append(item)
    return [
        domains[domain][turn]
        for domains in by_category.values()
        for turn in range(max(len(d) for d in domains.values()))
        for domain in domains
        if turn < len(domains[domain])
    ]


def standard_suite(name: str) -> Suite:
    """A standard suite read from its package's data; ``standard`` joins all four and the core benign items."""
    from alignment_tax.suite.standard import SOURCES, standard_items

    if name != "standard":
        source = SOURCES[name]
        return Suite(name, f"{source.package}=={source.version}", standard_items(name), source.provenance)
    items = [item for part in STANDARD_PARTS for item in standard_items(part)]
    items += [item for item in _load_bundled(_bundled_root().joinpath("core")).items if item.kind == "benign"]
    items = _interleaved_by_domain(items)
    version = "+".join(f"{SOURCES[part].package}=={SOURCES[part].version}" for part in STANDARD_PARTS)
    return Suite(name, version, tuple(items), "MMLU, HumanEval, HarmBench, StrongREJECT and core benign items")


def load_suite(name_or_path: str) -> Suite:
    """A bundled or standard suite by name, a suite file by path, or a Hugging Face dataset through a .toml mapping."""
    folder = _bundled_root().joinpath(name_or_path)
    if "/" not in name_or_path and folder.is_dir():
        return _load_bundled(folder)
    if name_or_path in (*STANDARD_PARTS, "standard"):
        return standard_suite(name_or_path)
    if Path(name_or_path).suffix in (".jsonl", ".csv"):
        return load_suite_file(name_or_path)
    if Path(name_or_path).suffix == ".toml":
        from alignment_tax.suite.hf import load_dataset_suite

        name, items = load_dataset_suite(name_or_path)
        _check_unique(items, name_or_path)
        suite = Suite(name, "", tuple(items))
        return Suite(name, suite.content_hash, suite.items)
    known = ", ".join([*(s.name for s in bundled_suites()), *STANDARD_PARTS, "standard"])
    raise AltaxError(
        f"unknown suite {name_or_path!r}: give a suite name ({known}), a .jsonl/.csv file or a .toml dataset mapping"
    )
