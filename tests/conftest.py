"""Shared test fixtures."""

from __future__ import annotations

import pytest

from alignment_tax.judge.detectors import DETECTORS
from alignment_tax.models.specs import BACKENDS


@pytest.fixture(autouse=True)
def registrations_last_one_test(monkeypatch):
    """What a test registers (a scripted backend, a detector) is gone after it: the registries are process-wide,
    and a name left behind would change what the next test sees (the list of known names, for one)."""
    for registry in (BACKENDS, DETECTORS):
        monkeypatch.setattr(registry, "_registered", dict(registry._registered))


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    """A fresh results folder, also set as ALTAX_RESULTS_DIR."""
    folder = tmp_path / "results"
    monkeypatch.setenv("ALTAX_RESULTS_DIR", str(folder))
    return folder
