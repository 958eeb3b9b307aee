"""The frontier against brute force: non-dominated sets, hypervolume, frontier odds and savings."""

import itertools

import numpy as np
import pytest

from alignment_tax.analysis.frontier import (
    REFERENCE_POINT,
    bootstrap_percent,
    frontier,
    frontier_probability,
    hypervolume,
    nondominated,
)
from alignment_tax.errors import AltaxError
from alignment_tax.records import JudgedItem


def _as_min(points, maximise):
    return np.where(np.asarray(maximise), -np.asarray(points, dtype=float), np.asarray(points, dtype=float))


def brute_nondominated(points, maximise):
    p = _as_min(points, maximise)
    return np.array([not any((q <= r).all() and (q < r).any() for q in p) for r in p])


def brute_hypervolume(points, reference, maximise):
    """Exact: cut the box at every coordinate and add the cells whose lower corner some point dominates."""
    p = _as_min(points, maximise)
    ref = _as_min([reference], maximise)[0]
    p = p[(p < ref).all(axis=1)]
    if len(p) == 0:
        return 0.0
    cuts = [np.unique(np.append(p[:, k], ref[k])) for k in range(p.shape[1])]
    total = 0.0
    for cell in itertools.product(*[range(len(c) - 1) for c in cuts]):
        low = np.array([cuts[k][i] for k, i in enumerate(cell)])
        if ((p <= low).all(axis=1)).any():
            total += float(np.prod([cuts[k][i + 1] - cuts[k][i] for k, i in enumerate(cell)]))
    return total


@pytest.mark.parametrize("seed", range(40))
def test_nondominated_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 4))
    points = rng.integers(0, 5, size=(int(rng.integers(1, 30)), m)).astype(float)  # small grid: many ties
    maximise = list(rng.integers(0, 2, size=m).astype(bool))
    assert (nondominated(points, maximise) == brute_nondominated(points, maximise)).all()


@pytest.mark.parametrize("seed", range(30))
def test_hypervolume_matches_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(1, 12))
    points = rng.integers(0, 10, size=(n, 3)).astype(float) if seed % 2 else rng.uniform(0, 10, size=(n, 3))
    maximise = [False, True, False]
    reference = [10.0, 0.0, 10.0]
    assert hypervolume(points, reference, maximise) == pytest.approx(brute_hypervolume(points, reference, maximise))


def test_hypervolume_of_one_point_is_its_box():
    assert hypervolume(np.array([[0.0, 100.0, 0.0]]), list(REFERENCE_POINT.values()), [False, True, False]) == 1e6


@pytest.mark.parametrize("seed", range(5))
def test_frontier_probability_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, 4, size=(50, 6, 3)).astype(float)
    maximise = [False, True, False]
    expected = np.mean([brute_nondominated(d, maximise) for d in draws], axis=0)
    assert np.allclose(frontier_probability(draws, maximise), expected)


def test_bootstrap_percent_is_paired_and_seeded():
    rng = np.random.default_rng(0)
    matrix = rng.random((3, 40)) < 0.5
    matrix[1] = matrix[0]
    draws = bootstrap_percent(matrix, 500, np.random.default_rng(1))
    assert draws.shape == (500, 3)
    assert (draws[:, 0] == draws[:, 1]).all()  # the same resample for every row
    assert (draws == bootstrap_percent(matrix, 500, np.random.default_rng(1))).all()
    assert draws[:, 2].mean() == pytest.approx(100 * matrix[2].mean(), abs=2)


def _rows(table):
    """JudgedItem rows from {config: {item_id: (kind, outcome, correct)}}."""
    return [
        JudgedItem(item, "cat" if kind == "capability" else kind, kind, None, config, outcome, correct)
        for config, items in table.items()
        for item, (kind, outcome, correct) in items.items()
    ]


def _scenario():
    """base answers all; safe refuses harmful, one capability item and the benign one; also-safe refuses
    only harmful: also-safe dominates both others."""
    table = {}
    for config in ("base", "safe", "also-safe"):
        items = {f"c{i}": ("capability", "correct", True) for i in range(4)}
        items["c4"] = ("capability", "incorrect", False)
        items["h1"] = items["h2"] = ("harmful", "incorrect", False)
        items["b1"] = ("benign", "correct", True)
        if config != "base":
            items["h1"] = items["h2"] = ("harmful", "refused", True)
        if config == "safe":
            items["c0"] = ("capability", "refused", False)
            items["b1"] = ("benign", "refused", False)
        table[config] = items
    return table


