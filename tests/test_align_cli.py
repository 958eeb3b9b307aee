"""`altax align` then `altax align-check` on its adapter, through the CLI with the embedded model."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from alignment_tax.cli import app
from test_align import BASE, TINY, tiny_rows, write_rows

pytest.importorskip("peft", reason="the lora extra is not installed")


@pytest.mark.slow
def test_align_writes_an_adapter_that_align_check_then_reads(tmp_path):
    data, out, report = write_rows(tmp_path / "tiny.jsonl", tiny_rows()), tmp_path / "adapter", tmp_path / "check.json"
    trained = CliRunner().invoke(
        app,
        ["align", BASE, "--data", str(data), "--out", str(out), "--steps", "2", "--rank", "2", "--max-length", "48"],
    )
    assert trained.exit_code == 0, trained.output
    assert "step 2/2 loss" in trained.output and f"adapter: {out} (" in trained.output and "2 steps" in trained.output
    assert (out / "altax-align.json").is_file()

    args = ["align-check", f"{BASE}+{out}", "--data", str(data), "--split", "train", "--max-new-tokens", "4"]
    args += ["--results-dir", str(tmp_path / "results")]
    checked = CliRunner().invoke(app, [*args, "--json", str(report)])
    assert checked.exit_code == 0, checked.output
    payload = json.loads(report.read_text())
    assert {kind: rate["rows"] for kind, rate in payload["rates"].items()} == {
        "benign": 2,
        "capability": 2,
        "harmful": 2,
    }
    assert [a["id"] for a in payload["answers"]] == [row[0] for row in TINY]
    assert all(a["verdict"] in ("refusal", "partial", "compliance") for a in payload["answers"])
    assert "refusal rate" in checked.output and "harmful" in checked.output
