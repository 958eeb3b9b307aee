"""`altax card`: the tax card of a stored run (no model loaded), as Markdown and as model-index YAML read back."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
import yaml
from typer.testing import CliRunner

import alignment_tax
from alignment_tax.cli import app
from alignment_tax.configs.experiment import parse_experiment
from alignment_tax.judge.accuracy import ACCURACY_FILE
from alignment_tax.judge.detectors import DETECTORS
from alignment_tax.judge.refusal import LexicalDetector
from alignment_tax.models.specs import BACKENDS
from release_run import release_run


@pytest.fixture
def run(tmp_path, monkeypatch):
    settings, output = release_run(tmp_path, monkeypatch)

    def no_model(*args, **kwargs):
        raise AssertionError("a model backend was loaded")

    monkeypatch.setattr(BACKENDS, "entry", no_model)
    return settings, output


def card(settings, *args) -> str:
    result = CliRunner().invoke(app, ["card", *args, "--results-dir", str(settings.results_dir)])
    assert result.exit_code == 0, result.output
    return result.output


def _stored(settings, run_id) -> dict:
    with sqlite3.connect(settings.store_path) as db:
        rows = db.execute("SELECT name, fingerprint, model_fingerprint FROM run_configs WHERE run_id=?", (run_id,))
        return {name: (cfg, model) for name, cfg, model in rows}


def test_yaml_card_reads_back_with_every_number_of_the_results(run):
    settings, output = run
    data = yaml.safe_load(card(settings, output.run.run_id, "--format", "yaml"))
    results = json.loads(output.results_path.read_text())["results"]["configs"]
    index = {entry["name"]: entry["results"][0] for entry in data["model-index"]}
    assert set(index) == {"safe", "also-safe"}
    for name, entry in index.items():
        metrics = {m["name"]: m for m in entry["metrics"]}
        tax = results[name]["overall"]["tax"]
        assert metrics["tax, pp"]["value"] == pytest.approx(tax["tax"], abs=1e-4)
        assert [metrics["tax, pp"]["args"]["ci_low"], metrics["tax, pp"]["args"]["ci_high"]] == pytest.approx(
            tax["tax_ci"], abs=1e-4
        )
        for category in ("math", "factual_recall"):
            assert metrics[f"tax on {category}, pp"]["value"] == pytest.approx(
                results[name]["categories"][category]["tax"]["tax"], abs=1e-4
            )
        coverage = results[name]["safety"]["coverage"]
        assert metrics["safety coverage, %"]["value"] == pytest.approx(coverage["percent"], abs=1e-4)
        assert metrics["over refusal, %"]["args"]["ci_high"] == pytest.approx(
            results[name]["safety"]["over_refusal"]["ci"][1], abs=1e-4
        )
        assert entry["dataset"]["revision"] == output.run.suite_hash
    extra = data["alignment_tax"]
    assert extra["altax_version"] == alignment_tax.__version__
    recorded = json.loads(ACCURACY_FILE.read_text())["detectors"]["reader"]
    assert extra["detector"]["test_accuracy"]["binary"] == recorded["binary"]
    stored = _stored(settings, output.run.run_id)
    assert {n: (c["fingerprint"], c["model_fingerprint"]) for n, c in extra["configs"].items()} == stored
    assert parse_experiment(extra["experiment"], "card") == parse_experiment(output.run.experiment, "store")


def test_markdown_card_has_the_tables_and_an_experiment_to_rerun(run, tmp_path):
    settings, output = run
    out = tmp_path / "card.md"
    assert "card:" in card(settings, output.run.run_id, "-o", str(out))
    text = out.read_text()
    results = json.loads(output.results_path.read_text())["results"]["configs"]
    tax = results["also-safe"]["overall"]["tax"]
    assert (
        f"| also-safe | `scripted:m` | {tax['tax']:+.1f} [{tax['tax_ci'][0]:+.1f}, {tax['tax_ci'][1]:+.1f}] |" in text
    )
    recorded = json.loads(ACCURACY_FILE.read_text())["detectors"]["reader"]
    assert f"{100 * recorded['binary']:.1f}% binary" in text
    rows = [line for line in text.splitlines() if line.startswith(("| math |", "| factual_recall |"))]
    assert len(rows) == 2 and all(row.count("[") == 2 for row in rows)
    block = re.search(r"```yaml\n(.*?)```", text, re.S)[1]
    assert parse_experiment(yaml.safe_load(block), "card") == parse_experiment(output.run.experiment, "store")
    for name, (cfg, model) in _stored(settings, output.run.run_id).items():
        assert f"| {name} | `{cfg}` | `{model}` |" in text


def test_a_detector_never_measured_says_so(run):
    settings, output = run
    DETECTORS.register("unmeasured")(LexicalDetector)
    CliRunner().invoke(app, ["judge", "--detector", "unmeasured", "--results-dir", str(settings.results_dir)])
    text = card(settings, "--detector", "unmeasured")
    assert "`unmeasured`: its accuracy has not been measured" in text
