"""The router's encoder on ONNX Runtime: torch's scores, exported once into the cache, no silent fallback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from alignment_tax.embeddings import Encoder
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.risk import (
    QUANTIZED,
    RISK_TOKENS,
    ROUTING_THREADS,
    load_risk_classifier,
    shared_encoder,
)
from alignment_tax.interventions.risk_train import DATA_DIR, THRESHOLDS, load_split
from alignment_tax.onnx_encoder import MANY_ROWS, OnnxEncoder, exported_model


@pytest.fixture(scope="module")
def classifier():
    return load_risk_classifier()


def test_scores_equal_torchs_on_the_held_out_split(classifier):
    prompts = [row.prompt for row in load_split(DATA_DIR, "test")]
    onnx = np.array(classifier.scores(prompts))
    torch = classifier.probabilities(Encoder(RISK_TOKENS, quantize=False).encode(prompts))
    assert np.abs(onnx - torch).max() < 1e-4
    for threshold in THRESHOLDS:
        assert ((onnx >= threshold) == (torch >= threshold)).all()


def test_the_router_scores_through_the_onnx_sessions(classifier, monkeypatch):
    encoder = shared_encoder(RISK_TOKENS, QUANTIZED)
    assert isinstance(encoder, OnnxEncoder)
    lone, batch = encoder.session(1), encoder.session(MANY_ROWS)
    assert lone.get_providers() == batch.get_providers() == ["CPUExecutionProvider"]
    assert lone.get_session_options().intra_op_num_threads == ROUTING_THREADS

    class Broken:
        def run(self, *args):
            raise RuntimeError("the session ran")

    monkeypatch.setattr(encoder, "sessions", {encoder.threads: Broken(), encoder.batch_threads: Broken()})
    for n in (1, MANY_ROWS):
        with pytest.raises(RuntimeError, match="the session ran"):
            classifier.scores([f"Prompt {i} that no other test scores." for i in range(n)])


def test_a_prompt_embeds_the_same_alone_and_in_a_batch_on_more_threads():
    encoder = shared_encoder(RISK_TOKENS, QUANTIZED)
    prompts = [f"Question {i}: {'please, ' * i}how do I kill a stuck process on my server?" for i in range(MANY_ROWS)]
    batch = encoder.encode(prompts)
    alone = np.concatenate([encoder.encode([prompt]) for prompt in prompts])
    assert len(prompts) >= MANY_ROWS and np.abs(batch - alone).max() < 1e-6


def test_without_onnxruntime_the_router_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(AltaxError, match=r"pip install onnxruntime=="):
        OnnxEncoder(RISK_TOKENS, ROUTING_THREADS)


def test_the_graph_is_exported_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ALTAX_CACHE_DIR", str(tmp_path))
    path = exported_model()
    assert path.parent == tmp_path / "encoders" and path.suffix == ".onnx"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".lock"]
    stamp = path.stat().st_mtime_ns
    assert exported_model() == path and path.stat().st_mtime_ns == stamp
    fresh = OnnxEncoder(RISK_TOKENS, ROUTING_THREADS)
    texts = ["Hi.", "How do I stop a cron job that keeps running?", "Write a long essay on the French Revolution."]
    assert np.abs(fresh.encode(texts) - shared_encoder(RISK_TOKENS, QUANTIZED).encode(texts)).max() < 1e-6


def test_two_processes_starting_at_once_export_one_file(tmp_path):
    env = {**os.environ, "ALTAX_CACHE_DIR": str(tmp_path)}
    code = "from alignment_tax.onnx_encoder import exported_model; print(exported_model())"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True) for _ in "ab"]
    outputs = [p.communicate(timeout=600)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs) and outputs[0] == outputs[1]
    assert sorted(p.name for p in (tmp_path / "encoders").iterdir()) == sorted(
        [Path(outputs[0]).name, Path(outputs[0]).name + ".lock"]
    )


def test_an_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("ALTAX_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(AltaxError, match="not writable.*ALTAX_CACHE_DIR"):
        exported_model()
