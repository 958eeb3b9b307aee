"""The judge stage: read a run's generations from the store, judge each answer, store the judgments."""

from __future__ import annotations

from collections.abc import Callable

from alignment_tax.judge.detectors import DEFAULT_DETECTOR, get_detector
from alignment_tax.judge.outcome import judge_many
from alignment_tax.judge.scorers import Score
from alignment_tax.records import HarnessScore
from alignment_tax.store import Store

SCORERS_VERSION = "scorers-v2"
"""Part of every stored judgment's name: a new version re-judges stored runs (v2: the code scorer's verdict
comes from a harness the generated code cannot reach, with a fixed hash seed)."""


def judge_name(detector: str) -> str:
    """The name judgments are stored under: the refusal detector plus the scorer version."""
    return f"{detector}+{SCORERS_VERSION}"


def stored_detectors(store: Store, run_id: str) -> list[str]:
    """The detectors whose judgments under the current scorers cover every answer of a run."""
    suffix = judge_name("")
    return [name.removesuffix(suffix) for name in store.run_judges(run_id) if name.endswith(suffix)]


def harness_score(record: HarnessScore) -> Score:
    """An imported answer's capability score: the one its harness gave it."""
    return Score(record.value >= 1, f"{record.harness} {record.metric} = {record.value:g}")


def judge_run(
    store: Store,
    run_id: str,
    detector: str = DEFAULT_DETECTOR,
    *,
    rejudge: bool = False,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> int:
    """Judge every generated answer of a run not yet judged by ``detector``; returns how many were judged.
    Imported answers keep their harness's score; the detector decides whether they refused. ``progress`` is
    ``start(stage, total) -> advance(n)`` (``report.progress``): the stage ``judge`` advances as answers are judged."""
    name = judge_name(detector)
    items = {item.id: item for item in store.run_items(run_id)}
    hashes = store.run_item_hashes(run_id)
    done = set() if rejudge else store.judged_keys(name)
    todo = {(r.key, r.item_id) for r in store.run_requests(run_id) if (r.key, hashes[r.item_id]) not in done}
    texts = store.generations(key for key, _ in todo)
    pairs = sorted((key, item_id) for key, item_id in todo if key in texts)
    if not pairs:
        return 0
    imported = store.harness_scores(key for key, _ in pairs)
    judgments = judge_many(
        [items[i] for _, i in pairs],
        [texts[k].text for k, _ in pairs],
        get_detector(detector),
        [texts[k].finish_reason for k, _ in pairs],
        [harness_score(imported[k]) if k in imported else None for k, _ in pairs],
        progress("judge", len(pairs)) if progress else None,
    )
    store.put_judgments(
        name,
        [
            (key, hashes[item_id], j.outcome, j.correct, j.refusal, j.detail)
            for (key, item_id), j in zip(pairs, judgments, strict=True)
        ],
    )
    return len(pairs)
