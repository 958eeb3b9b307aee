"""An OpenAI-compatible HTTP server over any backend, batching concurrent requests that share decoding settings."""

from __future__ import annotations

import itertools
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from alignment_tax.models.base import Backend, Generation, GenerationRequest, StreamsText

log = logging.getLogger(__name__)
Pieces = Callable[[str], None]
"""Called with each new piece of one answer's text."""


@dataclass
class _Job:
    request: GenerationRequest
    on_text: Pieces | None = None
    future: Future[Generation] = field(default_factory=Future)


class Batcher:
    """One thread generates; requests that arrive within ``wait_s`` of each other and share length cap,
    stop strings, temperature and seed are generated as one batch. ``lock`` guards every use of the model:
    batchers of backends sharing one loaded model (its steered variants) are given the same lock."""

    def __init__(self, backend: Backend, max_batch: int = 16, wait_s: float = 0.01, lock: threading.Lock | None = None):
        self.backend, self.max_batch, self.wait_s = backend, max_batch, wait_s
        self._queue: queue.Queue[_Job] = queue.Queue()
        self.lock = lock or threading.Lock()
        self._ids = itertools.count()
        threading.Thread(target=self._loop, daemon=True, name="altax-batcher").start()

    def submit(self, prompt: str, max_tokens: int, stop: Sequence[str], temperature: float, seed: int) -> Generation:
        request = GenerationRequest(str(next(self._ids)), prompt, max_tokens, tuple(stop), temperature, seed)
        return self.enqueue(request).result()

    def enqueue(self, request: GenerationRequest, on_text: Pieces | None = None) -> Future[Generation]:
        """Queue one request; its future holds the answer (or the backend's error). Cancelling the future before
        its batch starts takes the request out of it. Where the backend streams (``StreamsText``), ``on_text``
        gets the answer's text piece by piece, on the generating thread, before the future is done."""
        job = _Job(request, on_text)
        self._queue.put(job)
        return job.future

    def reject_waiting(self, error: BaseException) -> None:
        """Fail every queued request not yet in a batch with ``error``."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(error)

    def _loop(self) -> None:
        while True:
            jobs = [self._queue.get()]
            deadline = time.monotonic() + self.wait_s
            while len(jobs) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                try:
                    jobs.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
            groups: dict[tuple, list[_Job]] = {}
            for job in jobs:
                if job.future.set_running_or_notify_cancel():  # False: cancelled while it waited
                    r = job.request
                    groups.setdefault((r.max_new_tokens, r.stop, r.temperature, r.seed), []).append(job)
            for group in groups.values():
                try:
                    with self.lock:
                        outputs = self._generate(group)
                except Exception as error:  # handed to the waiting request, which answers HTTP 500
                    for job in group:
                        job.future.set_exception(error)
                else:
                    for job, output in zip(group, outputs, strict=True):
                        job.future.set_result(output)

    def _generate(self, group: list[_Job]) -> list[Generation]:
        requests = [job.request for job in group]
        sinks = [job.on_text for job in group]
        if not any(sinks) or not isinstance(self.backend, StreamsText):
            return self.backend.generate(requests)

        def on_text(index: int, piece: str) -> None:
            sink = sinks[index]
            if sink is not None:
                sink(piece)

        return self.backend.generate_streaming(requests, on_text)


class _BadRequest(Exception):
    pass


def completion_body(name: str, fingerprint: str, kind: str, choice: dict, prompt_tokens: int, n_tokens: int) -> dict:
    """An OpenAI completion object (``chat.completion`` or ``text_completion``) with one choice and its usage."""
    return {
        "id": f"altax-{time.time_ns()}",
        "object": kind,
        "created": int(time.time()),
        "model": name,
        "system_fingerprint": fingerprint,
        "choices": [{"index": 0, **choice}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": n_tokens,
            "total_tokens": prompt_tokens + n_tokens,
        },
    }


class Service:
    """What the HTTP handler calls: model listing, chat and text completions over one backend."""

    def __init__(self, backend: Backend, name: str, api_key: str | None = None, **batching):
        self.backend, self.name, self.api_key = backend, name, api_key
        self.batcher = Batcher(backend, **batching)

    def models(self) -> dict:
        entry = {
            "id": self.name,
            "object": "model",
            "owned_by": "alignment-tax",
            "root": self.backend.spec,
            "fingerprint": self.backend.fingerprint,
        }
        return {"object": "list", "data": [entry]}

    def complete(self, body: dict, chat: bool) -> dict:
        if body.get("model") != self.name:
            raise _BadRequest(f"model {body.get('model')!r} is not served here; this server serves {self.name!r}")
        if body.get("stream") or body.get("n", 1) != 1:
            raise _BadRequest("stream and n > 1 are not supported")
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        if chat:
            rendered = self.backend.render(body["messages"])
            prompt, stop = rendered.prompt, list(dict.fromkeys([*rendered.stop, *stop]))
        else:
            prompt = body["prompt"]
            if body.get("echo"):
                return self._echo(prompt, body)
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 128)
        temperature, seed = float(body.get("temperature") or 0.0), int(body.get("seed") or 0)
        out = self.batcher.submit(prompt, max_tokens, stop, temperature, seed)
        choice: dict[str, object] = (
            {"message": {"role": "assistant", "content": out.text}} if chat else {"text": out.text}
        )
        kind = "chat.completion" if chat else "text_completion"
        choice["finish_reason"] = out.finish_reason
        return completion_body(
            self.name, self.backend.fingerprint, kind, choice, self.backend.prompt_length(prompt), out.n_tokens
        )

    def _echo(self, prompt: str, body: dict) -> dict:
        """The prompt's own token log-probabilities, as log-likelihood clients ask: ``echo`` with ``max_tokens`` 0, or
        1 as lm-evaluation-harness sends (nothing is generated either way; such clients ignore the new token)."""
        if body.get("max_tokens") not in (0, 1) or body.get("logprobs") is None:
            raise _BadRequest("echo is supported with max_tokens 0 or 1 and logprobs set")
        score = getattr(self.backend, "token_logprobs", None)
        if score is None:
            raise _BadRequest(f"{self.backend.spec} gives no log-probabilities")
        with self.batcher.lock:
            tokens, offsets, values = zip(*score(prompt), strict=True)
        logprobs = {"tokens": list(tokens), "text_offset": list(offsets), "token_logprobs": list(values)}
        choice = {"text": prompt, "logprobs": logprobs, "finish_reason": "length"}
        return completion_body(self.name, self.backend.fingerprint, "text_completion", choice, len(tokens), 0)


class _Handler(BaseHTTPRequestHandler):
    service: Service

    def log_message(self, format: str, *args) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": {"message": message, "type": "invalid_request_error", "code": status}})

    def _authorized(self) -> bool:
        key = self.service.api_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._error(401, "missing or wrong API key")
        return False

    def do_GET(self) -> None:
        if not self._authorized():
            return
        if self.path.rstrip("/") == "/v1/models":
            self._send(200, self.service.models())
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self) -> None:
        if not self._authorized():
            return
        routes = {"/v1/chat/completions": True, "/v1/completions": False}
        chat = routes.get(self.path.rstrip("/"))
        if chat is None:
            self._error(404, f"no route {self.path}")
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self._send(200, self.service.complete(body, chat))
        except (_BadRequest, KeyError, TypeError, ValueError) as error:
            self._error(400, f"bad request: {error}")
        except Exception as error:
            log.exception("generation failed")
            self._error(500, f"generation failed: {type(error).__name__}")


def make_server(service: Service, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A threaded HTTP server (not yet serving) answering under ``/v1``; ``port`` 0 picks a free port."""
    handler = type("Handler", (_Handler,), {"service": service})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
