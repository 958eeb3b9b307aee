"""The prompt category classifier: its shipped weights give the held-out numbers its metadata records, on
project data only, and a missing or broken weight file is a clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.interventions.category import load_category_classifier
from alignment_tax.interventions.category_train import project_prompts
from alignment_tax.interventions.risk_train import assign_split
from alignment_tax.suite.schema import CAPABILITY_CATEGORIES


def test_shipped_weights_reproduce_the_recorded_test_accuracy():
    classifier = load_category_classifier()
    meta = classifier.meta.model_dump()
    assert classifier.categories == list(CAPABILITY_CATEGORIES)
    rows = [r for r in project_prompts() if assign_split(r.prompt, meta["seed"]) == "test"]
    predicted = classifier.classify([r.prompt for r in rows])
    correct = np.array([p == r.category for p, r in zip(predicted, rows, strict=True)])
    assert len(rows) == meta["test"]["n"]
    assert correct.mean() == pytest.approx(meta["test"]["accuracy"], abs=1e-9)
    for source, numbers in meta["test"]["by_source"].items():
        chosen = np.array([r.source == source for r in rows])
        assert correct[chosen].mean() == pytest.approx(numbers["accuracy"], abs=1e-9)


def test_training_rows_come_from_the_projects_own_data():
    rows = project_prompts()
    assert {r.source for r in rows} == {"suite", "lab", "router"}
    assert {r.category for r in rows} == set(CAPABILITY_CATEGORIES)
    assert len({r.prompt.strip() for r in rows}) == len(rows)


def test_missing_or_mismatched_weights_are_clear_errors(tmp_path):
    with pytest.raises(AltaxError, match="no category classifier"):
        load_category_classifier(str(tmp_path / "none.npz"))
    shipped = load_category_classifier()
    np.savez(tmp_path / "bad.npz", weight=shipped.weight[:3], bias=shipped.bias, mean=shipped.mean, scale=shipped.scale)
    (tmp_path / "bad.json").write_text(json.dumps(shipped.meta.model_dump()))
    with pytest.raises(AltaxError, match="do not fit 9 categories"):
        load_category_classifier(str(tmp_path / "bad.npz"))
