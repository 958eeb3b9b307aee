"""The HTML report of an analysed run, with the detector table for the detectors asked for or already stored."""

from __future__ import annotations

import json
from pathlib import Path

from alignment_tax.report.html import write_report
from alignment_tax.store import Store
from alignment_tax.workflows.experiment import Settings
from alignment_tax.workflows.sensitivity import detector_sensitivity, stored_sensitivity


def write_run_report(
    settings: Settings, results_path: Path, out: Path | None = None, detectors: list[str] | None = None
) -> Path:
    """Write the HTML report of an analysed run (default: report.html beside its results file), with the detector
    table for ``detectors`` (judged first where needed), else for the detectors whose judgments are stored."""
    payload = json.loads(results_path.read_text())
    run_id = payload["run"]["run_id"]
    with Store(settings.store_path) as store:
        sensitivity = (
            detector_sensitivity(store, run_id, detectors, settings)
            if detectors
            else stored_sensitivity(store, run_id, settings)
        )
        return write_report(store, payload, out or results_path.with_name("report.html"), sensitivity)
