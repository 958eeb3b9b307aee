"""Import another harness's answers into the store as one configuration of a run, then judge them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from alignment_tax.configs.schema import Configuration, Experiment, stable_hash
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.prompting import item_text
from alignment_tax.judge.detectors import check_detector
from alignment_tax.judge.stage import judge_run
from alignment_tax.records import GenerationRecord, HarnessScore, PlannedRequest, RunInfo
from alignment_tax.store import Store
from alignment_tax.suite.harness_logs import HarnessLog, HarnessSample
from alignment_tax.suite.schema import Item
from alignment_tax.suite.standard import text_hash
from alignment_tax.workflows.experiment import Settings
from alignment_tax.workflows.ids import new_id

IMPORTED = "imported"
"""The finish reason of an imported answer (the harness's own is not logged)."""


@dataclass(frozen=True)
class ImportOutput:
    """Where a log went: the run, how many answers joined it, and the samples left out, with why."""

    run_id: str
    imported: int
    unmatched: tuple[tuple[str, str], ...]
    """Log samples that answer none of the run's items (so were not imported): (sample id, why)."""


def imported_config(log: HarnessLog, name: str, source: str) -> Configuration:
    """The configuration an imported log stands for: the harness and its model, the system prompt it sent."""
    systems = {s.system_prompt for s in log.samples}
    if len(systems) > 1:
        raise AltaxError(f"{source}: its samples were sent different system prompts; import one setting at a time")
    try:
        return Configuration(
            name=name,
            model=f"{log.harness}:{log.model}",
            system_prompt=systems.pop(),
            description=f"imported from {log.harness} ({log.task}, scored by its {log.metric}): {source}",
        )
    except ValueError as error:
        raise AltaxError(f"configuration name {name!r}: use letters, digits and _ . + - ({error})") from None


def match_samples(
    items: Sequence[Item], samples: Sequence[HarnessSample]
) -> tuple[list[tuple[Item, HarnessSample]], list[tuple[str, str]]]:
    """Pair samples with items by id, checked by the hash of the user turn; a sample whose id is unknown pairs by
    that hash alone when exactly one item has it. Returns the pairs and the (sample id, why) of the others."""
    by_id = {item.id: item for item in items}
    by_hash: dict[str, list[Item]] = {}
    for item in items:
        by_hash.setdefault(text_hash(item_text(item)), []).append(item)
    pairs, unmatched, taken = [], [], set()
    for sample in samples:
        wanted = text_hash(item_text(sample.item))
        found = by_id.get(sample.item.id)
        if found is not None and text_hash(item_text(found)) != wanted:
            unmatched.append((sample.item.id, "the run's item of that id asks something else"))
            continue
        if found is None:
            same = by_hash.get(wanted, [])
            if len(same) != 1:
                why = "no item of the run has its id or its input" if not same else "its input matches several items"
                unmatched.append((sample.item.id, why))
                continue
            found = same[0]
        if found.id in taken:
            unmatched.append((sample.item.id, f"item {found.id} is already answered by another sample"))
            continue
        taken.add(found.id)
        pairs.append((found, sample))
    return pairs, unmatched


def import_log(log: HarnessLog, name: str, source: str, settings: Settings, run_id: str | None = None) -> ImportOutput:
    """Store ``log``'s answers as configuration ``name``: of a new run on the log's own items (the reference), or
    of the stored run ``run_id``, whose every item a sample must answer. Every answer is judged by
    ``settings.detector``; capability scores are the harness's own. Nothing is stored when the log cannot join."""
    check_detector(settings.detector)
    config = imported_config(log, name, source)
    row = (config.name, config.fingerprint(), config.model_dump_json(), config.model)
    with Store(settings.store_path) as store:
        if run_id is None:
            items = _distinct([s.item for s in log.samples], source)
            pairs, unmatched = match_samples(items, log.samples)
            experiment = Experiment(suite=f"{log.harness}:{log.task}", reference=name, configs=[config])
            suite_hash = stable_hash([item.model_dump(mode="json", exclude_none=True) for item in items])[:16]
            dump = experiment.model_dump(mode="json")
            info = RunInfo(new_id(), time.time(), dump, experiment.suite, "", suite_hash, name, "complete")
            store.create_run(info, items, [row])
        else:
            info = store.run(run_id)
            items = store.run_items(info.run_id)
            if any(c["name"] == name for c in store.run_configs(info.run_id)):
                raise AltaxError(f"run {info.run_id} already has a configuration {name!r}; choose another --config")
            pairs, unmatched = match_samples(items, log.samples)
            _check_covered(items, pairs, unmatched, info.run_id, source)
            grown = dict(info.experiment)
            grown["configs"] = [*grown.get("configs", []), config.model_dump(mode="json")]
            store.add_configs(info.run_id, grown, [row])
        _store_answers(store, info.run_id, log, config, pairs)
        judge_run(store, info.run_id, settings.detector)
    return ImportOutput(info.run_id, len(pairs), tuple(unmatched))


def _check_covered(
    items: Sequence[Item], pairs: list, unmatched: list[tuple[str, str]], run_id: str, source: str
) -> None:
    """Every configuration of a run answers all its items (the tax is paired): name what the log leaves out."""
    answered = {item.id for item, _ in pairs}
    missing = [item.id for item in items if item.id not in answered]
    if missing:
        why = "; ".join(f"{sample}: {reason}" for sample, reason in unmatched[:5])
        raise AltaxError(
            f"{source} answers {len(answered)} of the {len(items)} items of run {run_id}; no answer for "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
            + (f" (samples not matched: {why})" if why else "")
            + ": import it into a new run (without --run), or run altax on the log's items"
        )


def _distinct(items: list[Item], source: str) -> list[Item]:
    seen = set()
    for item in items:
        if item.id in seen:
            raise AltaxError(f"{source}: item {item.id} is answered twice (several epochs?); import one epoch")
        seen.add(item.id)
    return items


def _store_answers(
    store: Store, run_id: str, log: HarnessLog, config: Configuration, pairs: list[tuple[Item, HarnessSample]]
) -> None:
    """Each answer as a generation keyed by what determined it (harness, model, prompt, answer, score), the
    harness's score under the same key, and the run's request for it."""
    model = config.model
    keys = [
        stable_hash([log.harness, model, config.system_prompt, s.prompt, s.answer, log.metric, s.value])
        for _, s in pairs
    ]
    store.put_generations(
        [
            GenerationRecord(k, model, s.prompt, "", s.answer, IMPORTED, 0, 0.0)
            for k, (_, s) in zip(keys, pairs, strict=True)
        ]
    )
    store.put_harness_scores(
        [HarnessScore(k, log.harness, log.metric, s.value) for k, (_, s) in zip(keys, pairs, strict=True)]
    )
    store.add_requests(
        run_id, [PlannedRequest(config.name, item.id, k) for k, (item, _) in zip(keys, pairs, strict=True)]
    )
