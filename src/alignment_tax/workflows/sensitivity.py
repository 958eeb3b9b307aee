"""Detector sensitivity of a stored run: judge its answers with each detector from the store (no model answers
again), then analyse every detector's judgments side by side."""

from __future__ import annotations

from collections.abc import Sequence

from alignment_tax.analysis.gate import Thresholds
from alignment_tax.analysis.sensitivity import Sensitivity, sensitivity
from alignment_tax.errors import AltaxError
from alignment_tax.judge.detectors import check_detector
from alignment_tax.judge.stage import judge_name, judge_run, stored_detectors
from alignment_tax.store import Store
from alignment_tax.workflows.experiment import Settings


def parse_detectors(text: str) -> list[str]:
    """Detector names from a comma-separated list, each once, in order; unknown names are refused."""
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        raise AltaxError("--detectors needs detector names separated by commas, e.g. lexical,reader")
    for name in names:
        check_detector(name)
    return names


def judge_with(store: Store, run_id: str, detectors: Sequence[str]) -> None:
    """Judge the run's stored answers with every detector that has not judged them all yet."""
    for detector in detectors:
        judge_run(store, run_id, detector)


def detector_sensitivity(
    store: Store,
    run_id: str,
    detectors: Sequence[str],
    settings: Settings,
    thresholds: Thresholds | None = None,
    configs: Sequence[str] = (),
) -> Sensitivity:
    """The run under each of ``detectors`` (judged first where needed), analysed with ``settings``."""
    info = store.run(run_id)
    judge_with(store, info.run_id, detectors)
    rows = {detector: store.judged_items(info.run_id, judge_name(detector)) for detector in detectors}
    return sensitivity(
        rows,
        info.reference,
        info.run_id,
        n_boot=settings.n_boot,
        seed=settings.seed,
        cluster=settings.cluster,
        thresholds=thresholds,
        configs=configs,
    )


def stored_sensitivity(store: Store, run_id: str, settings: Settings) -> Sensitivity | None:
    """The run under every detector whose judgments of it are stored, ``settings.detector`` first, when there are
    at least two (nothing is judged anew); None otherwise."""
    stored = stored_detectors(store, run_id)
    detectors = sorted(stored, key=lambda name: name != settings.detector)  # the run's own detector first
    return detector_sensitivity(store, run_id, detectors, settings) if len(detectors) > 1 else None
