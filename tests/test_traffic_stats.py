"""The traffic statistics against independent implementations (statsmodels) and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest

from alignment_tax.analysis.traffic import (
    Observation,
    newcombe_interval,
    summarize_slice,
    traffic_stats,
    two_proportion_z,
)
from alignment_tax.analysis.traffic_tax import combine, mix_se, traffic_tax
from alignment_tax.errors import AltaxError
from alignment_tax.records import JudgedItem

HOUR = 3600.0


@pytest.mark.parametrize(
    ("a", "n_a", "b", "n_b"), [(10, 200, 25, 210), (0, 50, 3, 40), (97, 100, 80, 100), (5, 5, 1, 9)]
)
def test_two_proportion_z_is_statsmodels_pooled_test(a, n_a, b, n_b):
    z, p = two_proportion_z(a, n_a, b, n_b)
    their_z, their_p = proportions_ztest([b, a], [n_b, n_a])
    assert z == pytest.approx(their_z, rel=1e-9)
    assert p == pytest.approx(their_p, rel=1e-9)


def test_two_proportion_z_without_variance_is_no_evidence():
    assert two_proportion_z(0, 30, 0, 40) == (0.0, 1.0)
    assert two_proportion_z(30, 30, 40, 40) == (0.0, 1.0)


@pytest.mark.parametrize(("a", "n_a", "b", "n_b"), [(10, 200, 25, 210), (0, 50, 3, 40), (97, 100, 80, 100)])
def test_newcombe_interval_is_statsmodels(a, n_a, b, n_b):
    low, high = newcombe_interval(a, n_a, b, n_b)
    their = confint_proportions_2indep(b, n_b, a, n_a, method="newcomb", compare="diff")
    assert (low, high) == pytest.approx(their, abs=1e-12)


def obs(
    refused: bool, risk: float | None = 0.1, *, time: float | None = None, guarded=None, category=None, config=None
):
    return Observation(time, config, "refusal" if refused else "compliance", risk, guarded, category)


def test_a_slice_counts_refusals_over_triggers_and_guardrail_by_hand():
    rows = (
        [obs(True, 0.1, guarded=False)] * 3  # refused, scored benign: over-triggers
        + [obs(True, 0.9, guarded=True)] * 5  # refused, scored risky
        + [obs(True, None)] * 2  # refused, not scored: left out of the over-trigger share
        + [obs(False, 0.2, guarded=False)] * 30
        + [Observation(None, None, "partial", 0.3, None, None)] * 4
        + [Observation(None, None, None, 0.95, None, None)]  # no answer: no verdict
    )
    s = summarize_slice(rows, threshold=0.5)
    assert s.lines == 45
    assert (s.refusal.count, s.refusal.n) == (10, 44)
    assert (s.partial.count, s.partial.n) == (4, 44)
    assert (s.over_trigger.count, s.over_trigger.n) == (3, 8)
    assert (s.guardrail.count, s.guardrail.n) == (5, 38)
    assert (s.risky.count, s.risky.n) == (6, 43)
    wilson = proportion_confint(10, 44, alpha=0.05, method="wilson")
    assert s.refusal.ci == pytest.approx(tuple(100 * v for v in wilson), abs=1e-9)
    assert summarize_slice([], 0.5).refusal.percent is None


def synthetic(rng: np.random.Generator, rates: list[float], per_window: int, start: float = 1_800_000_000.0):
    """``per_window`` requests in each hour, refused with that hour's rate."""
    rows = []
    for k, rate in enumerate(rates):
        times = start + k * HOUR + rng.uniform(0, HOUR, per_window)
        rows += [obs(bool(r), time=t) for t, r in zip(times, rng.random(per_window) < rate, strict=True)]
    return rows


