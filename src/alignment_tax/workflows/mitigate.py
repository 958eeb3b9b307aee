"""Search prompt mitigations: split the items, screen every candidate with the probe, confirm finalists by generation.

The safety items (harmful and benign) are split by a seeded hash within each kind: the screening half chooses
the finalists, the confirmation half (with every capability item) measures them and the base in one paired run,
and the choice is made on those measurements. No screening item is ever confirmed on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from alignment_tax.analysis.factorial import Design, cells_needed, factorial
from alignment_tax.analysis.frontier import frontier
from alignment_tax.analysis.mitigation import Confirmed, Role, Screened, confirm, screen
from alignment_tax.analysis.sweep import split_items
from alignment_tax.configs.mitigations import Candidate, Space, candidates
from alignment_tax.configs.schema import Configuration, Experiment
from alignment_tax.configs.toml_text import experiment_toml
from alignment_tax.errors import AltaxError
from alignment_tax.files import write_text
from alignment_tax.judge.stage import judge_name
from alignment_tax.store import Store
from alignment_tax.suite.loaders import load_suite
from alignment_tax.suite.schema import Item
from alignment_tax.workflows.experiment import RunOutput, Settings, StageProgress, run_experiment, select_items
from alignment_tax.workflows.ids import new_id
from alignment_tax.workflows.probe import analyse_probe, probe_experiment

SAFETY_KINDS = ("harmful", "benign")


class Search(BaseModel):
    """How to search: the base configuration's name, the coverage floor in percent (None: the base's own lower
    bound on each split), the most candidates and finalists, the split's seed, the probe's threshold or the run
    to calibrate it on (neither: the probe's default), the confirmation run's adaptive target, and whether to
    confirm the candidates that complete the factorial designs of the finalists' levers as well."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    base: str
    min_coverage: float | None = Field(default=None, ge=0, le=100)
    budget: int | None = Field(default=None, ge=1)
    finalists: int = Field(default=3, ge=1)
    split_seed: int = Field(default=0, ge=0)
    threshold: float | None = None
    calibrate_from: str | None = None
    target_ci: float | None = None
    factorial: bool = False


class MitigationResult(BaseModel):
    """What a search found, written as JSON beside its split suites."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    search: Search
    screening_suite: str
    confirmation_suite: str
    screening_items: dict[str, int]
    confirmation_items: dict[str, int]
    probe_id: str
    probe_threshold: float
    probe_threshold_source: str
    run_id: str
    screening_floor: float
    confirmation_floor: float
    screened: list[Screened]
    confirmed: list[Confirmed]
    factorial: list[Design]
    chosen: str | None
    reason: str


@dataclass(frozen=True)
class MitigationOutput:
    """A search's result, its confirmation run, where the result JSON went and the chosen TOML (None: no choice)."""

    result: MitigationResult
    run: RunOutput
    json_path: Path
    toml_path: Path | None


def split_suite(experiment: Experiment, seed: int) -> tuple[list[Item], list[Item]]:
    """The screening items (half of each safety kind) and the confirmation items (the other half and every
    capability item), from the items the experiment selects; disjoint by construction."""
    items = select_items(load_suite(experiment.suite).items, experiment.limit, experiment.sample, experiment.draw_seed)
    screening_ids, _ = split_items([i for i in items if i.kind in SAFETY_KINDS], seed)
    screening = [i for i in items if i.id in screening_ids]
    confirmation = [i for i in items if i.id not in screening_ids]
    for name, part in (("screening", screening), ("confirmation", confirmation)):
        kinds = {i.kind for i in part}
        if not set(SAFETY_KINDS) <= kinds:
            raise AltaxError(
                f"the {name} split has no {min(set(SAFETY_KINDS) - kinds)} items; the suite needs at least two "
                "harmful and two benign items (raise --limit)"
            )
    return screening, confirmation


def _counts(items: Sequence[Item]) -> dict[str, int]:
    return {kind: sum(i.kind == kind for i in items) for kind in dict.fromkeys(i.kind for i in items)}


def _write_suite(path: Path, items: Sequence[Item]) -> str:
    write_text(path, "".join(item.model_dump_json(exclude_none=True) + "\n" for item in items))
    return str(path)


def _base(experiment: Experiment, name: str) -> Configuration:
    for config in experiment.configs:
        if config.name == name:
            return config
    raise AltaxError(
        f"no configuration {name!r} in the experiment; it has {', '.join(c.name for c in experiment.configs)}"
    )


def chosen_experiment(experiment: Experiment, base: Configuration, chosen: Configuration) -> Experiment:
    """The experiment's reference, the base and the chosen configuration over the experiment's whole suite."""
    reference = _base(experiment, experiment.reference)
    configs = list({c.name: c for c in (reference, base, chosen)}.values())
    return Experiment(suite=experiment.suite, reference=reference.name, configs=configs, decoding=experiment.decoding)


def design_cells(
    base: str, finalists: Sequence[Candidate], pool: Sequence[Candidate], kinds: Mapping[str, str]
) -> list[Candidate]:
    """The candidates of ``pool``, beyond the finalists, that complete the factorial designs of the finalists'
    levers (``analysis.factorial.designs``), in pool order; cells outside the pool (cut by the budget) stay missing."""
    levers = {base: ()} | {c.config.name: c.levers for c in finalists}
    needed = set(cells_needed(levers, kinds)) - {frozenset(c.levers) for c in finalists}
    return [c for c in pool if frozenset(c.levers) in needed]


def run_mitigate(
    experiment: Experiment,
    space: Space,
    search: Search,
    settings: Settings,
    out: Path | None = None,
    progress: StageProgress | None = None,
) -> MitigationOutput:
    """Screen, confirm and choose (module docstring); writes the split suites and the result JSON under
    ``RESULTS_DIR/mitigations/ID/`` and the chosen configuration's experiment TOML to ``out`` (default beside them)."""
    base = _base(experiment, search.base)
    pool = candidates(base, space, search.budget)
    if not pool:
        raise AltaxError("the mitigation space has no levers to try")
    folder = settings.results_dir / "mitigations" / new_id()
    screening, confirmation = split_suite(experiment, search.split_seed)
    stem = Path(experiment.suite).stem
    screening_suite = _write_suite(folder / f"{stem}-screening.jsonl", screening)
    confirmation_suite = _write_suite(folder / f"{stem}-confirmation.jsonl", confirmation)
    levers = {base.name: ()} | {c.config.name: c.levers for c in pool}
    configs = {base.name: base} | {c.config.name: c.config for c in pool}
    probing = Experiment(
        suite=screening_suite, reference=base.name, configs=list(configs.values()), decoding=experiment.decoding
    )
    with Store(settings.store_path) as store:
        probe_id = probe_experiment(probing, store, progress=progress)
        probed = analyse_probe(
            store, probe_id, settings.results_dir, threshold=search.threshold, calibrate_from=search.calibrate_from,
            detector=settings.detector, seed=settings.seed, progress=progress,
        )  # fmt: skip
    screened, screening_floor = screen(probed.estimates, levers, base.name, search.min_coverage, search.finalists)
    finalists = [s.name for s in screened if s.finalist]
    roles: dict[str, Role] = {base.name: "reference"}
    roles.update((name, "screening") for name in finalists)
    if search.factorial:
        picked = [c for c in pool if c.config.name in finalists]
        roles.update((c.config.name, "design") for c in design_cells(base.name, picked, pool, space.kinds()))
    confirming = Experiment(
        suite=confirmation_suite,
        reference=base.name,
        configs=[configs[name] for name in roles],
        decoding=experiment.decoding,
        target_ci=search.target_ci,
        chunk_size=experiment.chunk_size,
        draw_seed=experiment.draw_seed,
    )
    run = run_experiment(confirming, settings, progress)
    measured = {name: levers[name] for name in roles}
    with Store(settings.store_path) as store:
        rows = store.judged_items(run.run.run_id, judge_name(settings.detector))
    front = frontier(rows, base.name, n_boot=settings.n_boot, seed=settings.seed)
    confirmed, confirmation_floor, chosen, reason = confirm(run.results, measured, roles, front, search.min_coverage)
    designs = factorial(rows, measured, base.name, space.kinds(), n_boot=settings.n_boot, seed=settings.seed)
    result = MitigationResult(
        search=search,
        screening_suite=screening_suite,
        confirmation_suite=confirmation_suite,
        screening_items=_counts(screening),
        confirmation_items=_counts(confirmation),
        probe_id=probe_id,
        probe_threshold=probed.threshold,
        probe_threshold_source=probed.source,
        run_id=run.run.run_id,
        screening_floor=screening_floor,
        confirmation_floor=confirmation_floor,
        screened=screened,
        confirmed=confirmed,
        factorial=designs,
        chosen=chosen,
        reason=reason if finalists else "no candidate reached the coverage floor on the screening split",
    )
    json_path = write_text(folder / "mitigation.json", result.model_dump_json(indent=2))
    toml_path = None
    if chosen is not None:
        header = (
            f"Chosen by `altax mitigate` (search {folder.name}): {reason}.\n"
            f"Screened by the probe on {screening_suite}; measured by run {run.run.run_id} on {confirmation_suite}."
        )
        toml = experiment_toml(chosen_experiment(experiment, base, configs[chosen]), header)
        toml_path = write_text(out or folder / "chosen.toml", toml)
    return MitigationOutput(result, run, json_path, toml_path)
