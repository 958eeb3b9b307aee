"""Serving a gateway on loopback from a test: in a thread of the test process, or as `altax gateway` in its own."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from alignment_tax.workflows.gateway import Gateway
from alignment_tax.workflows.gateway_http import GatewayServer, Limits, open_gateway
from alignment_tax.workflows.traffic_log import TrafficLog


@contextlib.contextmanager
def serving(
    served: Gateway, log: Path, max_queue: int = 8, timeout: float = 60.0, key: str | None = None
) -> Iterator[GatewayServer]:
    """The gateway serving from a thread (port picked by the system), its log keeping text; stopped on exit as a
    signal stops it."""
    traffic = TrafficLog(log, max_bytes=10**6, keep=1, text=True)
    server = open_gateway(served, traffic, Limits(max_queue, timeout), "127.0.0.1", 0, key)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.server.started
    try:
        yield server
    finally:
        server.server.should_exit = True
        thread.join(timeout=120)
        assert not thread.is_alive()


def start_gateway(config: Path, log: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """`altax gateway` in a child process on a free port, once it answers /healthz: the process and its base URL."""
    command = [sys.executable, "-m", "alignment_tax", "gateway", "--config", str(config), "--port", "0"]
    command += ["--log", str(log), *options]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("gateway serving"):
        process.kill()
        raise AssertionError(f"the gateway did not start: {line}{process.stderr.read() if process.stderr else ''}")
    url = line.split(" at ")[-1].strip()
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url.removesuffix("/v1") + "/healthz", timeout=5).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, "the gateway did not answer /healthz"
        time.sleep(0.1)
