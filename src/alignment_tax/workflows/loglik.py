"""Score a stored run's multiple-choice items by log-likelihood (each choice after the prompt the run rendered,
no generation), store the scores, and set the accuracy beside generation's (``analysis.loglik``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alignment_tax.analysis.loglik import LoglikRow, loglik_gap
from alignment_tax.configs.schema import Configuration
from alignment_tax.errors import AltaxError
from alignment_tax.files import write_text
from alignment_tax.judge.stage import judge_name
from alignment_tax.models.base import Backend
from alignment_tax.models.specs import load_backend
from alignment_tax.records import RunInfo
from alignment_tax.run.backends import load_backends
from alignment_tax.run.scoring import ScoringRequest, execute_scoring, pending_scores, scoring_request
from alignment_tax.store import Store
from alignment_tax.suite.schema import Item

Target = Literal["letter", "text"]
"""What is scored: the choice's letter (as the prompt lists them), or its text (normalised by length)."""
TARGETS = ("letter", "text")


@dataclass(frozen=True)
class LoglikOutput:
    """A run's log-likelihood check: one row per configuration, one per (configuration, item), and the JSON."""

    run: RunInfo
    target: Target
    summary: list[LoglikRow]
    items: list[dict]
    path: Path


def choice_items(items: Sequence[Item]) -> list[Item]:
    """The items answered by picking one of their ``choices``."""
    return [item for item in items if item.choices and item.reference.scorer == "choice"]


def continuations(prompt: str, item: Item, target: Target) -> list[str]:
    """What is scored after ``prompt``: each choice's letter or text, after a space unless the prompt ends in one."""
    space = "" if prompt[-1:].isspace() else " "
    assert item.choices is not None
    labels = [chr(ord("A") + i) for i in range(len(item.choices))] if target == "letter" else item.choices
    return [space + label for label in labels]


def loglik_check(
    store: Store,
    run_id: str,
    target: Target,
    detector: str,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    results_dir: Path,
    load: Callable[[str], Backend] = load_backend,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> LoglikOutput:
    """Log-likelihood against generation accuracy on a stored run's multiple-choice items, written as JSON
    beside its results.

    Each configuration's choices are scored after the prompt its first-sample answer was generated from (so
    steered and routed configurations are scored as they answered), by the model that answered it. Scores
    the store holds are reused; only when some are missing are the run's models loaded (they must load as
    they did for the run: same fingerprint)."""
    if target not in TARGETS:
        raise AltaxError(f"--target must be letter or text, not {target!r}")
    info = store.run(run_id)
    items = {item.id: item for item in choice_items(store.run_items(info.run_id))}
    if not items:
        raise AltaxError(f"run {info.run_id} has no multiple-choice items (items with choices) to score")
    judged = store.judged_items(info.run_id, judge_name(detector))
    requests = [r for r in store.run_requests(info.run_id) if r.sample == 0 and r.item_id in items]
    records = store.generations(r.key for r in requests)
    asked = {
        (r.config, r.item_id): scoring_request(
            records[r.key].model_fingerprint,
            records[r.key].prompt,
            "continuations",
            continuations(records[r.key].prompt, items[r.item_id], target),
        )
        for r in requests
        if r.key in records
    }
    cached = store.cached_scores(s.key for s in asked.values())
    missing = {key: s for key, s in asked.items() if s.key not in cached}
    if missing:
        configs = {c["name"]: Configuration.model_validate(c) for c in store.run_configs(info.run_id)}
        needed = [configs[name] for name in dict.fromkeys(config for config, _ in missing)]
        _score(needed, list(missing.values()), store, load, progress)
    stored = store.scores(s.key for s in asked.values())
    rows = []
    for (config, item_id), request in asked.items():
        logprobs = [stored[request.key].logprobs[c] for c in request.targets]
        rows.append(_choice_row(config, items[item_id], logprobs, request.targets, target))
    summary = loglik_gap(
        {(row["config"], row["item_id"]): row["correct"] for row in rows},
        judged,
        info.reference,
        n_boot=n_boot,
        seed=seed,
    )
    payload = {"run_id": info.run_id, "target": target, "summary": [r.to_dict() for r in summary], "items": rows}
    path = write_text(results_dir / info.run_id / "loglik.json", json.dumps(payload, indent=2))
    return LoglikOutput(info, target, summary, rows, path)


def _score(
    configs: Sequence[Configuration],
    requests: Sequence[ScoringRequest],
    store: Store,
    load: Callable[[str], Backend],
    progress: Callable[[str, int], Callable[[int], None]] | None,
) -> None:
    """Score ``requests`` with the models of ``configs``, matched by fingerprint."""
    models = {b.fingerprint: b for b in load_backends(configs, load).values()}
    unknown = {r.model_fingerprint for r in requests} - models.keys()
    if unknown:
        raise AltaxError(
            f"the run was answered by {', '.join(sorted(unknown))}, which its configurations no longer load as "
            "(the model files or direction changed): score a run made with the current models"
        )
    advance = progress("log-likelihood", pending_scores(requests, store)) if progress else None
    for fingerprint, backend in models.items():
        mine = [r for r in requests if r.model_fingerprint == fingerprint]
        if mine:
            execute_scoring(backend, mine, store, progress=advance)


def _choice_row(config: str, item: Item, logprobs: list[float], targets: Sequence[str], target: Target) -> dict:
    """Which choice the model prefers (by mean log-probability per character for ``text``) and whether it is
    the right one."""
    ranked = logprobs if target == "letter" else [lp / len(c) for lp, c in zip(logprobs, targets, strict=True)]
    picked = max(range(len(ranked)), key=ranked.__getitem__)
    answer = ord(item.reference.answer) - ord("A")  # type: ignore[union-attr]
    return {
        "config": config,
        "item_id": item.id,
        "logprobs": logprobs,
        "picked": picked,
        "answer": answer,
        "correct": picked == answer,
    }
