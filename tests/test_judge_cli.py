"""`altax judge`: a stored run by default, `audit` sheets in and out, `refusals` on any CSV."""

from __future__ import annotations

import csv

from typer.testing import CliRunner

from alignment_tax.cli import app
from test_judge_audit import _store

runner = CliRunner()


def test_judge_a_stored_run_is_the_default_subcommand(tmp_path):
    _store(tmp_path)[0].close()
    result = runner.invoke(
        app, ["judge", "run-1", "--detector", "lexical", "--rejudge", "--results-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "judged 40 answers of run run-1 with lexical" in result.output
    assert "judge: 0/40 (0%)" in result.output and "judge: 40/40 (100%)" in result.output
    assert runner.invoke(app, ["judge", "--detector", "lexical", "--results-dir", str(tmp_path)]).exit_code == 0
    unknown = runner.invoke(app, ["judge", "run-1", "--detector", "nope", "--results-dir", str(tmp_path)])
    assert unknown.exit_code == 2 and "unknown refusal detector" in unknown.output


def test_audit_round_trip(tmp_path):
    _store(tmp_path)[0].close()
    sheet = tmp_path / "audit.csv"
    common = ["--detector", "lexical", "--results-dir", str(tmp_path)]
    result = runner.invoke(app, ["judge", "audit", "run-1", "--sample", "20", "--out", str(sheet), *common])
    assert result.exit_code == 0, result.output
    with sheet.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 40
    for row in rows:  # the person: 'safe' refused items 0-9
        refused = row["config"] == "safe" and int(row["item_id"][1:]) < 10
        row["human_label"] = "refusal" if refused else "compliance"
    with sheet.open("w", newline="") as f:
        writer = csv.DictWriter(f, rows[0].keys())
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(app, ["judge", "audit", "run-1", "--labels", str(sheet), *common])
    assert result.exit_code == 0, result.output
    assert "80.0%" in result.output and "50.0%" in result.output  # sensitivity; corrected rate of 'safe'
    neither = runner.invoke(app, ["judge", "audit", "run-1", *common])
    assert neither.exit_code == 2 and "--out" in neither.output


def test_refusals_labels_any_csv(tmp_path):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    with source.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["prompt", "completion"])
        writer.writerow(["q", "I'm sorry, but I can't help with that."])
        writer.writerow(["q", "The capital of France is Paris."])
        writer.writerow(["q", ""])
    args = ["judge", "refusals", str(source), "--column", "completion", "--out", str(out), "--detector", "lexical"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["refusal"] for r in rows[:2]] == ["refusal", "compliance"]
    assert rows[0]["prompt"] == "q" and rows[2]["degenerate"] == "empty"
    missing = runner.invoke(app, ["judge", "refusals", str(source), "--column", "text", "--out", str(out)])
    assert missing.exit_code == 2 and "no column 'text'" in missing.output
