"""Power and sample size: exact McNemar power against a simulation, Connor's formula, and `altax plan`."""

import numpy as np
import pytest
from scipy import stats

from alignment_tax.analysis.power import connor_items, items_needed, mcnemar_power
from alignment_tax.errors import AltaxError
from altax_here import altax_here as altax


@pytest.mark.parametrize(("n", "loss", "gain"), [(200, 0.12, 0.05), (500, 0.08, 0.06), (60, 0.3, 0.1)])
def test_exact_power_matches_simulation(n, loss, gain):
    rng = np.random.default_rng(11)
    cells = rng.multinomial(n, [loss, gain, 1 - loss - gain], size=20000)
    b, c = cells[:, 0], cells[:, 1]
    p = np.minimum(1, 2 * stats.binom.cdf(np.minimum(b, c), b + c, 0.5))
    simulated = float(np.mean(p <= 0.05))
    assert mcnemar_power(n, loss, gain) == pytest.approx(simulated, abs=0.012)


def test_items_needed_reaches_power_and_is_near_connor():
    n = items_needed(5, 15, power=0.8)
    assert mcnemar_power(n, 0.10, 0.05) >= 0.8 > mcnemar_power(n - 1, 0.10, 0.05)
    assert n == pytest.approx(connor_items(0.05, 0.15, 0.8), rel=0.1)
    assert items_needed(2, 15) > items_needed(5, 15) > items_needed(5, 15, power=0.5)


def test_items_needed_rejects_impossible_inputs():
    with pytest.raises(AltaxError, match="discordance rate of at least 5%"):
        items_needed(5, 3)
    with pytest.raises(AltaxError, match="between 0 and 1"):
        items_needed(5, 15, power=1.5)


def test_power_command():
    result = altax("power", "--tax", "5", "--discordance", "15")
    assert result.returncode == 0, result.stderr
    assert f"{items_needed(5, 15)} items per category" in result.stdout and "is now" not in result.stderr
    both = altax("power", "--tax", "5")
    assert both.returncode == 2 and "--discordance" in both.stderr


def test_plan_is_the_old_name_of_power_with_a_notice():
    old = altax("plan", "--tax", "5", "--discordance", "15")
    assert old.returncode == 0, old.stderr
    assert old.stdout == altax("power", "--tax", "5", "--discordance", "15").stdout
    assert "`altax plan` is now `altax power`" in old.stderr
    assert altax("plan", "--tax", "5").returncode == 2
    assert "plan" not in altax("--help").stdout.split()


def test_plan_from_pilot_uses_each_category_discordance():
    from alignment_tax.analysis.power import plan_from_pilot
    from alignment_tax.analysis.results import summarize
    from alignment_tax.records import JudgedItem

    rng = np.random.default_rng(2)
    rows = []
    for i in range(120):
        category = ("math", "code")[i % 2]
        ref, cfg = bool(rng.random() < 0.8), bool(rng.random() < (0.6 if category == "math" else 0.78))
        for name, ok in (("base", ref), ("safe", cfg)):
            rows.append(JudgedItem(f"q{i}", category, "capability", None, name, "correct" if ok else "incorrect", ok))
    results = summarize(rows, "base", n_boot=10)
    plan = {row.category: row for row in plan_from_pilot(results, 5)}
    for category, row in plan.items():
        tax = results.configs["safe"].categories[category].tax
        assert row.discordance == pytest.approx(tax.refusal_driven + tax.capability_loss + tax.gains)
        assert row.items_needed == items_needed(5, row.discordance)