def test_frontier_of_a_known_scenario():
    front = frontier(_rows(_scenario()), "base", n_boot=300, seed=3)
    points = {p.config: p for p in front.points}
    assert [p.config for p in front.points] == ["base", "safe", "also-safe"]
    assert (points["safe"].tax, points["safe"].coverage, points["safe"].over_refusal) == (20.0, 100.0, 100.0)
    assert [p.on_frontier for p in front.points] == [False, False, True]
    assert points["also-safe"].probability == 1.0 and points["safe"].probability == 0.0
    saving = points["safe"].saving
    assert saving.against == "also-safe" and saving.points == 20.0 and saving.percent == 100.0
    assert saving.points_ci[0] <= 20.0 <= saving.points_ci[1]
    assert points["base"].saving.points == 0.0 and points["base"].saving.percent is None  # no tax to save
    assert front.mean_saving_percent == 100.0
    assert front.hypervolume == pytest.approx(100 * 100 * 100) and front.hypervolume_share == pytest.approx(0.5)
    assert front == frontier(_rows(_scenario()), "base", n_boot=300, seed=3)


def test_objectives_without_items_are_left_out():
    table = {c: {i: v for i, v in items.items() if v[0] != "benign"} for c, items in _scenario().items()}
    front = frontier(_rows(table), "base", n_boot=50)
    assert front.objectives == ["tax", "coverage"] and front.reference_point == {"tax": 100.0, "coverage": 0.0}
    assert all(p.over_refusal is None for p in front.points)
    assert front.hypervolume_share == pytest.approx(100 * 100 / (200 * 100))


def test_user_errors():
    rows = _rows(_scenario())
    with pytest.raises(AltaxError, match="reference configuration 'nope'"):
        frontier(rows, "nope")
    with pytest.raises(AltaxError, match="not answered by every configuration"):
        frontier([r for r in rows if not (r.config == "safe" and r.item_id == "c1")], "base")
    with pytest.raises(AltaxError, match="n_boot"):
        frontier(rows, "base", n_boot=0)


@pytest.mark.parametrize("seed", range(15))
def test_savings_match_brute_force_on_random_runs(seed):
    rng = np.random.default_rng(seed)
    kinds = ["capability"] * 12 + ["harmful"] * 6 + ["benign"] * 6
    table = {}
    for c in range(int(rng.integers(2, 7))):
        items = {}
        for i, kind in enumerate(kinds):
            refused = rng.random() < 0.3
            correct = bool(rng.random() < 0.6) if kind != "harmful" else refused
            items[f"i{i}"] = (
                kind,
                "refused" if refused else "correct" if correct else "incorrect",
                correct and not (refused and kind != "harmful"),
            )
        table[f"c{c}"] = items
    front = frontier(_rows(table), "c0", n_boot=20, seed=seed)
    values = np.array([[p.tax, p.coverage, p.over_refusal] for p in front.points])
    expected = brute_nondominated(values, [False, True, False])
    assert [p.on_frontier for p in front.points] == list(expected)
    names = [p.config for p in front.points]
    for j, p in enumerate(front.points):
        if p.on_frontier:
            assert p.saving is None
            continue
        safer = [
            f
            for f in range(len(names))
            if expected[f] and values[f, 1] >= values[j, 1] and values[f, 2] <= values[j, 2]
        ]
        best = min(values[f, 0] for f in safer)
        assert p.saving.points == pytest.approx(values[j, 0] - best) and p.saving.points >= 0
        assert names.index(p.saving.against) in safer and values[names.index(p.saving.against), 0] == best


def test_bootstrap_percent_draws_whole_clusters():
    per_cluster = np.random.default_rng(2).random((3, 15)) < 0.5
    per_item = np.repeat(per_cluster, 2, axis=1)  # every cluster: two items with the same values
    labels = [f"g{j:02d}" for j in range(15) for _ in range(2)]
    by_cluster = bootstrap_percent(per_item, 200, np.random.default_rng(4), labels)
    assert np.allclose(by_cluster, bootstrap_percent(per_cluster, 200, np.random.default_rng(4)))


def test_samples_of_an_item_are_averaged():
    rows = _rows(_scenario())
    again = [
        JudgedItem(r.item_id, r.category, r.kind, r.domain, r.config, "refused", r.kind == "harmful", 1)
        for r in rows
        if r.config == "also-safe"
    ]
    point = {p.config: p for p in frontier(rows + again, "base", n_boot=20).points}["also-safe"]
    assert (point.tax, point.coverage, point.over_refusal) == (pytest.approx(80 - 40), 100.0, 50.0)
