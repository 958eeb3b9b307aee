"""Check an adapter on held-out lab rows: generate greedily, judge refusals lexically, rates per kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alignment_tax.lab.data import LabRow

DEFAULT_MAX_NEW_TOKENS = 48


@dataclass(frozen=True)
class KindRate:
    """Refusals among one kind's rows: ``refused`` counts full refusals, ``partial`` refusals that also attempt."""

    kind: str
    total: int
    refused: int
    partial: int

    @property
    def rate(self) -> float:
        return self.refused / self.total if self.total else 0.0


def refusal_rates(
    spec: str,
    rows: list[LabRow],
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    batch_size: int = 16,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[dict[str, KindRate], list[tuple[LabRow, str, str]]]:
    """Rates per kind and, per row, (row, answer, verdict label) for the model ``spec``."""
    from alignment_tax.judge.refusal import LexicalDetector
    from alignment_tax.models.base import GenerationRequest
    from alignment_tax.models.specs import load_backend

    backend = load_backend(spec)
    rendered = [backend.render([{"role": "user", "content": r.prompt}]) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: len(rendered[i].prompt))
    answers = [""] * len(rows)
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        requests = [GenerationRequest(rows[i].id, rendered[i].prompt, max_new_tokens, rendered[i].stop) for i in chosen]
        for i, generation in zip(chosen, backend.generate(requests), strict=True):
            answers[i] = generation.text
        if on_batch is not None:
            on_batch(len(chosen))
    verdicts = LexicalDetector().classify([(r.prompt, a) for r, a in zip(rows, answers, strict=True)])
    labels = [v.decided for v in verdicts]
    rates = {}
    for kind in sorted({r.kind for r in rows}):
        mine = [label for r, label in zip(rows, labels, strict=True) if r.kind == kind]
        rates[kind] = KindRate(kind, len(mine), mine.count("refusal"), mine.count("partial"))
    return rates, list(zip(rows, answers, labels, strict=True))
