"""The recorded detector accuracy: it is the measurement `judge.evaluation` makes on the packaged test split."""

from __future__ import annotations

import pytest

from alignment_tax.judge.accuracy import measure, measured_accuracy, recorded_accuracy
from alignment_tax.judge.calibration import data_digest
from alignment_tax.judge.refusal_data import DATA_DIR


def test_the_record_is_of_the_packaged_data_and_lexical_measures_the_same_again():
    record = recorded_accuracy()
    assert record.split == "test" and record.data_sha256 == data_digest(DATA_DIR)
    assert measure(["lexical"]).detectors["lexical"] == record.detectors["lexical"]


@pytest.mark.parametrize(("name", "found"), [("reader", True), ("reader+scorers-v2", True), ("llm-judge:x", False)])
def test_stored_judge_names_find_their_detector(name, found):
    assert (measured_accuracy(name) is not None) is found
