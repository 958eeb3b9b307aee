"""`altax serve` with the embedded model, used through openai:, killed mid-run and resumed."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="the openai extra is not installed")

pytestmark = pytest.mark.slow
ALTAX = [sys.executable, "-m", "alignment_tax"]
SERVED = "builtin:smollm2-135m-instruct"
SECRET = "sk-serve-test-secret-9876"
QUESTIONS = ["capital of France", "capital of Italy", "capital of Spain", "capital of Japan", "largest planet"]
ANSWERS = ["Paris", "Rome", "Madrid", "Tokyo", "Jupiter"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "SERVE_KEY": SECRET}
    command = [*ALTAX, "serve", SERVED, "--port", str(port), "--api-key-env", "SERVE_KEY", "--max-batch", "2"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = server.stdout.readline()
    assert line.startswith("serving "), server.stderr.read()
    return server


def write_experiment(tmp_path: Path, port: int) -> Path:
    suite = tmp_path / "suite.jsonl"
    suite.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"q{i}",
                    "category": "factual_recall",
                    "prompt": f"What is the {q}? Answer in one word.",
                    "reference": {"scorer": "exact", "answers": [a]},
                }
            )
            + "\n"
            for i, (q, a) in enumerate(zip(QUESTIONS, ANSWERS, strict=True))
        )
    )
    spec = f"openai:{SERVED}@http://127.0.0.1:{port}/v1?key_env=SERVE_KEY&retries=2&backoff=0.2"
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(
        f'suite = "{suite}"\nreference = "served"\n[decoding]\nmax_new_tokens = {{ factual_recall = 10 }}\n'
        f'[[configs]]\nname = "served"\nmodel = "{spec}"\n'
    )
    return experiment


def stored(results: Path) -> dict[str, tuple]:
    with sqlite3.connect(results / "store.sqlite") as db:
        return {r[0]: r[1:] for r in db.execute("SELECT key, text, created_at, template_hash, prompt FROM generations")}


def stored_so_far(results: Path) -> bool:
    """Whether a generation is stored yet; the store file exists a moment before its tables do."""
    try:
        return bool(stored(results))
    except sqlite3.OperationalError:
        return False


def test_served_model_killed_mid_run_then_resumed(tmp_path):
    port, results = free_port(), tmp_path / "r"
    experiment = write_experiment(tmp_path, port)
    run = [*ALTAX, "run", "--config", str(experiment), "--results-dir", str(results), "--batch-size", "1"]  # calls of 4
    env = {**os.environ, "SERVE_KEY": SECRET}
    server = start_server(port)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 401
        first = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.time() + 600
        while time.time() < deadline and first.poll() is None:
            if (results / "store.sqlite").is_file() and stored_so_far(results):
                break
            time.sleep(0.2)
        server.send_signal(signal.SIGKILL)
        server.wait()
        out, err = first.communicate(timeout=300)
    finally:
        server.kill()
    assert first.returncode == 2, out + err
    assert "failed 3 tries: connection failed" in err and "run again to resume" in err
    before = stored(results)
    assert 0 < len(before) < len(QUESTIONS)

    server = start_server(port)
    try:
        second = subprocess.run(run, capture_output=True, text=True, env=env, timeout=600)
    finally:
        server.kill()
        server.wait()
    assert second.returncode == 0, second.stdout + second.stderr
    after = stored(results)
    assert len(after) == len(QUESTIONS)
    assert all(after[key] == value for key, value in before.items())  # kept, not regenerated
    with sqlite3.connect(results / "store.sqlite") as db:
        (run_id,) = db.execute("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
        keys = [r[0] for r in db.execute("SELECT key FROM run_requests WHERE run_id=?", (run_id,))]
    assert sorted(keys) == sorted(after)
    texts = [value[0] for value in after.values()]
    assert {value[2] for value in after.values()} == {"server-side template"}
    assert sum(answer in " ".join(texts) for answer in ANSWERS) >= 3, texts
    for output in (out, err, second.stdout, second.stderr):
        assert SECRET not in output
    for path in results.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_served_log_likelihood_matches_the_model(monkeypatch):
    from alignment_tax.errors import AltaxError
    from alignment_tax.models.specs import load_backend

    monkeypatch.setenv("SERVE_KEY", SECRET)
    port = free_port()
    server = start_server(port)
    try:
        url = f"http://127.0.0.1:{port}/v1?key_env=SERVE_KEY"
        remote = load_backend(f"openai:{SERVED}@{url}&endpoint=completions")
        question = "Question: What is the capital of France?\nAnswer:"
        pairs = [(question, " Paris"), (question, " Rome"), (question, " a city in Europe")]
        scores = remote.loglikelihood(pairs)
        with pytest.raises(AltaxError, match="endpoint=completions"):
            load_backend(f"openai:{SERVED}@{url}").loglikelihood(pairs)
    finally:
        server.kill()
        server.wait()
    assert scores == pytest.approx(load_backend(SERVED).loglikelihood(pairs), abs=1e-3)
    assert scores[0] > scores[1]
