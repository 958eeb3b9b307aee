"""Benchmarks record the CPU they ran on and keep results per CPU; the prompt-lookup replay counts steps exactly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))

import machine  # noqa: E402


def test_machine_records_cpu_model_and_kernel_flags():
    info = machine.machine()
    assert info["cpu"] and info["cores"] >= 1
    assert set(info["cpu_flags"]) <= set(machine.KERNEL_FLAGS)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        assert info["cpu"] in cpuinfo.read_text()


def test_results_are_kept_per_cpu():
    amd = {"cpu": "AMD EPYC 9B14 96-Core Processor", "cpu_flags": ["avx2", "avx512f"]}
    xeon = {"cpu": "Intel(R) Xeon(R) Processor", "cpu_flags": ["avx2", "avx512f", "amx_tile"]}
    xeon_old = {**xeon, "cpu_flags": ["avx2"]}
    zen3, zen4 = {"cpu": "AMD EPYC", "cpu_flags": ["avx2"]}, {"cpu": "AMD EPYC", "cpu_flags": ["avx2", "avx512f"]}
    paths = {machine.results_path("harness_comparison", m) for m in (amd, xeon, xeon_old, zen3, zen4)}
    assert len(paths) == 5
    assert machine.results_path("x", amd) == machine.RESULTS / "amd-epyc-9b14-96-core-processor-avx512" / "x.json"
    assert machine.results_path("x", zen3).parent.name == "amd-epyc"
    assert machine.results_path("x", xeon).parent.name == "intel-xeon-processor-amx"


def test_results_are_written_in_the_cpu_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "RESULTS", tmp_path)
    amd = {"cpu": "AMD EPYC", "cpu_flags": ["avx2"]}
    path = machine.write_results("batching", {"ratio": 1.5}, amd)
    assert path == tmp_path / "amd-epyc" / "batching.json"
    assert json.loads(path.read_text()) == {"ratio": 1.5}


def test_prompt_lookup_replay_counts_verification_steps():
    lookup = pytest.importorskip("prompt_lookup")
    prompt = [9, 1, 2, 3, 4, 5, 6, 7]
    # 1 and 2 have no earlier bigram to copy (one step each); then "1 2" is found in the prompt and
    # the drafted 3 4 5 6 are checked in one pass: 3 4 5 agree, so the answer ends after 3 steps.
    assert lookup.steps_needed(prompt, [1, 2, 3, 4, 5], ngram=2, k=4) == 3
    assert lookup.steps_needed(prompt, [11, 12, 13], ngram=2, k=4) == 3
    assert lookup.draft([5, 6, 7, 8, 5, 6], ngram=2, k=3) == [7, 8, 5]
