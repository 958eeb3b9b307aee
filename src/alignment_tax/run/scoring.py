"""Score prompts instead of answering them: next-token log-probabilities (the refusal probe) and continuation
log-likelihoods, each request keyed by everything that determines it and stored batch by batch like generations."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Literal

from alignment_tax.configs.schema import stable_hash
from alignment_tax.errors import AltaxError
from alignment_tax.models.base import Backend, ScoresContinuations, ScoresNextToken
from alignment_tax.records import ScoreRecord
from alignment_tax.store import Store

Method = Literal["next_token", "continuations"]
"""``next_token``: the log-probability of each target's first token at the first answer position;
``continuations``: each target's summed log-probability as a continuation of the prompt."""
BATCH = 64
"""Prompts per backend call (and per store write)."""
NEEDS = {
    "next_token": (ScoresNextToken, "next-token log-probabilities; the refusal probe needs an hf:, builtin: or "
                   "llamacpp: model"),
    "continuations": (ScoresContinuations, "log-probabilities; log-likelihood scoring needs a builtin:, hf: or "
                      "openai:...?endpoint=completions model"),
}  # fmt: skip


@dataclass(frozen=True)
class ScoringRequest:
    """One rendered prompt to score with the model of ``model_fingerprint``, stored under ``key``."""

    key: str
    model_fingerprint: str
    prompt: str
    method: Method
    targets: tuple[str, ...]


def scoring_request(model_fingerprint: str, prompt: str, method: Method, targets: Sequence[str]) -> ScoringRequest:
    """The request with its cache key: a hash of the model, the rendered prompt, the method and the targets."""
    key = stable_hash({"model": model_fingerprint, "prompt": prompt, "method": method, "targets": list(targets)})
    return ScoringRequest(key, model_fingerprint, prompt, method, tuple(targets))


def scoring_batches(requests: Sequence[ScoringRequest], size: int = BATCH) -> list[list[ScoringRequest]]:
    """Calls of at most ``size`` distinct requests, shortest prompts first (ties in plan order), so a call's
    prompts pad little. Next-token calls share their targets. The batches depend only on the plan, never on
    what is cached, so a resumed scoring computes (pads) exactly as an uninterrupted one."""
    groups: dict[tuple, list[ScoringRequest]] = {}
    for r in {r.key: r for r in requests}.values():
        groups.setdefault((r.method, r.targets if r.method == "next_token" else ()), []).append(r)
    batches: list[list[ScoringRequest]] = []
    for group in groups.values():
        ordered = sorted(group, key=lambda r: len(r.prompt))
        batches.extend(ordered[i : i + size] for i in range(0, len(ordered), size))
    return batches


def pending_scores(requests: Sequence[ScoringRequest], store: Store) -> int:
    """How many distinct requests the store has no score for."""
    keys = {r.key for r in requests}
    return len(keys - store.cached_scores(keys))


def execute_scoring(
    backend: Backend,
    requests: Sequence[ScoringRequest],
    store: Store,
    *,
    batch_size: int = BATCH,
    fresh: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Score on ``backend`` what the store lacks (everything with ``fresh``), a batch per call, each batch stored
    as it returns; returns how many were scored. Every request must be for ``backend``'s model."""
    for method in {r.method for r in requests}:
        protocol, what = NEEDS[method]
        if not isinstance(backend, protocol):
            raise AltaxError(f"{backend.spec} gives no {what}")
    if any(r.model_fingerprint != backend.fingerprint for r in requests):
        raise ValueError(f"requests for another model than {backend.fingerprint}")
    batches = scoring_batches(requests, batch_size)
    cached = set() if fresh else store.cached_scores(r.key for batch in batches for r in batch)
    scored = 0
    for batch in batches:
        if all(r.key in cached for r in batch):
            continue
        started = time.perf_counter()
        values = _call(backend, batch)
        seconds = (time.perf_counter() - started) / len(batch)
        records = [
            ScoreRecord(r.key, r.model_fingerprint, r.prompt, r.method, r.targets, v, seconds)
            for r, v in zip(batch, values, strict=True)
            if r.key not in cached
        ]
        store.put_scores(records)
        scored += len(records)
        if progress:
            progress(len(records))
    return scored


def _call(backend: Backend, batch: Sequence[ScoringRequest]) -> list[dict[str, float]]:
    """One backend call for a batch: per request, log-probabilities keyed by first-token text or by target."""
    if batch[0].method == "next_token":
        assert isinstance(backend, ScoresNextToken)
        return backend.next_token_logprobs([r.prompt for r in batch], list(batch[0].targets))
    assert isinstance(backend, ScoresContinuations)
    flat = iter(backend.loglikelihood([(r.prompt, t) for r in batch for t in r.targets]))
    return [dict(zip(r.targets, islice(flat, len(r.targets)), strict=True)) for r in batch]
