"""The steering sweep: the seeded stratified split, the constrained choice, and a tiny sweep on the embedded model."""

import json

import pytest

from alignment_tax.analysis.sweep import Constraints, SplitNumbers, SweepPoint, choose, split_items
from alignment_tax.errors import AltaxError
from alignment_tax.suite.schema import CAPABILITY_CATEGORIES, Item
from alignment_tax.workflows.sweep import sweep_experiment

MODEL = "builtin:smollm2-135m-instruct"


def _items():
    out = []
    for category, n in (("math", 7), ("code", 4), ("harmful", 5)):
        for i in range(n):
            kind = "harmful" if category == "harmful" else "capability"
            ref = {"scorer": "refuse"} if kind == "harmful" else {"scorer": "comply"}
            out.append(Item(id=f"{category}-{i}", category=category, kind=kind, prompt=f"q{i}", reference=ref))
    return out


def test_split_is_stratified_seeded_and_independent_of_order():
    items = _items()
    tuning, held = split_items(items, seed=0)
    assert not tuning & held and tuning | held == {i.id for i in items}
    for category, n in (("math", 7), ("code", 4), ("harmful", 5)):
        assert sum(i.startswith(category) for i in tuning) == (n + 1) // 2
    assert split_items(list(reversed(items)), seed=0) == (tuning, held)
    assert split_items(items, seed=1) != (tuning, held)


def _point(name, strength, tax, coverage, over, degenerate=0.0):
    numbers = SplitNumbers(
        n_items=10, accuracy=50, tax=tax, tax_ci=None, coverage=coverage, over_refusal=over, degenerate=degenerate
    )
    return SweepPoint(
        name=name, layer=None if name == "reference" else 8, strength=strength, tuning=numbers, held_out=numbers
    )


def test_choice_maximises_coverage_within_the_constraints():
    points = [
        _point("reference", 0, 0, 10, 0),
        _point("L8-s0.1", 0.1, 2, 40, 5),
        _point("L8-s0.2", 0.2, 4, 60, 10),
        _point("L8-s0.3", 0.3, 12, 90, 50),
        _point("L8-s0.5", 0.5, 3, 95, 5, degenerate=40),
    ]
    assert choose(points, "reference", Constraints(max_tax=5, max_over_refusal=20))[0] == "L8-s0.2"
    assert choose(points, "reference", Constraints(max_tax=5, max_over_refusal=8))[0] == "L8-s0.1"
    assert choose(points, "reference", Constraints(max_degenerate_rise=50))[0] == "L8-s0.5"
    assert choose(points, "reference", Constraints())[0] == "L8-s0.3"  # collapse into loops is never chosen
    ties = [_point("reference", 0, 0, 10, 0), _point("L8-s0.1", 0.1, -5, 10, 0), _point("L8-s0.2", 0.2, -9, 10, 0)]
    assert choose(ties, "reference", Constraints())[0] == "reference"  # steering that buys no coverage loses
    chosen, reason = choose(points, "reference", Constraints(min_coverage=99))
    assert chosen is None and "no setting" in reason


def test_sweep_experiment_has_the_reference_and_one_configuration_per_nonzero_setting():
    experiment = sweep_experiment(MODEL, "d", [8, 12], [0, 0.1, 0.2], limit=3)
    names = [c.name for c in experiment.configs]
    assert names == ["reference", "L8-s0.1", "L8-s0.2", "L12-s0.1", "L12-s0.2"]
    assert experiment.configs[3].steering.layers == [12] and experiment.configs[3].steering.strength == 0.1
    assert [c.name for c in sweep_experiment(MODEL, "d", [8], [0.5], mode="ablate").configs] == [
        "reference",
        "L8-ablate",
    ]
    with pytest.raises(AltaxError, match="at least one layer"):
        sweep_experiment(MODEL, "d", [], [0.1])


@pytest.mark.slow
def test_tiny_sweep_on_the_embedded_model(tmp_path, monkeypatch):
    from alignment_tax.configs.schema import Decoding
    from alignment_tax.workflows.experiment import Settings
    from alignment_tax.workflows.sweep import run_sweep

    monkeypatch.setenv("ALTAX_CACHE_DIR", str(tmp_path / "cache"))  # packaged directions only
    experiment = sweep_experiment(MODEL, "caa-smollm2-135m-instruct", [12], [0, 0.3], limit=2)
    short = Decoding(max_new_tokens={c: 8 for c in (*CAPABILITY_CATEGORIES, "harmful", "benign")})
    experiment = experiment.model_copy(update={"decoding": short})
    settings = Settings(results_dir=tmp_path / "results", n_boot=50, batch_size=22)
    result = run_sweep(experiment, settings, Constraints(max_tax=100), direction="caa-smollm2-135m-instruct")
    assert [p.name for p in result.points] == ["reference", "L12-s0.3"]
    reference, steered = result.points
    assert reference.tuning.tax == 0 and reference.tuning.n_items == 11 and reference.held_out.n_items == 11
    assert steered.tuning.coverage is not None and steered.held_out.over_refusal is not None
    assert result.chosen in ("reference", "L12-s0.3")
    assert json.loads(result.model_dump_json())["points"][1]["layer"] == 12
