"""The guarded gateway's answering: each request under one configuration of an experiment file, routed, rendered
and generated as `altax run` answers an item, then given the refusal detector's verdict."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from alignment_tax.configs.schema import Configuration, Experiment
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.prompting import configure_messages
from alignment_tax.interventions.risk import ROUTING_THREADS
from alignment_tax.interventions.routing import RiskScorer, backend_key, guarded, plain, variants
from alignment_tax.judge.detectors import DEFAULT_DETECTOR, get_detector
from alignment_tax.judge.refusal import provider_verdict
from alignment_tax.models.base import Backend, GenerationRequest, Message
from alignment_tax.models.serve import Batcher, Pieces
from alignment_tax.models.specs import load_backend, parse_spec
from alignment_tax.run.backends import load_backends, load_classifiers, model_identity

if TYPE_CHECKING:
    import httpx

    from alignment_tax.models.openai_compat import OpenAIBackend

UPSTREAM = "openai"
"""The scheme of upstream servers: the gateway forwards to them and cannot steer them."""


def _routing_thread() -> None:
    import torch

    # the router's encoder runs on ONNX Runtime with its own ROUTING_THREADS; an int8 classifier's runs on torch,
    # pinned here alike (this thread's own setting: generation keeps its threads)
    torch.set_num_threads(ROUTING_THREADS)


class Unavailable(Exception):
    """The gateway is shutting down and takes no more work (HTTP 503)."""


class NotServed(Exception):
    """The request names no configuration served here, or cannot be answered by it (HTTP 400/404)."""


@dataclass(frozen=True)
class Ask:
    """One request as the client sent it: the configuration it names, its conversation and decoding (None:
    the experiment's decoding)."""

    config: str
    conversation: Sequence[Message]
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    temperature: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Answer:
    """What the gateway answered: the text and how it ended, token counts, the route and how long routing took."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    risk: float | None
    guarded: bool
    routing_s: float


def routed_text(conversation: Sequence[Message]) -> str:
    """The text the router scores and the detector reads with the answer: the last user turn (the item's
    prompt text in `altax run`)."""
    users = [m["content"] for m in conversation if m["role"] == "user"]
    if not users:
        raise NotServed("the conversation has no user turn")
    return users[-1]


def check_upstream_steering(configs: Sequence[Configuration]) -> None:
    """Steering changes a model's activations, which an upstream server does not expose: refuse it there."""
    for config in configs:
        if parse_spec(config.model).scheme != UPSTREAM:
            continue
        if any(v.steering is not None for v in variants(config)):
            raise AltaxError(
                f"configuration {config.name!r} steers {config.model}, an upstream server: steering needs the model's "
                "weights in this process (builtin: or hf: specs); remove its steering or route a system_prompt "
                "guardrail instead"
            )


def served_configs(experiment: Experiment, names: Sequence[str]) -> list[Configuration]:
    """The configurations named (every one of the experiment when none is)."""
    known = {c.name: c for c in experiment.configs}
    missing = [name for name in names if name not in known]
    if missing:
        raise AltaxError(
            f"no configuration {', '.join(map(repr, missing))} in the experiment; it has {', '.join(known)}"
        )
    return [known[name] for name in dict.fromkeys(names)] if names else list(experiment.configs)


class RiskBatches:
    """Risk scores of concurrent prompts computed together: prompts that arrive while a batch is being scored
    form the next batch, so a busy gateway pays the encoder's per-call cost once per batch, and an idle one waits
    for nobody (a float32 encoder's per-call cost; the int8 one runs each prompt alone). A prompt's score does not
    depend on its batch mates."""

    def __init__(self, scorer: RiskScorer, executor: ThreadPoolExecutor):
        self.scorer, self.executor = scorer, executor
        self.waiting: list[tuple[str, asyncio.Future[float]]] = []
        self.busy = False

    async def score(self, text: str) -> float:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting.append((text, future))
        if not self.busy:
            self._next()
        return await future

    def _next(self) -> None:
        batch, self.waiting = self.waiting, []
        self.busy = True
        scored = asyncio.get_running_loop().run_in_executor(self.executor, self.scorer.scores, [t for t, _ in batch])
        scored.add_done_callback(lambda done: self._deliver(batch, done))

    def _deliver(self, batch: list[tuple[str, asyncio.Future[float]]], done: asyncio.Future[list[float]]) -> None:
        self.busy = False
        error = done.exception()
        for i, (_, future) in enumerate(batch):
            if future.done():  # its request was cancelled (timed out) meanwhile
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(float(done.result()[i]))
        if self.waiting:
            self._next()


class Gateway:
    """Answers requests under the served configurations: local models through one batcher per backend (steered
    variants share the model's lock), upstream servers through one open HTTP client each."""

    def __init__(
        self,
        experiment: Experiment,
        names: Sequence[str] = (),
        *,
        detector: str = DEFAULT_DETECTOR,
        max_batch: int = 16,
        wait_s: float = 0.01,
        load: Callable[[str], Backend] = load_backend,
    ):
        configs = served_configs(experiment, names)
        check_upstream_steering(configs)
        self.configs = {c.name: c for c in configs}
        self.decoding = experiment.decoding
        self.classifiers = load_classifiers(configs)
        self.backends = load_backends(configs, load)
        self.detector = get_detector(detector)
        upstream = {c.model for c in configs if parse_spec(c.model).scheme == UPSTREAM}
        locks = {spec: threading.Lock() for spec in {c.model for c in configs} - upstream}
        self.batchers = {
            backend_key(v): Batcher(self.backends[backend_key(v)], max_batch, wait_s, locks[v.model])
            for c in configs
            for v in variants(c)
            if v.model not in upstream
        }
        self.upstream = {spec: cast("OpenAIBackend", self.backends[spec]) for spec in upstream}
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.limits = {spec: asyncio.Semaphore(b.options.concurrency) for spec, b in self.upstream.items()}
        self.identities = {
            c.name: (c.fingerprint(), model_identity(c, self.backends, self.classifiers)) for c in configs
        }
        self.closing = False
        self._risk = ThreadPoolExecutor(1, "altax-risk", _routing_thread)  # encoders are not shared across threads
        self.scoring = {name: RiskBatches(scorer, self._risk) for name, scorer in self.classifiers.items()}
        self._judge = ThreadPoolExecutor(1, "altax-judge")
        for scorer in self.classifiers.values():  # load the encoders now, not in the first requests' time
            scorer.scores(["warm-up"])
        self.detector.classify([("warm-up", "warm-up")])

    def identity(self, name: str) -> tuple[str, str]:
        """A served configuration's fingerprint and what answers for it (model fingerprints, router)."""
        return self.identities[name]

    def start(self) -> None:
        """Open the upstream clients (inside the serving event loop)."""
        self.clients = {spec: backend.client() for spec, backend in self.upstream.items()}

    async def aclose(self) -> None:
        """Close the upstream clients and the worker threads, once every request is answered."""
        for client in self.clients.values():
            await client.aclose()
        self._risk.shutdown()
        self._judge.shutdown()

    def begin_shutdown(self) -> None:
        """Take no new work and fail queued generations with ``Unavailable``; those generating finish."""
        self.closing = True
        for batcher in self.batchers.values():
            batcher.reject_waiting(Unavailable("the gateway is shutting down"))

    def config(self, name: str) -> Configuration:
        if name not in self.configs:
            raise NotServed(f"model {name!r} is not served here; ask for one of: {', '.join(self.configs)}")
        return self.configs[name]

    async def answer(self, ask: Ask, request_id: str, on_text: Pieces | None = None) -> Answer:
        """Route, render and generate one request as `altax run` would answer its last user turn as an item. Where
        the model streams (a local transformers model, an upstream server that streams), ``on_text`` gets the
        answer's text piece by piece as it is generated (on any thread); the pieces join to the answer's text."""
        config = self.config(ask.config)
        if self.closing:
            raise Unavailable("the gateway is shutting down")
        started = time.perf_counter()
        risk, on = await self._route(config, routed_text(ask.conversation))
        routing_s = time.perf_counter() - started
        effective = config if config.router is None else guarded(config) if on else plain(config)
        key = backend_key(effective)
        backend = self.backends[key]
        rendered = backend.render(configure_messages(effective, ask.conversation))
        max_tokens = ask.max_tokens or self.decoding.max_tokens_for("*")
        stop = tuple(dict.fromkeys(rendered.stop + self.decoding.stop_for("*") + ask.stop))
        temperature = self.decoding.temperature if ask.temperature is None else ask.temperature
        seed = self.decoding.seed if ask.seed is None else ask.seed
        request = GenerationRequest(request_id, rendered.prompt, max_tokens, stop, temperature, seed)
        if self.closing:
            raise Unavailable("the gateway is shutting down")
        if config.model in self.upstream:
            upstream, client = self.upstream[config.model], self.clients[config.model]
            async with self.limits[config.model]:
                if on_text is None:
                    out, counted = await upstream.complete(client, request)
                else:
                    out, counted = await upstream.stream(client, request, on_text)
            prompt_tokens = counted or 0
        else:
            prompt_tokens = backend.prompt_length(rendered.prompt)
            limit = getattr(backend, "context_length", None)
            if limit and prompt_tokens + max_tokens > limit:
                raise NotServed(f"the prompt ({prompt_tokens} tokens) and max_tokens exceed the context ({limit})")
            out = await asyncio.wrap_future(self.batchers[key].enqueue(request, on_text))
        return Answer(out.text, out.finish_reason, prompt_tokens, out.n_tokens, risk, on, routing_s)

    async def _route(self, config: Configuration, text: str) -> tuple[float | None, bool]:
        """The prompt's risk and whether the guardrail goes on, as ``routing.route_items`` decides for an item."""
        if config.router is None:
            return None, False
        risk = await self.scoring[config.router.classifier].score(text)
        return risk, risk >= config.router.threshold

    async def verdict(self, text: str, answer: Answer) -> str:
        """The refusal label of an answer: a provider's content-filter stop, else the detector's reading."""
        signal = provider_verdict(answer.finish_reason)
        if signal is not None:
            return signal.label
        loop = asyncio.get_running_loop()
        (found,) = await loop.run_in_executor(self._judge, self.detector.classify, [(text, answer.text)])
        return found.label
