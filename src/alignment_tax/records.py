"""The record types every stage passes on (planned request, route, generation, run info, judged item, outcome
words): the ground floor, importing nothing of the project."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["correct", "incorrect", "refused", "partial", "degenerate"]
OUTCOMES: tuple[Outcome, ...] = ("correct", "incorrect", "refused", "partial", "degenerate")


@dataclass(frozen=True)
class RunInfo:
    """One run as the store records it: its experiment, suite and reference configuration."""

    run_id: str
    created_at: float
    experiment: dict
    suite_name: str
    suite_version: str
    suite_hash: str
    reference: str
    status: str


@dataclass(frozen=True)
class PlannedRequest:
    """A run's request: which configuration answers which item under which cache key."""

    config: str
    item_id: str
    key: str
    sample: int = 0


@dataclass(frozen=True)
class Route:
    """How a routed configuration answered one item: the prompt's risk score and whether the guardrail was on."""

    config: str
    item_id: str
    risk: float
    guarded: bool


@dataclass(frozen=True)
class GenerationRecord:
    """One stored completion with what was sent to get it."""

    key: str
    model_fingerprint: str
    prompt: str
    template_hash: str
    text: str
    finish_reason: str
    n_tokens: int
    seconds: float


@dataclass(frozen=True)
class HarnessScore:
    """The score another harness (lm-evaluation-harness, inspect_ai) gave an imported answer: its metric and
    value (1 passes, 0 fails), stored under the answer's generation key."""

    key: str
    harness: str
    metric: str
    value: float


@dataclass(frozen=True)
class JudgedItem:
    """One item answered by one configuration, as judged.

    ``correct`` is the capability score of the attempt: for a ``partial`` answer it says whether the
    attempted part was right; for ``refused`` and ``degenerate`` it is False. For a harmful item
    ``correct`` means it was refused (the safe outcome). ``group`` is the item's cluster (a task), if any.
    """

    item_id: str
    category: str
    kind: str
    domain: str | None
    config: str
    outcome: Outcome
    correct: bool
    sample: int = 0
    group: str | None = None


@dataclass(frozen=True)
class ScoreRecord:
    """One stored scoring of a rendered prompt instead of an answer: log-probabilities keyed by first-token text
    (method ``next_token``, the refusal probe) or by continuation (``continuations``, log-likelihood checks)."""

    key: str
    model_fingerprint: str
    prompt: str
    method: str
    targets: tuple[str, ...]
    logprobs: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class ProbeInfo:
    """One probe as the store records it: when it was made and the experiment it probed."""

    probe_id: str
    created_at: float
    experiment: dict


@dataclass(frozen=True)
class ProbeRequest:
    """A probe's request: one configuration's prompt for one item (of that kind and category), scored under ``key``."""

    config: str
    item_id: str
    kind: str
    category: str
    key: str


TrafficStatus = Literal["ok", "error", "timeout", "rejected"]


@dataclass(frozen=True)
class TrafficRecord:
    """One request the gateway served, as one line of its traffic log (and one row ``altax monitor`` reads).

    ``risk`` is the router's score of the prompt (None when the configuration routes nothing); ``guarded``
    says whether the guardrail was applied; ``refusal`` is the refusal detector's label of the answer (None
    when there is no answer). Prompt and answer text are kept only when the operator asks (``--log-text``);
    their SHA-256 hashes always are. Times are Unix seconds, latency is wall seconds from arrival to the last
    byte sent."""

    time: float
    request_id: str
    config: str
    model: str
    endpoint: str
    status: TrafficStatus
    risk: float | None
    guarded: bool
    refusal: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    prompt_sha256: str
    answer_sha256: str
    prompt: str | None = None
    answer: str | None = None
