"""OpenAI-compatible server backend: chat or completions requests, concurrent and retried, key from the environment."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import os
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

import httpx

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import Generation, GenerationRequest, Message, ModelSpec, Rendered
from alignment_tax.models.hf import PLAIN_FORMAT, PLAIN_STOP, render_plain
from alignment_tax.models.streaming import TextPieces

SERVER_TEMPLATE = "server-side template"
"""The template hash of chat requests: the server applies its own chat template to the stored messages."""
CONTENT_FILTER = "content_filter"
MAX_STOP = 4
"""OpenAI accepts at most four stop strings; the rest are applied here, after the answer arrives."""
SHOWN = 200
"""Characters of a server's unexpected answer quoted in an error."""
REDACTED = "[redacted]"
_BEARER = re.compile(r"(?i)\bbearer\s+[^\s\"',;]+")


@dataclass(frozen=True)
class ServerOptions:
    """Per-model options, given as a query string after the spec (``...?endpoint=completions&concurrency=4``)."""

    endpoint: Literal["chat", "completions"] = "chat"
    key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout: float = 120.0
    retries: int = 5
    backoff: float = 0.5

    @classmethod
    def parse(cls, query: str, spec: str) -> ServerOptions:
        types = {f.name: f.type for f in fields(cls)}
        values: dict[str, object] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            if name not in types:
                raise AltaxError(f"unknown option {name!r} in {spec!r}; known: {', '.join(types)}")
            convert = {"int": int, "float": float}.get(str(types[name]), str)
            try:
                values[name] = convert(value)
            except ValueError:
                raise AltaxError(f"option {name}={value!r} in {spec!r} must be a number") from None
        options = cls(**values)  # type: ignore[arg-type]
        if options.endpoint not in ("chat", "completions"):
            raise AltaxError(f"option endpoint in {spec!r} must be chat or completions")
        if options.concurrency < 1 or options.retries < 0 or options.timeout <= 0 or options.backoff < 0:
            raise AltaxError(
                f"{spec!r}: concurrency must be at least 1, retries and backoff at least 0, timeout above 0"
            )
        return options


