"""Orders the stages: plan and run, then judge, then analyse, each reading and writing the store."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path

from alignment_tax.analysis.adaptive import adaptive_status, draw_order, looks
from alignment_tax.analysis.aggregates import load_workload
from alignment_tax.analysis.results import Results, summarize
from alignment_tax.analysis.routing import route_summary
from alignment_tax.analysis.rows import CLUSTERS, Cluster
from alignment_tax.configs.schema import Decoding, Experiment
from alignment_tax.errors import AltaxError
from alignment_tax.files import write_text
from alignment_tax.judge.detectors import DEFAULT_DETECTOR, check_detector
from alignment_tax.judge.sandbox import weaker_sandbox
from alignment_tax.judge.stage import judge_name, judge_run
from alignment_tax.models.base import OVER_CONTEXT
from alignment_tax.models.specs import load_backend, parse_spec
from alignment_tax.records import Route, RunInfo
from alignment_tax.run.backends import load_backends, load_classifiers, model_identity
from alignment_tax.run.executor import GENERATION_BATCH
from alignment_tax.run.executors import open_executor
from alignment_tax.run.owner import hold
from alignment_tax.run.planner import plan
from alignment_tax.store import Store
from alignment_tax.suite.loaders import Suite, load_suite
from alignment_tax.suite.sampling import stratified_sample
from alignment_tax.suite.schema import Item
from alignment_tax.workflows.ids import new_id

StageProgress = Callable[[str, int], Callable[[int], None]]
"""Given a stage label and its total, returns the callback that advances it."""


@dataclass(frozen=True)
class Settings:
    """Where results go and how the stages run."""

    results_dir: Path = field(default_factory=lambda: Path(os.environ.get("ALTAX_RESULTS_DIR", "altax-results")))
    fresh: bool = False
    batch_size: int = GENERATION_BATCH
    detector: str = DEFAULT_DETECTOR
    n_boot: int = 2000
    seed: int = 0
    cluster: Cluster = "group"
    workload: Path | None = None
    executor: str = "local"
    """``local``, or ``ray[:HOST:PORT]`` to generate on Ray actors (run/ray_executor.py)."""

    @property
    def store_path(self) -> Path:
        return self.results_dir / "store.sqlite"


@dataclass(frozen=True)
class RunOutput:
    run: RunInfo
    results: Results
    results_path: Path
    notes: tuple[str, ...] = ()
    """What this machine chose or lacked during the run (``machine_notes``)."""


def select_items(items: Sequence[Item], limit: int | None, sample: int | None = None, seed: int = 0) -> list[Item]:
    """The first ``limit`` items of each category in suite order (all of them without a limit), then a seeded
    stratified sample of ``sample`` items."""
    if sample is not None:
        return stratified_sample(select_items(items, limit), sample, seed)
    if limit is None:
        return list(items)
    seen: dict[str, int] = {}
    chosen = []
    for item in items:
        seen[item.category] = seen.get(item.category, 0) + 1
        if seen[item.category] <= limit:
            chosen.append(item)
    return chosen


def _draw(experiment: Experiment, items: list[Item]) -> tuple[list[Item], list[int]]:
    """The items in the order they are drawn, and the item counts after which results are looked at."""
    if experiment.target_ci is None:
        return items, [len(items)]
    order = draw_order([item.category for item in items], experiment.draw_seed)
    return [items[i] for i in order], looks(len(items), experiment.chunk_size)


def _check_settings(settings: Settings) -> None:
    """Fail on a bad analysis option (clustering, workload file) before any model work, not after generation."""
    if settings.cluster not in CLUSTERS:
        raise AltaxError(f"unknown clustering {settings.cluster!r}; choose one of {', '.join(CLUSTERS)}")
    if settings.workload is not None:
        load_workload(settings.workload)


def _check_decoding(decoding: Decoding, suite: Suite) -> None:
    """Fail on a length cap or stop list keyed by a category that neither the suite nor the built-ins know."""
    unknown = decoding.unknown_categories(item.category for item in suite.items)
    if unknown:
        known = sorted({item.category for item in suite.items})
        hints = [
            f"{key!r} (did you mean {close[0]!r}?)" if (close := get_close_matches(key, known, 1)) else repr(key)
            for key in unknown
        ]
        raise AltaxError(
            f"decoding.max_new_tokens / decoding.stop name no category of suite {suite.name}: {', '.join(hints)}; "
            f"its categories: {', '.join(known)} (or '*' for all)"
        )


def run_experiment(experiment: Experiment, settings: Settings, progress: StageProgress | None = None) -> RunOutput:
    """Run every configuration over the suite (reusing cached generations), judge, analyse, write results.

    With ``experiment.target_ci`` items are drawn in a fixed seeded order, a chunk at a time, until the
    stopping rule of ``analysis.adaptive`` is met or the suite is exhausted."""
    suite = load_suite(experiment.suite)
    chosen = select_items(suite.items, experiment.limit, experiment.sample, experiment.draw_seed)
    items, stops = _draw(experiment, chosen)
    for config in experiment.configs:
        parse_spec(config.model)
    _check_decoding(experiment.decoding, suite)
    check_detector(settings.detector)
    _check_settings(settings)
    with open_executor(settings.executor) as execute, Store(settings.store_path) as store, ExitStack() as running:
        classifiers = load_classifiers(experiment.configs)
        specs = list(dict.fromkeys(c.model for c in experiment.configs))
        loaded = progress("load models", len(specs)) if progress else None

        def load(spec: str):
            backend = load_backend(spec)
            if loaded:
                loaded(1)
            return backend

        backends = load_backends(experiment.configs, load)
        info = RunInfo(
            new_id(),
            time.time(),
            experiment.model_dump(mode="json"),
            suite.name,
            suite.version,
            suite.content_hash,
            experiment.reference,
            "running",
        )
        running.enter_context(hold(settings.results_dir / info.run_id))  # `altax runs` tells a dead process
        store.create_run(
            info,
            items,
            [
                (c.name, c.fingerprint(), c.model_dump_json(), model_identity(c, backends, classifiers))
                for c in experiment.configs
            ],
        )
        planned_all = plan(experiment.configs, items, backends, experiment.decoding, classifiers)
        routes = {(p.route.config, p.route.item_id): p.route for p in planned_all if p.route is not None}
        store.add_routes(info.run_id, list(routes.values()))
        keys = {p.request.key for p in planned_all}
        todo = len(keys) if settings.fresh else len(keys) - len(store.cached_keys(keys))
        advance = progress(f"generate ({len(keys) - todo} cached)", todo) if progress else None
        start = 0
        for end in stops:
            drawn = {item.id for item in items[start:end]}
            planned = [p for p in planned_all if p.planned.item_id in drawn]
            store.add_requests(info.run_id, [p.planned for p in planned])
            for key, backend in backends.items():
                execute(
                    backend,
                    [p for p in planned if p.backend == key],
                    store,
                    batch_size=settings.batch_size,
                    fresh=settings.fresh,
                    progress=advance,
                )
            judge_run(store, info.run_id, settings.detector, progress=progress)
            start = end
            if end < len(items):  # more than one look: --target-ci, so the results carry the adaptive check
                adaptive = analyse(store, info.run_id, settings).results.adaptive
                if adaptive is not None and adaptive.reached:
                    break
        store.set_status(info.run_id, "complete")
        output = analyse(store, info.run_id, settings)
        return dataclasses.replace(output, notes=machine_notes(backends, specs, items))


def machine_notes(backends: dict, specs: Sequence[str], items: Sequence[Item]) -> tuple[str, ...]:
    """What a reader of the results should know about this machine: the linear-layer kernel of each model
    whose weights ran here (``models/kernels.py``), and a code sandbox weaker than bubblewrap."""
    notes = [
        f"{spec}: linear kernel {kernel.describe()}"
        for spec in specs
        if (kernel := getattr(backends[spec], "kernel", None))
    ]
    if any(item.reference.scorer == "code" for item in items) and (weaker := weaker_sandbox()):
        notes.append(f"code sandbox: {weaker} (docs/security.md)")
    return tuple(notes)


def analyse(store: Store, run_id: str, settings: Settings) -> RunOutput:
    """Analyse a stored run (no model is touched) and write its results JSON beside the store."""
    info = store.run(run_id)
    rows = store.judged_items(info.run_id, judge_name(settings.detector))
    workload = load_workload(settings.workload) if settings.workload else None
    results = summarize(
        rows, info.reference, n_boot=settings.n_boot, seed=settings.seed, cluster=settings.cluster, workload=workload
    )
    target = info.experiment.get("target_ci")
    if target is not None:
        drawn = len({r.item_id for r in rows})
        chunk = info.experiment["chunk_size"]
        status = adaptive_status(results, target, chunk, drawn, len(store.run_items(info.run_id)))
        results = results.model_copy(update={"adaptive": status})
    routes = _drawn_routes(store.run_routes(info.run_id), {r.item_id for r in rows})
    path = settings.results_dir / info.run_id / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "run": {
            "run_id": info.run_id,
            "created_at": info.created_at,
            "suite": {
                "name": info.suite_name,
                "version": info.suite_version,
                "content_hash": info.suite_hash,
            },
            "detector": judge_name(settings.detector),
            "configs": store.run_configs(info.run_id),
        },
        "results": json.loads(results.to_json()),
    }
    if routes:
        payload["run"]["routes"] = route_summary(routes, store.run_items(info.run_id))
    over_context = store.finish_reasons(info.run_id).get(OVER_CONTEXT)
    if over_context:
        payload["run"]["over_context"] = over_context
    write_text(path, json.dumps(payload, indent=2))
    return RunOutput(store.run(info.run_id), results, path)


def _drawn_routes(routes: list[Route], drawn: set[str]) -> list[Route]:
    """The routing decisions of the items analysed (an adaptive run may stop before drawing them all)."""
    return [r for r in routes if r.item_id in drawn]
