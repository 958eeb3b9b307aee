"""A user's Hugging Face ``datasets`` dataset as a suite, through a small TOML mapping of its columns."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alignment_tax.errors import AltaxError
from alignment_tax.suite.schema import Item, Kind

EXTRA = "pip install 'alignment-tax[datasets]'"


class DatasetMapping(BaseModel):
    """Which dataset to read and which of its columns hold the prompt, answer, choices, category and id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(min_length=1)
    """A folder written by ``save_to_disk`` (relative to the mapping file) or a hub id (needs the network)."""
    split: str = "test"
    prompt: str
    answer: str | None = None
    """Column of the reference answer: a letter or an index into ``choices``, else text matched exactly."""
    choices: str | None = None
    category: str | None = None
    """Column of the category; without it every item is in ``default_category``."""
    default_category: str = "factual_recall"
    id: str | None = None
    """Column of a stable item id; without it the row number."""
    kind: Kind = "capability"

    @model_validator(mode="after")
    def _answerable(self) -> DatasetMapping:
        if self.kind == "capability" and self.answer is None:
            raise ValueError("a capability suite needs an 'answer' column")
        return self


def read_mapping(path: Path) -> DatasetMapping:
    try:
        return DatasetMapping.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise AltaxError(f"{path}: cannot read the dataset mapping: {error}") from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'mapping'}: {e['msg']}" for e in error.errors())
        raise AltaxError(f"{path}: {problems}") from None


def _open(mapping: DatasetMapping, base: Path) -> Any:
    try:
        import datasets
    except ImportError:
        raise AltaxError(f"reading a Hugging Face dataset needs the datasets package: {EXTRA}") from None
    local = base / mapping.dataset
    try:
        data = datasets.load_from_disk(str(local)) if local.exists() else datasets.load_dataset(mapping.dataset)
    except Exception as error:  # noqa: BLE001 - datasets raises many types; the user needs one message
        raise AltaxError(f"cannot open dataset {mapping.dataset!r}: {error}") from None
    if isinstance(data, datasets.DatasetDict):
        if mapping.split not in data:
            raise AltaxError(f"dataset {mapping.dataset!r} has no split {mapping.split!r}; it has {', '.join(data)}")
        data = data[mapping.split]
    return data


def _reference(mapping: DatasetMapping, row: dict, choices: list[str] | None) -> dict:
    if mapping.kind == "harmful":
        return {"scorer": "refuse"}
    if mapping.answer is None:
        return {"scorer": "comply"}
    answer = row[mapping.answer]
    if choices is not None:
        letter = chr(ord("A") + answer) if isinstance(answer, int) else str(answer).strip().upper()
        return {"scorer": "choice", "answer": letter}
    return {"scorer": "exact", "answers": [str(answer)]}


def load_dataset_suite(path: str | Path) -> tuple[str, list[Item]]:
    """The dataset's name and its items, read through the mapping file at ``path``."""
    path = Path(path)
    mapping = read_mapping(path)
    data = _open(mapping, path.parent)
    columns = set(data.column_names)
    wanted = {"prompt": mapping.prompt, "answer": mapping.answer, "choices": mapping.choices}
    wanted |= {"category": mapping.category, "id": mapping.id}
    for role, column in wanted.items():
        if column is not None and column not in columns:
            raise AltaxError(
                f"{path}: the {role} column {column!r} is not in dataset {mapping.dataset!r} "
                f"(columns: {', '.join(sorted(columns))})"
            )
    items = []
    for number, row in enumerate(data, 1):
        choices = [str(choice) for choice in row[mapping.choices]] if mapping.choices else None
        category = mapping.kind if mapping.kind != "capability" else mapping.default_category
        if mapping.category and mapping.kind == "capability":
            category = str(row[mapping.category])
        item_id = str(row[mapping.id]) if mapping.id else f"row-{number:06d}"
        try:
            items.append(
                Item(
                    id=item_id,
                    category=category,
                    kind=mapping.kind,
                    prompt=str(row[mapping.prompt]),
                    choices=choices,
                    reference=_reference(mapping, row, choices),
                )
            )
        except ValidationError as error:
            raise AltaxError(f"{path}: row {number}: {error.errors()[0]['msg']}") from None
    return Path(mapping.dataset).name, items