def split_spec(spec: ModelSpec) -> tuple[str, str, ServerOptions]:
    """(model, base URL, options) of ``openai:MODEL[@BASE_URL][?OPTIONS]``; OPENAI_BASE_URL when no URL is given."""
    model, _, model_query = spec.target.partition("?")
    url, _, url_query = (spec.revision or "").partition("?")
    url = url or os.environ.get("OPENAI_BASE_URL", "")
    if not url:
        raise AltaxError(f"{spec} names no server: write openai:{model}@http://HOST:PORT/v1 or set OPENAI_BASE_URL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AltaxError(f"server URL {url!r} in {spec} must start with http:// or https://")
    if "@" in parts.netloc:
        raise AltaxError(f"{spec} has credentials in its URL; put the key in OPENAI_API_KEY (or ?key_env=VAR) instead")
    return model, url.rstrip("/"), ServerOptions.parse(model_query or url_query, str(spec))


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked to wait (``Retry-After`` as seconds or an HTTP date), if it said."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _cut(text: str, stop: Sequence[str]) -> str:
    cut = min((text.find(s) for s in stop if s in text), default=-1)
    return text[:cut] if cut >= 0 else text


class OpenAIBackend:
    """A model behind an OpenAI-compatible server. The API key is read from the environment at each
    request and never leaves this object (it is not in the spec, the fingerprint or any message)."""

    def __init__(self, spec: str, model: str, base_url: str, options: ServerOptions):
        self.spec, self.model_name, self.base_url, self.options = spec, model, base_url, options
        self.sleep = asyncio.sleep
        """How a retry waits (tests put a recorder here instead of spending the time)."""
        self.streams = True
        """Whether the server streams answers; False once it refused to (``stream``)."""
        if options.key_env != "OPENAI_API_KEY" and not os.environ.get(options.key_env):
            raise AltaxError(f"{spec} reads its API key from ${options.key_env}, which is not set; export it")
        self.fingerprint = self._probe()

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.options.key_env)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _redact(self, text: str) -> str:
        """``text`` without the API key (a server may echo it, even inside an answer)."""
        key = os.environ.get(self.options.key_env)
        return text.replace(key, REDACTED) if key else text

    def _shown(self, text: str) -> str:
        """What a server sent, for an error message: key and bearer tokens redacted, on one line, truncated."""
        flat = " ".join(_BEARER.sub(f"Bearer {REDACTED}", self._redact(text)).split())
        return repr(flat[:SHOWN] + ("..." if len(flat) > SHOWN else ""))

    def _unexpected(self, what: str, problem: str, sent: str) -> AltaxError:
        return AltaxError(f"the server at {self.base_url} answered {what} {problem}: {self._shown(sent)}")

    def _json(self, response: httpx.Response, what: str) -> object:
        try:
            return response.json()
        except ValueError:
            problem = f"with HTTP {response.status_code} but not JSON (is the URL the API's base, often .../v1?)"
            raise self._unexpected(what, problem, response.text) from None

    def _choice(self, data: object, what: str) -> dict:
        """The first choice of an answer, or an error naming the server and what it sent instead."""
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self._unexpected(what, "without choices", json.dumps(data))
        return choices[0]

    def _probe(self) -> str:
        """Check the server answers and serves the model; the fingerprint is its model id, the URL and
        whatever revision or fingerprint the server reports for the model."""
        try:
            response = httpx.get(f"{self.base_url}/models", headers=self._headers(), timeout=self.options.timeout)
        except httpx.HTTPError as error:
            raise AltaxError(
                f"cannot reach the server at {self.base_url} ({type(error).__name__}): start it "
                "(`altax serve MODEL`, `vllm serve MODEL`, ...) or fix the URL"
            ) from None
        self._check_auth(response)
        if response.status_code == 404:  # some servers do not list models
            return f"openai:{self.model_name}@{self.base_url}"
        if response.is_error:
            raise AltaxError(f"the server at {self.base_url} answered HTTP {response.status_code} to GET /models")
        data = self._json(response, "GET /models")
        listed = data.get("data") if isinstance(data, dict) else None
        if not isinstance(listed, list):
            raise self._unexpected("GET /models", "without a model list", json.dumps(data))
        entries = {entry.get("id"): entry for entry in listed if isinstance(entry, dict)}
        entry = entries.get(self.model_name)
        if entry is None:
            listed = ", ".join(sorted(str(name) for name in entries)) or "none"
            raise AltaxError(f"the server at {self.base_url} does not serve {self.model_name!r}; it serves: {listed}")
        served = [
            str(entry[k]) for k in ("root", "revision", "fingerprint") if entry.get(k) not in (None, "", entry["id"])
        ]
        return "#".join([f"openai:{self.model_name}@{self.base_url}", *served])

    def _check_auth(self, response: httpx.Response) -> None:
        if response.status_code in (401, 403):
            raise AltaxError(
                f"the server at {self.base_url} refused the API key (HTTP {response.status_code}); "
                f"set ${self.options.key_env} to a valid key"
            )

    def render(self, messages: Sequence[Message]) -> Rendered:
        if self.options.endpoint == "chat":
            return Rendered(json.dumps(list(messages), ensure_ascii=False), SERVER_TEMPLATE)
        return Rendered(render_plain(messages), hashlib.sha256(PLAIN_FORMAT.encode()).hexdigest()[:16], PLAIN_STOP)

    def prompt_length(self, prompt: str) -> int:
        return len(prompt)

    @property
    def path(self) -> str:
        """The endpoint generation posts to."""
        return "/chat/completions" if self.options.endpoint == "chat" else "/completions"

    def generate(self, requests: Sequence[GenerationRequest], rows: int | None = None) -> list[Generation]:
        answers = asyncio.run(self._post_all([self._body(r) for r in requests], self.path, rows))
        return [self._parse(data, request, self.path) for data, request in zip(answers, requests, strict=True)]

    def client(self) -> httpx.AsyncClient:
        """An HTTP client for this server (its base URL, timeout and key); the caller closes it."""
        timeout = httpx.Timeout(self.options.timeout)
        return httpx.AsyncClient(base_url=self.base_url, timeout=timeout, headers=self._headers())

    async def complete(self, client: httpx.AsyncClient, request: GenerationRequest) -> tuple[Generation, int | None]:
        """One request on an open ``client`` (retried as ``generate`` retries): the answer, and the prompt tokens
        the server counted when it says."""
        data = await self._post(client, self._body(request), self.path)
        usage = data.get("usage") if isinstance(data, dict) else None
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        return self._parse(data, request, self.path), tokens if isinstance(tokens, int) else None

    async def _post_all(self, bodies: Sequence[dict], path: str, rows: int | None = None) -> list[object]:
        """POST every body, at most ``concurrency`` (and ``rows``) at once; answers in order."""
        limit = asyncio.Semaphore(min(self.options.concurrency, rows or self.options.concurrency))
        async with self.client() as client:

            async def one(body: dict) -> object:
                async with limit:
                    return await self._post(client, body, path)

            return list(await asyncio.gather(*(one(body) for body in bodies)))

    def _body(self, request: GenerationRequest) -> dict:
        body: dict = {
            "model": self.model_name,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "seed": request.seed,
        }
        if request.stop:
            body["stop"] = list(request.stop[:MAX_STOP])
        if self.options.endpoint == "chat":
            body["messages"] = json.loads(request.prompt)
        else:
            body["prompt"] = request.prompt
        return body

    async def _post(self, client: httpx.AsyncClient, body: dict, path: str) -> object:
        """POST with retries (``_send``); the answer's JSON."""
        response = await self._send(client, body, path)
        if response.is_error:
            raise self._rejected(response)
        return self._json(response, f"POST {path}")

    def _rejected(self, response: httpx.Response) -> AltaxError:
        shown = self._shown(response.text)
        return AltaxError(f"the server at {self.base_url} rejected a request: HTTP {response.status_code} {shown}")

    async def _send(self, client: httpx.AsyncClient, body: dict, path: str, stream: bool = False) -> httpx.Response:
        """POST with retries on 429, 5xx, timeouts and dropped connections; waits Retry-After when given,
        else an exponential backoff with full jitter. The response, successful or refused (4xx); with ``stream``
        a successful one is not read yet (the caller reads and closes it)."""
        tries = self.options.retries + 1
        for attempt in range(tries):
            wait = None
            try:
                response = await client.send(client.build_request("POST", path, json=body), stream=stream)
            except httpx.TimeoutException:
                problem = f"no answer within {self.options.timeout:g} s (raise ?timeout=SECONDS if it is just slow)"
            except httpx.TransportError as error:
                problem = f"connection failed ({type(error).__name__})"
            else:
                if response.is_error:
                    await response.aread()
                    await response.aclose()
                self._check_auth(response)
                if response.status_code != 429 and response.status_code < 500:
                    return response
                problem, wait = f"HTTP {response.status_code}", retry_after(response)
            if attempt + 1 < tries:
                await self.sleep(wait if wait is not None else random.uniform(0, self.options.backoff * 2**attempt))
        raise AltaxError(
            f"the server at {self.base_url} failed {tries} tries: {problem}. Finished batches are stored; "
            "check the server and run again to resume"
        )

    async def stream(
        self, client: httpx.AsyncClient, request: GenerationRequest, on_text: Callable[[str], None]
    ) -> tuple[Generation, int | None]:
        """``complete``, handing the answer's text to ``on_text`` as the server streams it (retried as ``complete``
        until the server starts answering); the pieces join to the answer ``complete`` would return. A server
        that refuses to stream (HTTP 400) is asked again without, and from then on never asked to stream."""
        if not self.streams:
            return await self.complete(client, request)
        body = self._body(request) | {"stream": True, "stream_options": {"include_usage": True}}
        response = await self._send(client, body, self.path, stream=True)
        if response.status_code == 400:
            whole = await self.complete(client, request)
            self.streams = False
            return whole
        if response.is_error:
            raise self._rejected(response)
        chat, what = self.options.endpoint == "chat", f"POST {self.path} (streamed)"
        pieces = TextPieces((*request.stop, os.environ.get(self.options.key_env) or ""))
        text, refusal, finish, usage = "", "", "stop", dict[str, object]()
        try:
            async for line in response.aiter_lines():
                data = line.removeprefix("data:").strip() if line.startswith("data:") else ""
                if not data or data == "[DONE]":
                    continue
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise self._unexpected(what, "with an event that is not JSON", data) from None
                if not isinstance(chunk, dict) or "error" in chunk:
                    raise self._unexpected(what, "with an error in the stream", data)
                usage = chunk.get("usage") or usage
                choice = (chunk.get("choices") or [{}])[0]
                delta = (choice.get("delta") or {}) if chat else choice
                text += delta.get("content" if chat else "text") or ""
                refusal += delta.get("refusal") or ""
                finish = choice.get("finish_reason") or finish
                if piece := pieces.update(text):
                    on_text(piece)
        finally:
            await response.aclose()
        if refusal:
            text, finish = text or refusal, CONTENT_FILTER
        answer = self._redact(_cut(text, request.stop))
        if piece := pieces.finish(answer):
            on_text(piece)
        tokens = {k: v if isinstance(v := usage.get(k), int) else None for k in ("prompt_tokens", "completion_tokens")}
        return Generation(answer, finish, tokens["completion_tokens"] or 0), tokens["prompt_tokens"]

    def loglikelihood(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Summed log-probability of each continuation, from the server's log-probabilities of the joined text
        (``/completions`` with ``echo``, as vLLM and ``altax serve`` answer; ``max_tokens`` 1 as
        lm-evaluation-harness sends, since some servers refuse 0): the tokens that start within the
        continuation count, so a token the server generates after it never does."""
        if self.options.endpoint != "completions":
            raise AltaxError(f"log-likelihood scoring over a server needs ?endpoint=completions in {self.spec}")
        bodies = [
            {"model": self.model_name, "prompt": p + c, "max_tokens": 1, "echo": True, "logprobs": 0, "temperature": 0}
            for p, c in pairs
        ]
        out = []
        for data, (prompt, continuation) in zip(
            asyncio.run(self._post_all(bodies, "/completions")), pairs, strict=True
        ):
            logprobs = self._choice(data, "POST /completions").get("logprobs") or {}
            end = len(prompt) + len(continuation)
            try:
                scored = zip(logprobs.get("text_offset", []), logprobs.get("token_logprobs", []), strict=True)
                values = [value for offset, value in scored if len(prompt) <= offset < end]
                total = float(sum(values)) if values and None not in values else None
            except (AttributeError, TypeError, ValueError):
                total = None
            if total is None:
                raise AltaxError(f"the server at {self.base_url} returned no prompt log-probabilities (echo)")
            out.append(total)
        return out

    def _parse(self, data: object, request: GenerationRequest, path: str) -> Generation:
        choice = self._choice(data, f"POST {path}")
        finish = str(choice.get("finish_reason") or "stop")
        if self.options.endpoint == "chat":
            message = sent if isinstance(sent := choice.get("message"), dict) else {}
            text, refusal = message.get("content") or "", message.get("refusal")
            if refusal:
                text, finish = text or refusal, CONTENT_FILTER
        else:
            text = choice.get("text") or ""
        if not isinstance(text, str):
            raise self._unexpected(f"POST {path}", "with an answer that is not text", json.dumps(data))
        usage = data.get("usage") if isinstance(data, dict) else None
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        return Generation(self._redact(_cut(text, request.stop)), finish, tokens if isinstance(tokens, int) else 0)


def load_openai(spec: ModelSpec) -> OpenAIBackend:
    """A backend for ``openai:MODEL[@BASE_URL][?OPTIONS]``."""
    model, url, options = split_spec(spec)
    return OpenAIBackend(str(spec), model, url, options)
