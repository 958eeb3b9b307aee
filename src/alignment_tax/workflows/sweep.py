"""Run a steering sweep through the pipeline: one steered configuration per (layer, strength), judged and split."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alignment_tax.analysis.sweep import Constraints, SweepPoint, SweepResult, choose, split_items, split_numbers
from alignment_tax.configs.schema import DEFAULT_MAX_NEW_TOKENS, Configuration, Decoding, Experiment, Steering
from alignment_tax.errors import AltaxError
from alignment_tax.files import write_text
from alignment_tax.interventions.directions import default_direction_name, load_direction
from alignment_tax.judge.stage import judge_name
from alignment_tax.store import Store
from alignment_tax.suite.loaders import load_suite
from alignment_tax.workflows.experiment import RunOutput, Settings, StageProgress, run_experiment

REFERENCE = "reference"


def setting_name(layer: int, strength: float) -> str:
    """The configuration name of one setting, e.g. ``L12-s0.2``."""
    return f"L{layer}-s{strength:g}"


def sweep_experiment(
    model: str,
    direction: str,
    layers: Sequence[int],
    strengths: Sequence[float],
    *,
    mode: str = "add",
    suite: str = "core",
    limit: int | None = None,
    max_new_tokens: int | None = None,
) -> Experiment:
    """The unsteered reference plus one steered configuration per (layer, nonzero strength). Strength 0 is the
    reference itself (it reproduces its outputs exactly), so it is not generated twice. ``ablate`` ignores
    strengths: one configuration per layer. ``max_new_tokens`` caps every category alike (a quicker look)."""
    if not layers or not strengths:
        raise AltaxError("a sweep needs at least one layer and one strength, e.g. --layers 8,12 --strengths 0,0.1")
    configs = [Configuration(name=REFERENCE, model=model, description="unsteered")]
    settings = [(layer, 1.0) for layer in layers] if mode == "ablate" else [(la, s) for la in layers for s in strengths]
    for layer, strength in dict.fromkeys(settings):
        if strength == 0:
            continue
        steering = Steering(direction=direction, layers=[layer], strength=strength, mode=mode)
        name = f"L{layer}-ablate" if mode == "ablate" else setting_name(layer, strength)
        configs.append(Configuration(name=name, model=model, steering=steering))
    decoding = Decoding()
    if max_new_tokens is not None:
        categories = [*DEFAULT_MAX_NEW_TOKENS, *(i.category for i in load_suite(suite).items)]
        decoding = Decoding(max_new_tokens=dict.fromkeys(categories, max_new_tokens))
    return Experiment(suite=suite, reference=REFERENCE, configs=configs, limit=limit, decoding=decoding)


def evaluate(
    output: RunOutput,
    experiment: Experiment,
    settings: Settings,
    constraints: Constraints,
    *,
    direction: str,
    mode: str,
    split_seed: int = 0,
) -> SweepResult:
    """Split the run's items, measure every setting on both halves, and choose on the tuning half."""
    with Store(settings.store_path) as store:
        items = store.run_items(output.run.run_id)
        rows = store.judged_items(output.run.run_id, judge_name(settings.detector))
    tuning, held_out = split_items(items, split_seed)
    if not held_out:
        raise AltaxError("too few items to split into tuning and held-out halves; raise --limit to 2 or more")
    names = [c.name for c in experiment.configs]
    on_tuning = split_numbers(rows, REFERENCE, names, tuning, settings.n_boot, settings.seed)
    on_held = split_numbers(rows, REFERENCE, names, held_out, settings.n_boot, settings.seed)
    points = []
    for config in experiment.configs:
        steering = config.steering
        points.append(
            SweepPoint(
                name=config.name,
                layer=steering.layers[0] if steering else None,
                strength=steering.strength if steering else 0.0,
                tuning=on_tuning[config.name],
                held_out=on_held[config.name],
            )
        )
    chosen, reason = choose(points, REFERENCE, constraints)
    return SweepResult(
        run_id=output.run.run_id,
        model=experiment.configs[0].model,
        direction=direction,
        mode=mode,
        split_seed=split_seed,
        constraints=constraints,
        points=points,
        chosen=chosen,
        reason=reason,
    )


def run_sweep(
    experiment: Experiment,
    settings: Settings,
    constraints: Constraints,
    *,
    direction: str,
    mode: str = "add",
    split_seed: int = 0,
    progress: StageProgress | None = None,
) -> SweepResult:
    """Run the sweep's experiment (cached generations are reused), then evaluate it."""
    output = run_experiment(experiment, settings, progress)
    return evaluate(output, experiment, settings, constraints, direction=direction, mode=mode, split_seed=split_seed)


def steering_sweep(
    model: str,
    direction: str | None,
    layers: Sequence[int],
    strengths: Sequence[float],
    settings: Settings,
    constraints: Constraints,
    *,
    mode: str = "add",
    suite: str = "core",
    limit: int | None = None,
    max_new_tokens: int | None = None,
    split_seed: int = 0,
    out: Path | None = None,
    progress: StageProgress | None = None,
) -> tuple[SweepResult, Path]:
    """The sweep of `altax steer sweep` with ``direction`` (default ``caa-MODEL``), and where its curve was written
    (``out``, default RESULTS_DIR/RUN/steering-sweep.json). A bad mode or a missing direction fails before any
    model loads."""
    if mode not in ("add", "ablate"):
        raise AltaxError(f"--mode must be add or ablate, not {mode!r}")
    name = direction or default_direction_name(model)
    load_direction(name)
    experiment = sweep_experiment(
        model, name, layers, strengths, mode=mode, suite=suite, limit=limit, max_new_tokens=max_new_tokens
    )
    result = run_sweep(
        experiment, settings, constraints, direction=name, mode=mode, split_seed=split_seed, progress=progress
    )
    curve = out or settings.results_dir / result.run_id / "steering-sweep.json"
    return result, write_text(curve, result.model_dump_json(indent=2))
