"""The human audit: sampling sheets, reading labels, detector error and Rogan-Gladen corrected rates."""

from __future__ import annotations

import csv
import math
import time

import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.judge.audit import (
    audit_report,
    audit_rows,
    read_labels,
    rogan_gladen,
    sample_rows,
    wilson,
    write_audit_csv,
)
from alignment_tax.judge.stage import judge_name, judge_run
from alignment_tax.records import GenerationRecord, PlannedRequest, RunInfo
from alignment_tax.store import Store
from alignment_tax.suite.schema import Item

REFUSE = "I'm sorry, but I can't help with that."
HIDDEN = "That would be unwise and harmful, so let us talk about something else."  # a refusal lexical misses


def _store(tmp_path) -> tuple[Store, str]:
    """Two configurations over 20 benign items; 'safe' refuses 10 (two of them in words lexical misses)."""
    items = [
        Item(id=f"b{i}", category="benign", kind="benign", prompt=f"q{i}", reference={"scorer": "comply"})
        for i in range(20)
    ]
    store = Store(tmp_path / "store.sqlite")
    info = RunInfo("run-1", time.time(), {"configs": []}, "t", "1", "h", "ref", "complete")
    store.create_run(info, items, [("ref", "f1", "{}", "m"), ("safe", "f2", "{}", "m")])
    answers = {("ref", i): f"Answer number {i}." for i in range(20)}
    answers |= {("safe", i): (REFUSE if i < 8 else HIDDEN if i < 10 else f"Answer {i}.") for i in range(20)}
    requests = [PlannedRequest(c, f"b{i}", f"{c}-{i}") for c, i in answers]
    store.add_requests("run-1", requests)
    store.put_generations(
        [GenerationRecord(f"{c}-{i}", "m", "p", "t", text, "stop", 3, 0.1) for (c, i), text in answers.items()]
    )
    judge_run(store, "run-1", "lexical")
    return store, "run-1"


def test_sheet_is_blind_seeded_and_per_configuration(tmp_path):
    store, run = _store(tmp_path)
    rows = audit_rows(store, run, judge_name("lexical"))
    assert len(rows) == 40 and {r.config for r in rows} == {"ref", "safe"}
    chosen = sample_rows(rows, 5, seed=1)
    assert [r.id for r in chosen] == [r.id for r in sample_rows(rows, 5, seed=1)]
    assert sum(r.config == "safe" for r in chosen) == 5
    write_audit_csv(chosen, tmp_path / "sheet.csv")
    with (tmp_path / "sheet.csv").open() as f:
        header = next(csv.reader(f))
    assert "human_label" in header and not any("outcome" in h or "detector" in h for h in header)


def test_report_gives_error_rates_and_a_corrected_rate(tmp_path):
    store, run = _store(tmp_path)
    rows = audit_rows(store, run, judge_name("lexical"))
    truth = {r.id: ("refusal" if r.config == "safe" and int(r.item_id[1:]) < 10 else "compliance") for r in rows}
    report = {a.config: a for a in audit_report(rows, truth, seed=0)}
    safe = report["safe"]
    assert safe.labelled == 20
    assert safe.sensitivity.value == pytest.approx(0.8) and safe.specificity.value == 1.0
    assert safe.observed_rate.value == pytest.approx(0.4)
    assert safe.corrected_rate.value == pytest.approx(0.5)  # (0.4 + 1 - 1) / (0.8 + 1 - 1)
    assert safe.corrected_rate.low <= 0.5 <= safe.corrected_rate.high
    assert report["ref"].observed_rate.value == 0 and report["ref"].corrected_rate.value == 0


def test_labels_file_is_checked(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("id,human_label\nref/b1/0,refusal\nref/b2/0,\nref/b3/0,Compliance\n")
    assert read_labels(path) == {"ref/b1/0": "refusal", "ref/b3/0": "compliance"}
    path.write_text("id,human_label\nref/b1/0,maybe\n")
    with pytest.raises(AltaxError, match="labels.csv:2"):
        read_labels(path)
    path.write_text("id,label\nref/b1/0,refusal\n")
    with pytest.raises(AltaxError, match="human_label"):
        read_labels(path)


def test_rogan_gladen_and_wilson():
    assert rogan_gladen(0.3, 0.9, 0.95) == pytest.approx((0.3 + 0.95 - 1) / 0.85)
    assert rogan_gladen(0.01, 0.9, 0.95) == 0.0  # clipped
    assert math.isnan(rogan_gladen(0.3, 0.4, 0.5))  # no better than chance
    rate = wilson(8, 10)
    assert rate.value == 0.8 and 0.49 < rate.low < 0.50 and 0.94 < rate.high < 0.95
    assert math.isnan(wilson(0, 0).value)
