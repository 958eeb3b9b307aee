"""llamacpp:PATH.gguf in process, and openai: against the llama.cpp server, both on the embedded model's GGUF;
skipped where llama-cpp-python (the llamacpp extra; `make test` installs it) is not installed."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import GenerationRequest
from alignment_tax.models.builtin import locate_gguf
from alignment_tax.models.specs import load_backend

HAVE_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None
needs_llama_cpp = pytest.mark.skipif(
    not HAVE_LLAMA_CPP, reason="llama-cpp-python (the llamacpp extra) is not installed"
)
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture(scope="module")
def gguf():
    return locate_gguf("smollm2-135m-instruct")[0]


@pytest.fixture(scope="module")
def llamacpp(gguf):
    return load_backend(f"llamacpp:{gguf}")


@pytest.mark.skipif(HAVE_LLAMA_CPP, reason="checks the message shown without the llamacpp extra")
def test_missing_extra_says_how_to_install(gguf):
    with pytest.raises(AltaxError, match=r"alignment-tax\[llamacpp\]"):
        load_backend(f"llamacpp:{gguf}")


@pytest.mark.slow
@needs_llama_cpp
def test_gguf_answers_with_its_own_chat_template(llamacpp, gguf):
    rendered = llamacpp.render(QUESTION)
    assert "<|im_start|>user\nWhat is the capital of France?" in rendered.prompt
    (answer,) = llamacpp.generate([GenerationRequest("a", rendered.prompt, 16)])
    assert "Paris" in answer.text and answer.n_tokens > 0
    assert llamacpp.fingerprint == load_backend(f"llamacpp:{gguf}").fingerprint
    assert llamacpp.context_length == 4096  # the executor sets longer prompts aside


@pytest.mark.slow
@needs_llama_cpp
def test_log_probabilities_agree_with_transformers_on_the_same_file(llamacpp):
    """llama.cpp computes with the quantized weights (and quantized activations), transformers with the same
    weights dequantized to float32: the two must rank alike and agree to a fraction of a nat."""
    prompt = llamacpp.render(QUESTION).prompt
    pairs = [(prompt, "Paris"), (prompt, "Berlin"), (prompt, "The capital of France is Paris."), (prompt, " Rome")]
    ours = llamacpp.loglikelihood(pairs)
    theirs = load_backend("builtin:smollm2-135m-instruct").loglikelihood(pairs)
    assert ours[0] > ours[1] and ours[2] > ours[3]
    assert ours == pytest.approx(theirs, abs=0.6)
    assert llamacpp.loglikelihood(pairs[::-1]) == pytest.approx(ours[::-1], abs=1e-6)  # the cache rolls back cleanly
    (first,) = llamacpp.next_token_logprobs([prompt], ["The", "I", "Sorry"])
    assert set(first) == {"The", "I", "Sorry"} and first["The"] > first["Sorry"]
    assert first["The"] == pytest.approx(llamacpp.loglikelihood([(prompt, "The")])[0], abs=1e-6)


@pytest.mark.slow
@needs_llama_cpp
def test_a_native_crash_fails_the_call_clearly_and_altax_lives_on(gguf):
    backend = load_backend(f"llamacpp:{gguf}")
    request = GenerationRequest("a", backend.render(QUESTION).prompt, 4)
    assert backend.generate([request])[0].n_tokens > 0
    os.kill(backend.child.pid, signal.SIGSEGV)  # what a crash in llama.cpp's kernels does to its process
    for _ in range(2):  # the call in flight and every later one
        with pytest.raises(AltaxError, match=r"llamacpp:.*died \(killed by SIGSEGV\) during generate.*rerun"):
            backend.generate([request])


def _model_processes(pid: int) -> list[int]:
    """The spawned model processes among ``pid``'s children (not multiprocessing's resource tracker, which
    spawning also starts: killing it instead of the model let the run finish normally under load)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                command = (entry / "cmdline").read_bytes()
                if b"multiprocessing.spawn" in command and b"resource_tracker" not in command:
                    found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


@pytest.mark.slow
@needs_llama_cpp
def test_altax_run_names_the_backend_that_died_and_says_it_can_resume(gguf, tmp_path):
    experiment = tmp_path / "gguf.toml"
    experiment.write_text(
        f'suite = "core"\nlimit = 10\nreference = "gguf"\n[[configs]]\nname = "gguf"\nmodel = "llamacpp:{gguf}"\n'
    )
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alignment_tax",
            "run",
            "--config",
            str(experiment),
            "--results-dir",
            str(tmp_path / "r"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (workers := _model_processes(run.pid)) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # loaded and generating
    for worker in workers:
        os.kill(worker, signal.SIGSEGV)
    _, stderr = run.communicate(timeout=120)
    assert workers and run.returncode == 2, stderr
    assert f"llamacpp:{gguf}: the model process died (killed by SIGSEGV)" in stderr
    assert "rerun the same command to resume" in stderr and "Traceback" not in stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(gguf, tmp_path_factory):
    """`python -m llama_cpp.server` serving the GGUF on loopback; yields its base URL."""
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")
    httpx = pytest.importorskip("httpx", reason="the openai extra is not installed")
    port, log = _free_port(), tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2"]
    with log.open("w") as sink:  # a file, not a pipe: the server logs every request and would fill a pipe
        server = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(port)], stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
@needs_llama_cpp
def test_openai_backend_against_the_llama_cpp_server(llama_server, llamacpp):
    chat = load_backend(f"openai:smollm2@{llama_server}")
    assert chat.fingerprint.startswith(f"openai:smollm2@{llama_server}")
    (answer,) = chat.generate([GenerationRequest("a", chat.render(QUESTION).prompt, 16, ("\n\n",))])
    assert "Paris" in answer.text and answer.finish_reason == "stop" and answer.n_tokens > 0
    # the completions endpoint and the in-process backend run the same file with the same greedy decoding
    completions = load_backend(f"openai:smollm2@{llama_server}?endpoint=completions")
    request = GenerationRequest("b", llamacpp.render(QUESTION).prompt, 12)
    assert completions.generate([request])[0].text == llamacpp.generate([request])[0].text
