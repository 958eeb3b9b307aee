"""A user's Hugging Face dataset as a suite through a TOML column mapping."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

datasets = pytest.importorskip("datasets")

from alignment_tax.errors import AltaxError  # noqa: E402
from alignment_tax.suite.loaders import load_suite  # noqa: E402


def _write(tmp_path: Path, mapping: str) -> str:
    data = datasets.Dataset.from_dict(
        {
            "question": ["2 + 2 = ?", "Capital of France?"],
            "options": [["3", "4"], ["Paris", "Rome"]],
            "label": [1, 0],
            "topic": ["math", "factual_recall"],
        }
    )
    datasets.DatasetDict({"test": data}).save_to_disk(str(tmp_path / "mine"))
    path = tmp_path / "mine.toml"
    path.write_text(mapping)
    return str(path)


def test_mapped_dataset_loads_as_multiple_choice(tmp_path: Path) -> None:
    suite = load_suite(
        _write(
            tmp_path, 'dataset = "mine"\nprompt = "question"\nanswer = "label"\nchoices = "options"\ncategory = "topic"'
        )
    )
    assert [(i.category, i.reference.answer, i.choices) for i in suite.items] == [
        ("math", "B", ["3", "4"]),
        ("factual_recall", "A", ["Paris", "Rome"]),
    ]
    assert suite.name == "mine" and suite.version


def test_missing_column_is_named(tmp_path: Path) -> None:
    with pytest.raises(AltaxError, match="the answer column 'gold' is not in dataset"):
        load_suite(_write(tmp_path, 'dataset = "mine"\nprompt = "question"\nanswer = "gold"'))


def test_mapping_is_validated(tmp_path: Path) -> None:
    with pytest.raises(AltaxError, match="needs an 'answer' column"):
        load_suite(_write(tmp_path, 'dataset = "mine"\nprompt = "question"'))


def test_without_datasets_the_error_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, 'dataset = "mine"\nprompt = "question"\nanswer = "label"')
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(AltaxError, match=r"alignment-tax\[datasets\]"):
        load_suite(path)


def test_harmful_dataset_needs_no_answer(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, 'dataset = "mine"\nprompt = "question"\nkind = "harmful"'))
    assert {(i.kind, i.category, i.reference.scorer) for i in suite.items} == {("harmful", "harmful", "refuse")}
