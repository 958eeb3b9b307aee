"""Comparing two runs: item statuses, flips, paired changes with CIs, and `altax diff`."""

import pytest

from alignment_tax.analysis.diff import diff_runs, flip_label, item_status
from alignment_tax.errors import AltaxError
from alignment_tax.records import JudgedItem
from altax_here import altax_here
from scripted_run import scripted_run


@pytest.mark.parametrize(
    ("kind", "outcome", "correct", "status"),
    [
        ("capability", "refused", False, "refused"),
        ("capability", "partial", True, "correct"),
        ("capability", "degenerate", False, "wrong"),
        ("harmful", "refused", True, "refused"),
        ("harmful", "partial", False, "partial"),
        ("benign", "correct", True, "answered"),
        ("benign", "degenerate", False, "degenerate"),
    ],
)
def test_item_status(kind, outcome, correct, status):
    assert item_status(kind, outcome, correct) == status


def test_flip_label():
    assert flip_label("correct", "refused") == "correct → refused" and flip_label("wrong", "wrong") == "unchanged"


def _rows(config, outcomes):
    kinds = {"c": "capability", "h": "harmful", "b": "benign"}
    return [
        JudgedItem(
            item,
            kinds[item[0]],
            kinds[item[0]],
            None,
            config,
            outcome,
            outcome in ("correct",) or (item[0] == "h" and outcome == "refused"),
        )
        for item, outcome in outcomes.items()
    ]


def test_diff_counts_changes_with_paired_intervals():
    before = {f"c{i}": "correct" for i in range(10)} | {"h1": "incorrect", "h2": "incorrect", "b1": "correct"}
    after = before | {"c0": "refused", "c1": "incorrect", "h1": "refused"}
    rows_a, rows_b = _rows("x", before) + _rows("only-a", before), _rows("x", after)
    result = diff_runs(rows_a, rows_b, list(before), n_boot=500, seed=1)
    assert result.n_items == 13 and result.only_a == ["only-a"] and result.only_b == []
    (config,) = result.configs
    accuracy = config.metrics["accuracy"]
    assert (accuracy.n, accuracy.a, accuracy.b, accuracy.change) == (10, 100.0, 80.0, -20.0)
    assert accuracy.change_ci[0] < -20.0 < accuracy.change_ci[1] <= 0.0
    assert config.metrics["coverage"].change == 50.0 and config.metrics["over_refusal"].change == 0.0
    assert config.flips == {
        "capability: correct → refused": 1,
        "capability: correct → wrong": 1,
        "harmful: answered → refused": 1,
    }
    assert result == diff_runs(rows_a, rows_b, list(before), n_boot=500, seed=1)


def test_diff_user_errors():
    rows = _rows("x", {"c1": "correct"})
    with pytest.raises(AltaxError, match="share no items"):
        diff_runs(rows, rows, [])
    with pytest.raises(AltaxError, match="no configuration name"):
        diff_runs(rows, _rows("y", {"c1": "correct"}), ["c1"])


def test_altax_diff_of_two_runs(tmp_path):
    settings, first = scripted_run(tmp_path)
    _, second = scripted_run(tmp_path)
    done = altax_here("diff", first.run.run_id, second.run.run_id, "--results-dir", str(settings.results_dir))
    assert done.returncode == 0, done.stderr
    assert "8 shared items" in done.stdout and "also-safe" in done.stdout and "+0.0" in done.stdout