def test_windows_recover_their_rates_and_drift_flags_only_the_changed_window():
    rng = np.random.default_rng(7)
    rates = [0.05, 0.05, 0.05, 0.2, 0.05, 0.05]
    start = 1_800_000_000.0 - 1_800_000_000.0 % HOUR  # a window boundary
    stats = traffic_stats(synthetic(rng, rates, 800, start), 0.5, HOUR, synthetic(rng, [0.05], 3000, start - 10 * HOUR))
    assert [w.start for w in stats.windows] == [start + k * HOUR for k in range(6)]
    for window, rate in zip(stats.windows, rates, strict=True):
        assert window.lines == 800
        assert window.refusal.ci[0] <= 100 * rate <= window.refusal.ci[1]
    consecutive = [d for d in stats.drift if d.kind == "consecutive"]
    assert [d.flagged for d in consecutive] == [False, False, True, True, False]
    by_window = [d for d in stats.drift if d.kind == "baseline" and d.scope == "window"]
    assert [d.flagged for d in by_window] == [False, False, False, True, False, False]
    changed = consecutive[2]
    assert changed.change_ci[0] <= 100 * (rates[3] - rates[2]) <= changed.change_ci[1]
    adjusted = multipletests([d.p_value for d in stats.drift], method="fdr_bh")[1]
    assert [d.p_adjusted for d in stats.drift] == pytest.approx(adjusted, rel=1e-12)


def test_drift_against_a_baseline_per_category():
    rng = np.random.default_rng(3)
    now = [obs(bool(r), category="math") for r in rng.random(2000) < 0.10]
    now += [obs(bool(r), category="code") for r in rng.random(2000) < 0.30]
    base = [obs(bool(r), category=c) for c in ("math", "code") for r in rng.random(2000) < 0.10]
    stats = traffic_stats(now, 0.5, None, base)
    flagged = {(d.scope, d.current): d.flagged for d in stats.drift}
    assert flagged == {("overall", "traffic"): True, ("category", "math"): False, ("category", "code"): True}
    assert stats.mix["math"].percent == 50.0
    assert stats.windows == []


def test_mix_se_is_the_multinomial_closed_form():
    weights = {"math": 0.5, "code": 0.3, "medical": 0.2}
    taxes = {"math": 4.0, "code": -2.0, "medical": 10.0}
    w, t = np.array(list(weights.values())), np.array([taxes[c] for c in weights])
    covariance = (np.diag(w) - np.outer(w, w)) / 250
    assert mix_se(weights, taxes, 250) == pytest.approx(float(np.sqrt(t @ covariance @ t)), rel=1e-12)
    assert mix_se(weights, dict.fromkeys(weights, 3.0), 250) == 0.0


def test_combine_adds_half_widths_in_quadrature():
    low, high = combine(2.0, (-1.0, 5.0), 1.0)
    assert high - 2.0 == pytest.approx(np.hypot(3.0, 1.959963984540054), rel=1e-12)
    assert 2.0 - low == pytest.approx(high - 2.0)
    assert combine(2.0, (-100.0, 100.0), 1.0) == (-100.0, 100.0)


def test_traffic_tax_weighs_each_categorys_tax_by_the_mix():
    missed = {"math": 6, "code": 15}
    rows = []
    for category, wrong in missed.items():
        for i in range(30):
            item = f"{category}-{i}"
            rows.append(JudgedItem(item, category, "capability", None, "ref", "correct", True, 0, None))
            ok = i >= wrong
            rows.append(
                JudgedItem(item, category, "capability", None, "new", "correct" if ok else "incorrect", ok, 0, None)
            )
    counts = {"math": 30, "code": 10, "poetry": 5}
    result = traffic_tax("run-1", rows, "ref", counts)
    weights = {"math": 0.75, "code": 0.25}
    taxes = {c: 100 * missed[c] / 30 for c in missed}
    config = result.configs["new"]
    assert set(result.configs) == {"new"}
    assert config.tax == pytest.approx(sum(weights[c] * taxes[c] for c in weights), rel=1e-12)
    assert config.mix_se == pytest.approx(mix_se(weights, taxes, 40), rel=1e-12)
    assert config.tax_ci == pytest.approx(combine(config.tax, config.run_ci, config.mix_se))
    assert (result.prompts, result.uncovered.count, result.uncovered.n) == (40, 5, 45)
    with pytest.raises(AltaxError, match="has none of the traffic's categories"):
        traffic_tax("run-1", rows, "ref", {"poetry": 5})
    with pytest.raises(AltaxError, match="no categorised prompt"):
        traffic_tax("run-1", rows, "ref", {})
