"""Shared test fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    """A fresh results folder, also set as ALTAX_RESULTS_DIR."""
    folder = tmp_path / "results"
    monkeypatch.setenv("ALTAX_RESULTS_DIR", str(folder))
    return folder
