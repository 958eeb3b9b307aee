"""The router's encoder on ONNX Runtime: torch's embeddings in float32, close to them in int8, a prompt's score
independent of its batch, exported once into the cache, no silent fallback."""

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


@pytest.fixture(scope="module")
def held_out_prompts():
    return [row.prompt for row in load_split(DATA_DIR, "test")]


def test_the_float_graph_embeds_as_torch_does(held_out_prompts):
    onnx = shared_encoder(RISK_TOKENS, quantized=False).encode(held_out_prompts)
    torch = Encoder(RISK_TOKENS, quantize=False).encode(held_out_prompts)
    assert np.abs(onnx - torch).max() < 1e-4


def test_the_int8_graph_stays_close_to_the_float_one(held_out_prompts):
    """Per-channel int8 weights keep every row's cosine to its float32 row above 0.97 (per-tensor weights fall to
    about 0.93), and the packaged router, trained on int8 rows, changes few verdicts read on float32 rows."""
    int8 = shared_encoder(RISK_TOKENS, quantized=True).encode(held_out_prompts)
    float32 = shared_encoder(RISK_TOKENS, quantized=False).encode(held_out_prompts)
    assert (int8 * float32).sum(axis=1).min() > 0.97
    router = load_risk_classifier()
    assert router.meta.quantized == QUANTIZED is True
    for threshold in THRESHOLDS:
        changed = (router.probabilities(int8) >= threshold) != (router.probabilities(float32) >= threshold)
        assert changed.mean() < 0.05


def test_the_router_scores_each_prompt_alone_through_the_int8_session(classifier, monkeypatch):
    encoder = shared_encoder(RISK_TOKENS, QUANTIZED)
    assert isinstance(encoder, OnnxEncoder) and encoder.path == exported_model(int8=True)
    lone = encoder.session(1)
    assert lone.get_providers() == ["CPUExecutionProvider"]
    assert lone.get_session_options().intra_op_num_threads == ROUTING_THREADS
    rows: list[int] = []

    class Counting:
        def run(self, outputs, feeds):
            rows.append(len(feeds["input_ids"]))
            return lone.run(outputs, feeds)

    monkeypatch.setattr(encoder, "sessions", {encoder.threads: Counting()})
    prompts = [f"Prompt {i} that no other test scores." for i in range(MANY_ROWS)]
    classifier.scores(prompts)
    assert rows == [1] * len(prompts)


@pytest.mark.parametrize("quantized", [True, False])
def test_a_prompt_embeds_the_same_alone_and_in_a_batch_on_more_threads(quantized):
    encoder = shared_encoder(RISK_TOKENS, quantized)
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
    path, int8 = exported_model(), exported_model(int8=True)
    assert path.parent == int8.parent == tmp_path / "encoders" and path.suffix == int8.suffix == ".onnx"
    files = [path.name, path.name + ".lock", int8.name, int8.name + ".lock"]
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(files)
    stamps = path.stat().st_mtime_ns, int8.stat().st_mtime_ns
    assert exported_model(int8=True) == int8 and (path.stat().st_mtime_ns, int8.stat().st_mtime_ns) == stamps
    fresh = OnnxEncoder(RISK_TOKENS, ROUTING_THREADS, int8=True)
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
