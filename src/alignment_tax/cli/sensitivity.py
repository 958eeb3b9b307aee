"""`altax show --detectors`: a stored run judged by each detector from the store, printed side by side."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from alignment_tax.cli.app import console, open_store
from alignment_tax.errors import AltaxError

if TYPE_CHECKING:
    from alignment_tax.analysis.gate import Thresholds
    from alignment_tax.workflows.experiment import Settings


def show_detectors(
    run_id: str, detectors: str | None, thresholds: Thresholds, settings: Settings, as_json: bool
) -> None:
    """Print the run under each of ``detectors`` (comma-separated), the conclusions (and, given thresholds, the
    gate verdicts) that change with the detector marked; ``as_json`` prints the whole comparison as JSON."""
    from alignment_tax.report.sensitivity_table import print_sensitivity
    from alignment_tax.workflows.sensitivity import detector_sensitivity, parse_detectors

    if not detectors:
        raise AltaxError("gate thresholds in `altax show` go with --detectors; `altax gate` gates one detector")
    names = parse_detectors(detectors)
    with open_store(settings.store_path) as store:
        sens = detector_sensitivity(store, store.run(run_id).run_id, names, settings, thresholds)
    if as_json:
        sys.stdout.write(sens.model_dump_json(indent=2) + "\n")
    else:
        print_sensitivity(console, sens)
