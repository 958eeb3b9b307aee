"""Score multiple-choice items by log-likelihood: each choice after the rendered prompt, no generation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from alignment_tax.configs.schema import Configuration
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.prompting import build_messages
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
) -> list[dict]:
    """One row per (configuration, multiple-choice item): each choice's log-probability, the choice the
    model prefers (by mean log-probability per character for ``text``), the right one, and whether they agree."""
    rows = []
    chosen = choice_items(items)
    for config in configs:
        backend = backends[config.model]
        if not isinstance(backend, ScoresContinuations):
            raise AltaxError(
                f"{config.model} gives no log-probabilities (configuration {config.name!r}); "
                "log-likelihood scoring needs a builtin:, hf: or openai:...?endpoint=completions model"
            )
        pairs, spans = [], []
        for item in chosen:
            prompt = backend.render(build_messages(config, item)).prompt
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
                    "config": config.name,
                    "item_id": item.id,
                    "logprobs": logprobs,
                    "picked": picked,
                    "answer": answer,
                    "correct": picked == answer,
                }
            )
    return rows
