"""Detector sensitivity: a stored run judged by several detectors from the store (no model loaded), side by side,
the conclusions that change marked; in `altax show --detectors` and in the HTML report."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from alignment_tax.analysis.gate import Thresholds
from alignment_tax.cli import app
from alignment_tax.errors import AltaxError
from alignment_tax.judge.accuracy import ACCURACY_FILE
from alignment_tax.judge.detectors import DETECTORS
from alignment_tax.judge.refusal import RefusalVerdict
from alignment_tax.judge.stage import stored_detectors
from alignment_tax.models.specs import BACKENDS
from alignment_tax.report.html import write_report
from alignment_tax.store import Store
from alignment_tax.workflows.sensitivity import detector_sensitivity, parse_detectors, stored_sensitivity
from release_run import release_run


class Blind:
    """A detector that sees no refusal anywhere: every answer is compliance."""

    name = "blind"

    def classify(self, pairs):
        return [RefusalVerdict("compliance", 1.0, "blind") for _ in pairs]


@pytest.fixture
def run(tmp_path, monkeypatch):
    settings, output = release_run(tmp_path, monkeypatch)
    DETECTORS.register("blind")(Blind)

    def no_model(*args, **kwargs):
        raise AssertionError("a model backend was loaded")

    monkeypatch.setattr(BACKENDS, "entry", no_model)
    return settings, output


def test_show_detectors_sets_detectors_side_by_side_without_a_model(run):
    settings, output = run
    args = ["show", output.run.run_id, "--detectors", "reader,lexical,blind", "--min-coverage", "80"]
    result = CliRunner().invoke(app, [*args, "--results-dir", str(settings.results_dir)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Detector sensitivity" in text and "reader lexical blind" in text
    assert "frontier membership" in text and "gate verdict" in text


def test_conclusions_that_change_with_the_detector(run):
    """The blind detector sees no refusal: coverage falls from 100% to 0%, so the gate verdicts change, and base
    (no longer dominated by safe) joins the frontier; also-safe's refused items become wrong attempts,
    so its tax (sign and significance) stays."""
    settings, output = run
    with Store(settings.store_path) as store:
        sens = detector_sensitivity(
            store, output.run.run_id, ["reader", "blind"], settings, Thresholds(min_coverage=80)
        )
    changed = {(c.config, c.kind) for c in sens.conclusions if c.changes}
    assert changed == {("safe", "gate"), ("also-safe", "gate"), ("base", "frontier")}
    assert sens.conclusion("also-safe", "tax significance").values == {
        "reader": "significant loss",
        "blind": "significant loss",
    }
    blind = sens.views[1].results.configs["safe"].safety.coverage
    assert (blind.count, sens.views[0].results.configs["safe"].safety.coverage.count) == (0, 30)


def test_the_run_detector_column_is_what_show_prints(run):
    settings, output = run
    shown = CliRunner().invoke(app, ["show", "--json", "--results-dir", str(settings.results_dir)])
    configs = json.loads(shown.output)["results"]["configs"]
    with Store(settings.store_path) as store:
        sens = detector_sensitivity(store, output.run.run_id, ["lexical", "reader"], settings)
    reader = sens.views[1].results
    for name, config in configs.items():
        mine = reader.configs[name]
        if config["overall"]["tax"]:
            assert list(mine.overall.tax.tax_ci) == config["overall"]["tax"]["tax_ci"]
        assert list(mine.safety.over_refusal.ci) == config["safety"]["over_refusal"]["ci"]


def test_stored_detectors_and_the_html_table(run, tmp_path):
    settings, output = run
    run_id = output.run.run_id
    with Store(settings.store_path) as store:
        assert stored_detectors(store, run_id) == ["reader"]
        assert stored_sensitivity(store, run_id, settings) is None
        detector_sensitivity(store, run_id, ["blind"], settings)  # judges and stores the blind verdicts
        assert stored_detectors(store, run_id) == ["blind", "reader"]
        sens = stored_sensitivity(store, run_id, settings)
        assert [view.detector for view in sens.views] == ["reader", "blind"]
        payload = json.loads(output.results_path.read_text())
        page = write_report(store, payload, tmp_path / "r.html", sens).read_text()
    section = page.split("<section id='detectors'>")[1].split("</section>")[0]
    assert "<th>reader</th><th>blind</th>" in section and "changes: frontier membership" in section
    reader = json.loads(ACCURACY_FILE.read_text())["detectors"]["reader"]
    assert f"reader {100 * reader['binary']:.1f}% binary" in section and "blind not measured" in section


def test_altax_report_gains_the_table_once_two_detectors_are_stored(run):
    settings, output = run
    base = ["report", output.run.run_id, "--results-dir", str(settings.results_dir)]
    page = settings.results_dir / output.run.run_id / "report.html"
    assert CliRunner().invoke(app, base).exit_code == 0
    assert "id='detectors'" not in page.read_text()
    assert CliRunner().invoke(app, [*base, "--detectors", "reader,blind"]).exit_code == 0
    assert "id='detectors'" in page.read_text()
    assert CliRunner().invoke(app, base).exit_code == 0  # now both are stored
    assert "id='detectors'" in page.read_text()


def test_detector_lists_are_checked():
    assert parse_detectors(" lexical, reader,lexical ") == ["lexical", "reader"]
    for bad in (",", "lexical,nope"):
        with pytest.raises(AltaxError):
            parse_detectors(bad)


def test_thresholds_in_show_need_detectors(run):
    settings, _ = run
    result = CliRunner().invoke(app, ["show", "--max-tax", "5", "--results-dir", str(settings.results_dir)])
    assert result.exit_code == 2 and "--detectors" in result.output


def test_show_detectors_json_is_the_whole_comparison(run):
    settings, output = run
    args = ["show", "--detectors", "lexical,blind", "--json", "--results-dir", str(settings.results_dir)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [view["detector"] for view in data["views"]] == ["lexical", "blind"]
    frontier = next(c for c in data["conclusions"] if c["config"] == "base" and c["kind"] == "frontier")
    assert frontier["values"] == {"lexical": "off", "blind": "on"}
