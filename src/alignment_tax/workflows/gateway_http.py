"""The gateway's HTTP face: an OpenAI-compatible Starlette app on uvicorn with a bounded queue, per-request
timeouts, a traffic log line and metrics per request, and a shutdown that answers or rejects all in flight."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import json
import logging
import math
import socket
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from types import FrameType
from typing import Literal, cast

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from alignment_tax.errors import AltaxError
from alignment_tax.models.serve import Pieces, completion_body
from alignment_tax.records import TrafficRecord, TrafficStatus
from alignment_tax.workflows.gateway import Answer, Ask, Gateway, NotServed, Unavailable, routed_text
from alignment_tax.workflows.gateway_metrics import GatewayMetrics
from alignment_tax.workflows.traffic_log import TrafficLog, sha256

log = logging.getLogger(__name__)
CHAT, COMPLETIONS = "/v1/chat/completions", "/v1/completions"
RECENT = 8
"""Answers the latency average given to rejected clients (Retry-After) mostly reflects."""


class ChatMessage(BaseModel):
    """One chat turn, its content text."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant"]
    content: str


class StreamOptions(BaseModel):
    """What a streamed answer adds: a last event with the token usage."""

    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class _Body(BaseModel):
    """What both completion endpoints read; other OpenAI fields are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    model: str
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0)
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: Literal[1] = 1

    def conversation(self) -> list[dict[str, str]]:
        """The request's turns as chat messages (each endpoint reads its own field)."""
        raise NotImplementedError

    def ask(self) -> Ask:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop or []
        tokens = self.max_tokens or self.max_completion_tokens
        return Ask(self.model, self.conversation(), tokens, tuple(stop), self.temperature, self.seed)


class ChatBody(_Body):
    """``/v1/chat/completions``: the conversation."""

    messages: list[ChatMessage] = Field(min_length=1)

    def conversation(self) -> list[dict[str, str]]:
        return [m.model_dump() for m in self.messages]


class CompletionBody(_Body):
    """``/v1/completions``: the prompt is one user turn of the configuration's chat."""

    prompt: str

    def conversation(self) -> list[dict[str, str]]:
        return [{"role": "user", "content": self.prompt}]


@dataclass(frozen=True)
class Limits:
    """Back-pressure and timing: at most ``max_queue`` requests admitted at once; each answered within
    ``timeout_s`` or told so (504)."""

    max_queue: int
    timeout_s: float


