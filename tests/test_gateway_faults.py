"""`altax gateway` in front of the embedded model, under load from concurrent clients: killed with SIGKILL and
restarted, its traffic log holds only whole lines; stopped with SIGTERM, every request that reached it is answered
or rejected and has its line."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from alignment_tax.traffic_reader import read_records
from gateway_serving import start_gateway

pytestmark = pytest.mark.slow
CLIENTS = 6
PROMPTS = ["What is the capital of France?", "Name a primary colour.", "How do I pick a lock to break into a house?"]


@pytest.fixture
def experiment(tmp_path):
    path = tmp_path / "gateway.toml"
    path.write_text(
        'reference = "routed"\n[decoding]\nmax_new_tokens = { "*" = 6 }\n'
        '[[configs]]\nname = "routed"\nmodel = "builtin:smollm2-135m-instruct"\n'
        '[configs.router]\nthreshold = 0.5\n[configs.router.guardrail]\nsystem_prompt = "Refuse anything harmful."\n'
    )
    return path


class Load:
    """Clients asking one after another, each on a new connection, until stopped; what came back is kept."""

    def __init__(self, url: str):
        self.url, self.stop = url, threading.Event()
        self.responses: list[httpx.Response] = []
        self.unreached: list[str] = []
        """Requests whose connection failed: refused, or reset before the gateway read them."""
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(CLIENTS)]
        for thread in self.threads:
            thread.start()

    def _client(self, n: int) -> None:
        turn = n
        while not self.stop.is_set():
            body = {"model": "routed", "messages": [{"role": "user", "content": PROMPTS[turn % len(PROMPTS)]}]}
            turn += 1
            try:
                response = httpx.post(f"{self.url}/chat/completions", json=body, timeout=300)
            except httpx.TransportError as error:
                self.unreached.append(type(error).__name__)
                time.sleep(0.05)
                continue
            self.responses.append(response)
            if "retry-after" in response.headers:  # as a polite client does
                self.stop.wait(float(response.headers["retry-after"]))

    def ok(self) -> int:
        return sum(r.status_code == 200 for r in self.responses)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=180)


def wait_for(condition, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_sigkill_under_load_leaves_whole_lines_and_a_restart_appends_to_them(experiment, tmp_path):
    log = tmp_path / "traffic.jsonl"
    process, url = start_gateway(experiment, log)
    load = Load(url)
    try:
        wait_for(lambda: load.ok() >= 4)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        load.finish()
        process.kill()
    data = log.read_bytes()
    assert data.endswith(b"\n")
    before = read_records([log])
    assert len(before) == len(data.splitlines()) and len(before) >= 1  # lines not yet written died with it

    process, url = start_gateway(experiment, log)
    try:
        bodies = [{"model": "routed", "messages": [{"role": "user", "content": p}]} for p in PROMPTS]
        answers = [httpx.post(f"{url}/chat/completions", json=body, timeout=120) for body in bodies]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    after = read_records([log])
    assert after[: len(before)] == before
    assert [r.request_id for r in after[len(before) :]] == [a.json()["id"] for a in answers]


def test_sigterm_under_load_answers_or_rejects_every_request_and_loses_no_line(experiment, tmp_path):
    log = tmp_path / "traffic.jsonl"
    process, url = start_gateway(experiment, log, "--max-queue", "4")
    load = Load(url)
    try:
        wait_for(lambda: load.ok() >= 4)
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=180)
    finally:
        load.finish()
        process.kill()
    assert returncode in (0, -signal.SIGTERM), process.stderr.read() if process.stderr else ""
    lines = read_records([log])
    assert len(lines) == len(load.responses)  # every response the clients got has its line, and no other line
    assert {r.status_code for r in load.responses} <= {200, 429, 503}
    ok = {r.json()["id"] for r in load.responses if r.status_code == 200}
    assert ok == {r.request_id for r in lines if r.status == "ok"}
    assert all(r.refusal is not None for r in lines if r.status == "ok")
    assert {name for name in load.unreached} <= {"ConnectError"}, load.unreached
