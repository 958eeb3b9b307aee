"""The backend interface: render chat messages to a prompt, and generate text for a batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Message = dict[str, str]


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec (``models.specs.parse_spec``): the scheme picks the backend factory, the target says
    which model; a factory gets one and returns a ``Backend``."""

    scheme: str
    target: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}" + (f"@{self.revision}" if self.revision else "")


@dataclass(frozen=True)
class Rendered:
    """What is actually sent to the model, a hash of the template that produced it, and the stop
    strings that format needs (a plain Question/Answer prompt stops at the next question)."""

    prompt: str
    template_hash: str
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to complete, with its length cap and stop strings."""

    key: str
    prompt: str
    max_new_tokens: int
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    seed: int = 0


OVER_CONTEXT = "context_length"
"""The finish reason of an answer never generated: its prompt plus ``max_new_tokens`` exceed the model's context."""


@dataclass(frozen=True)
class Generation:
    """A completion. ``finish_reason`` is ``stop``, ``length``, a provider signal like ``content_filter``, or
    ``OVER_CONTEXT`` (empty text: the request was not run)."""

    text: str
    finish_reason: str
    n_tokens: int


class Backend(Protocol):
    """A loaded model. ``fingerprint`` identifies its weights; it goes into every cache key."""

    spec: str
    fingerprint: str

    def render(self, messages: Sequence[Message]) -> Rendered:
        """Turn chat messages into the exact prompt text the model sees."""
        ...

    def prompt_length(self, prompt: str) -> int:
        """Length of a rendered prompt in tokens (used to sort batches, and against ``context_length``)."""
        ...

    def generate(self, requests: Sequence[GenerationRequest], rows: int | None = None) -> list[Generation]:
        """Complete prompts sharing decoding settings, at most ``rows`` in flight at once (all when None);
        deterministic for temperature 0 given the same requests in the same order."""
        ...


TextSink = Callable[[int, str], None]
"""Called with a request's index in its batch and the next piece of its answer's text."""


@runtime_checkable
class StreamsText(Protocol):
    """A backend that hands out each answer's text while it generates it."""

    def generate_streaming(
        self, requests: Sequence[GenerationRequest], on_text: TextSink, rows: int | None = None
    ) -> list[Generation]:
        """``generate``, calling ``on_text`` with each new piece of an answer; an answer's pieces join to its
        text (``models.streaming.TextPieces``)."""
        ...


@runtime_checkable
class ScoresContinuations(Protocol):
    """A backend that exposes log-probabilities: it can score given continuations instead of generating."""

    def loglikelihood(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Summed log-probability of each (rendered prompt, continuation) pair's continuation."""
        ...


@runtime_checkable
class ScoresNextToken(Protocol):
    """A backend that gives next-token log-probabilities at the first answer position (the refusal probe's need)."""

    def next_token_logprobs(self, prompts: Sequence[str], candidates: Sequence[str]) -> list[dict[str, float]]:
        """For each rendered prompt, the log-probability of each distinct first token of ``candidates``, keyed by
        that token's text."""
        ...


def group_by_prompt(pairs: Sequence[tuple[str, str]]) -> dict[str, list[int]]:
    """Indices of (prompt, continuation) ``pairs`` by prompt, first seen first: each prompt is computed once."""
    groups: dict[str, list[int]] = {}
    for i, (prompt, _) in enumerate(pairs):
        groups.setdefault(prompt, []).append(i)
    return groups


def first_tokens(
    candidates: Sequence[str], tokenize: Callable[[str], list[int]], detokenize: Callable[[list[int]], str]
) -> dict[int, str]:
    """Each distinct first token id of the ``candidates`` (in order), with that token's text."""
    first: dict[int, str] = {}
    for candidate in candidates:
        ids = tokenize(candidate)
        if ids:
            first.setdefault(ids[0], detokenize([ids[0]]))
    return first