def _error(status: int, message: str, retry_after: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after is not None else None
    kind = "rate_limit_error" if status == 429 else "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, headers)


class _App:
    """The request handlers and what they share: the gateway, the log, the metrics and the admission count."""

    def __init__(self, gateway: Gateway, traffic: TrafficLog, limits: Limits, api_key: str | None):
        self.gateway, self.traffic, self.limits, self.api_key = gateway, traffic, limits, api_key
        self.metrics = GatewayMetrics()
        self.admitted = 0
        self.recent_s = 0.0
        """A moving average of answer latency: what a client told to retry should wait."""
        self.finishing: set[asyncio.Task] = set()

    def authorized(self, request: Request) -> bool:
        if self.api_key is None:
            return True
        sent = request.headers.get("authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {self.api_key}".encode())

    async def models(self, request: Request) -> Response:
        if not self.authorized(request):
            return _error(401, "missing or wrong API key")
        data = []
        for name, config in self.gateway.configs.items():
            fingerprint, root = self.gateway.identity(name)
            entry = {"id": name, "object": "model", "owned_by": "alignment-tax", "root": root}
            data.append(entry | {"fingerprint": fingerprint, "description": config.description})
        return JSONResponse({"object": "list", "data": data})

    async def healthz(self, request: Request) -> Response:
        if self.gateway.closing:
            return JSONResponse({"status": "shutting down"}, 503)
        return JSONResponse({"status": "ok", "queue": self.admitted})

    async def prometheus(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def chat(self, request: Request) -> Response:
        return await self._complete(request, ChatBody, CHAT)

    async def completions(self, request: Request) -> Response:
        return await self._complete(request, CompletionBody, COMPLETIONS)

    async def _complete(self, request: Request, kind: type[_Body], endpoint: str) -> Response:
        arrived, started = time.time(), time.perf_counter()
        if not self.authorized(request):
            return _error(401, "missing or wrong API key")
        try:
            body = kind.model_validate(json.loads(await request.body()))
            ask = body.ask()
            text = routed_text(ask.conversation)
        except (ValueError, ValidationError, NotServed) as error:
            return _error(400, f"bad request: {' '.join(str(error).split())}")
        prefix = "chatcmpl" if endpoint == CHAT else "cmpl"
        line = _Line(self, arrived, started, f"{prefix}-{uuid.uuid4().hex}", ask, endpoint, text)
        if self.gateway.closing:
            return line.reject(503, "the gateway is shutting down; retry elsewhere", self.recent_s)
        if self.admitted >= self.limits.max_queue:
            return line.reject(429, f"the queue is full ({self.limits.max_queue} requests)", self.recent_s)
        self.admitted += 1
        self.metrics.queue.set(self.admitted)
        if body.stream:
            return await self._stream(ask, line, bool(body.stream_options and body.stream_options.include_usage))
        answer = await self._answer(ask, line, None)
        if isinstance(answer, Response):
            return answer
        fingerprint, _ = self.gateway.identity(ask.config)
        message = (
            {"message": {"role": "assistant", "content": answer.text}} if endpoint == CHAT else {"text": answer.text}
        )
        payload = completion_body(
            ask.config,
            fingerprint,
            "chat.completion" if endpoint == CHAT else "text_completion",
            {**message, "finish_reason": answer.finish_reason},
            answer.prompt_tokens,
            answer.completion_tokens,
        )
        line.answered(answer)
        return JSONResponse(payload | {"id": line.request_id})

    async def _answer(self, ask: Ask, line: _Line, on_text: Pieces | None) -> Answer | Response:
        """An admitted request's answer, or the error response of its failure (its line written); it leaves the
        queue either way."""
        try:
            answer = await asyncio.wait_for(self.gateway.answer(ask, line.request_id, on_text), self.limits.timeout_s)
        except TimeoutError:
            return line.fail("timeout", 504, f"no answer within {self.limits.timeout_s:g} s")
        except Unavailable as error:
            return line.reject(503, str(error), self.recent_s)
        except NotServed as error:
            return line.fail("error", 404 if ask.config not in self.gateway.configs else 400, str(error))
        except AltaxError as error:  # an upstream server failed; its message names it, never the key
            return line.fail("error", 502, str(error))
        except asyncio.CancelledError:  # the server is forced down: the request goes unanswered, not unlogged
            line.reject(503, "the gateway was stopped", self.recent_s)
            raise
        except Exception:
            log.exception("generation failed")
            return line.fail("error", 500, "generation failed")
        finally:
            self.admitted -= 1
            self.metrics.queue.set(self.admitted)
        self.recent_s += (time.perf_counter() - line.started - self.recent_s) / RECENT
        return answer

    async def _stream(self, ask: Ask, line: _Line, include_usage: bool) -> Response:
        """A streamed answer: its text as the model generates it where the model streams, else whole once done. A
        request that fails before its first piece gets its error status; one that fails after it, an error event.
        The log line (with the verdict) follows the last event."""
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()

        def on_text(piece: str) -> None:  # called on the generating thread
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        work = asyncio.ensure_future(self._answer(ask, line, on_text))
        work.add_done_callback(lambda _: pieces.put_nowait(None))  # after every piece: both go through the loop
        try:
            first = await pieces.get()
        except asyncio.CancelledError:
            work.cancel()
            raise
        if first is None and isinstance(work.result(), Response):
            return cast(Response, work.result())
        fingerprint, _ = self.gateway.identity(ask.config)
        events = _Events(line.request_id, ask.config, fingerprint, line.endpoint, include_usage)

        async def send() -> AsyncIterator[bytes]:
            sent, piece = "", first
            try:
                yield events.start()
                while piece is not None:
                    sent += piece
                    yield events.text(piece)
                    piece = await pieces.get()
                outcome = work.result()
                if isinstance(outcome, Response):
                    yield events.error(json.loads(bytes(outcome.body)))
                else:
                    if outcome.text.startswith(sent) and len(outcome.text) > len(sent):
                        yield events.text(outcome.text[len(sent) :])  # a model that does not stream: all of it
                    yield events.end(outcome)
                yield events.done()
            finally:
                self.finish(self._log_streamed(line, work))

        return StreamingResponse(send(), media_type="text/event-stream")

    async def _log_streamed(self, line: _Line, work: asyncio.Future[Answer | Response]) -> None:
        """A streamed request's line, once its answer is whole (the client may have left before)."""
        outcome = await work
        if not isinstance(outcome, Response):
            line.answered(outcome)

    def finish(self, work: Coroutine[object, object, None]) -> None:
        """Run a request's closing work (verdict, log line, metrics) after its answer; shutdown awaits it."""
        task = asyncio.ensure_future(work)
        self.finishing.add(task)
        task.add_done_callback(self.finishing.discard)

    async def drain(self) -> None:
        """Wait for every request's closing work."""
        while self.finishing:
            await asyncio.gather(*self.finishing)


class _Line:
    """One request's traffic line, written once: at once for a request not answered, after the answer's
    refusal verdict for an answered one."""

    def __init__(self, app: _App, arrived: float, started: float, request_id: str, ask: Ask, endpoint: str, text: str):
        self.app, self.arrived, self.started, self.request_id = app, arrived, started, request_id
        self.ask, self.endpoint, self.text = ask, endpoint, text

    def _record(self, status: TrafficStatus, answer: Answer | None) -> TrafficRecord:
        config = self.app.gateway.configs.get(self.ask.config)
        return TrafficRecord(
            time=self.arrived,
            request_id=self.request_id,
            config=self.ask.config,
            model=config.model if config else "",
            endpoint=self.endpoint,
            status=status,
            risk=answer.risk if answer else None,
            guarded=answer.guarded if answer else False,
            refusal=None,
            prompt_tokens=answer.prompt_tokens if answer else 0,
            completion_tokens=answer.completion_tokens if answer else 0,
            latency_s=time.perf_counter() - self.started,
            prompt_sha256=sha256(self.text),
            answer_sha256=sha256(answer.text) if answer else "",
            prompt=self.text,
            answer=answer.text if answer else None,
        )

    def _write(self, record: TrafficRecord, answer: Answer | None) -> None:
        self.app.traffic.append(record)
        self.app.metrics.observe(record.config, record.risk, record.guarded, record.status, record.latency_s)
        if answer is not None and answer.risk is not None:
            self.app.metrics.routing.labels(record.config).observe(answer.routing_s)

    def reject(self, status: int, message: str, retry_after: float) -> JSONResponse:
        self._write(self._record("rejected", None), None)
        return _error(status, message, retry_after)

    def fail(self, status: TrafficStatus, code: int, message: str) -> JSONResponse:
        self._write(self._record(status, None), None)
        return _error(code, message)

    def answered(self, answer: Answer) -> None:
        """Log the answer once its verdict is known, after the response is on its way."""
        record = self._record("ok", answer)

        async def work() -> None:
            label = None
            try:
                label = await self.app.gateway.verdict(self.text, answer)
                self.app.metrics.refusal(record.config, record.risk, record.guarded, label)
            finally:
                self._write(dataclasses.replace(record, refusal=label), answer)

        self.app.finish(work())


class _Events:
    """The server-sent events of one streamed answer, as OpenAI sends them: the role, text pieces, the finish
    reason, the usage when asked, done; an error event for an answer that failed once begun."""

    def __init__(self, request_id: str, model: str, fingerprint: str, endpoint: str, include_usage: bool):
        self.chat, self.include_usage = endpoint == CHAT, include_usage
        self.base = {"id": request_id, "created": int(time.time()), "model": model, "system_fingerprint": fingerprint}
        self.base["object"] = "chat.completion.chunk" if self.chat else "text_completion"

    def _event(self, content: dict, finish: str | None) -> bytes:
        return _sse(self.base | {"choices": [{"index": 0, **content, "finish_reason": finish}]})

    def start(self) -> bytes:
        return self._event({"delta": {"role": "assistant", "content": ""}} if self.chat else {"text": ""}, None)

    def text(self, piece: str) -> bytes:
        return self._event({"delta": {"content": piece}} if self.chat else {"text": piece}, None)

    def end(self, answer: Answer) -> bytes:
        finish = self._event({"delta": {}} if self.chat else {"text": ""}, answer.finish_reason)
        if not self.include_usage:
            return finish
        tokens = {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens}
        return finish + _sse(self.base | {"choices": [], "usage": tokens | {"total_tokens": sum(tokens.values())}})

    def error(self, body: dict) -> bytes:
        return _sse(body)

    def done(self) -> bytes:
        return b"data: [DONE]\n\n"


def _sse(event: dict) -> bytes:
    return f"data: {json.dumps(event)}\n\n".encode()


def build_app(gateway: Gateway, traffic: TrafficLog, limits: Limits, api_key: str | None = None) -> Starlette:
    """The ASGI app. On shutdown it waits for every request's closing work, then closes the upstream clients and
    the traffic log (every line on disk)."""
    handlers = _App(gateway, traffic, limits, api_key)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway.start()
        try:
            yield
        finally:
            await handlers.drain()
            await gateway.aclose()
            traffic.close()

    routes = [
        Route(CHAT, handlers.chat, methods=["POST"]),
        Route(COMPLETIONS, handlers.completions, methods=["POST"]),
        Route("/v1/models", handlers.models, methods=["GET"]),
        Route("/healthz", handlers.healthz, methods=["GET"]),
        Route("/metrics", handlers.prometheus, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


class _Server(uvicorn.Server):
    """uvicorn, told of a shutdown signal at once: the gateway stops admitting work when the signal comes and
    rejects its queue when uvicorn starts closing connections (those generating are answered)."""

    def __init__(self, config: uvicorn.Config, gateway: Gateway):
        super().__init__(config)
        self.gateway = gateway

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.gateway.closing = True
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.gateway.begin_shutdown()
        await super().shutdown(sockets)


class GatewayServer:
    """A gateway bound to its port (``port`` 0 picks a free one), not yet serving."""

    def __init__(self, app: Starlette, gateway: Gateway, host: str, port: int, grace_s: float):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self.socket = socket.create_server((host, port), family=family)
        except OSError as error:
            raise AltaxError(f"cannot listen on {host}:{port} ({error.strerror}); pick another --port") from None
        bound = self.socket.getsockname()[1]
        self.url = f"http://{f'[{host}]' if family == socket.AF_INET6 else host}:{bound}/v1"
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=math.ceil(grace_s)
        )
        self.server = _Server(config, gateway)

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM, then answer or reject every request in flight and flush the log."""
        self.server.run(sockets=[self.socket])


def open_gateway(
    gateway: Gateway, traffic: TrafficLog, limits: Limits, host: str, port: int, api_key: str | None = None
) -> GatewayServer:
    """The gateway's server, bound: a request admitted before a shutdown gets its answer or its timeout."""
    return GatewayServer(build_app(gateway, traffic, limits, api_key), gateway, host, port, limits.timeout_s)
