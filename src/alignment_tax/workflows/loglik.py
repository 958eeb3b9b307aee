"""Score multiple-choice items by log-likelihood: each choice after the rendered prompt, no generation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from alignment_tax.configs.schema import Configuration
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.prompting import build_messages
from alignment_tax.interventions.routing import backend_key, guarded, plain
from alignment_tax.models.base import Backend, ScoresContinuations
from alignment_tax.suite.schema import Item

Target = Literal["letter", "text"]
"""What is scored: the choice's letter (as the prompt lists them), or its text (normalised by length)."""


def choice_items(items: Sequence[Item]) -> list[Item]:
    """The items answered by picking one of their ``choices``."""
    return [item for item in items if item.choices and item.reference.scorer == "choice"]


def _continuations(prompt: str, item: Item, target: Target) -> list[str]:
    space = "" if prompt[-1:].isspace() else " "
    assert item.choices is not None
    labels = [chr(ord("A") + i) for i in range(len(item.choices))] if target == "letter" else item.choices
    return [space + label for label in labels]


def score_choices(
    configs: Sequence[Configuration],
    items: Sequence[Item],
    backends: Mapping[str, Backend],
    target: Target = "letter",
    guarded_items: Mapping[tuple[str, str], bool] | None = None,
) -> list[dict]:
    """One row per (configuration, multiple-choice item): each choice's log-probability, the choice the
    model prefers (by mean log-probability per character for ``text``), the right one, and whether they agree.

    ``backends`` are keyed by ``routing.backend_key`` (steered configurations are scored steered); a routed
    configuration scores each item as it answered it in the run: ``guarded_items[(config, item id)]``."""
    rows = []
    chosen = choice_items(items)
    for config in configs:
        by_backend: dict[str, list[tuple[Item, str]]] = {}
        for item in chosen:
            effective = config
            if config.router is not None:
                effective = guarded(config) if (guarded_items or {}).get((config.name, item.id)) else plain(config)
            backend = backends[backend_key(effective)]
            if not isinstance(backend, ScoresContinuations):
                raise AltaxError(
                    f"{config.model} gives no log-probabilities (configuration {config.name!r}); "
                    "log-likelihood scoring needs a builtin:, hf: or openai:...?endpoint=completions model"
                )
            prompt = backend.render(build_messages(effective, item)).prompt
            by_backend.setdefault(backend_key(effective), []).append((item, prompt))
        for key, members in by_backend.items():
            rows += _score(config.name, backends[key], members, target)
    return rows


def _score(
    config: str, backend: ScoresContinuations, members: Sequence[tuple[Item, str]], target: Target
) -> list[dict]:
    """Score one configuration's items on one backend (one log-likelihood call)."""
    rows = []
    pairs, spans = [], []
    for item, prompt in members:
        continuations = _continuations(prompt, item, target)
        spans.append((item, continuations, len(pairs)))
        pairs += [(prompt, c) for c in continuations]
    scores = backend.loglikelihood(pairs) if pairs else []
    for item, continuations, start in spans:
        logprobs = scores[start : start + len(continuations)]
        ranked = (
            logprobs if target == "letter" else [lp / len(c) for lp, c in zip(logprobs, continuations, strict=True)]
        )
        picked = max(range(len(ranked)), key=ranked.__getitem__)
        answer = ord(item.reference.answer) - ord("A")  # type: ignore[union-attr]
        rows.append(
            {
                "config": config,
                "item_id": item.id,
                "logprobs": logprobs,
                "picked": picked,
                "answer": answer,
                "correct": picked == answer,
            }
        )
    return rows
