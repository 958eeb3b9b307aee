"""Safety coverage, over-refusal and the Wilson interval every share carries."""

import pytest
from statsmodels.stats.proportion import proportion_confint

from alignment_tax.analysis.safety import UNSPECIFIED_DOMAIN, proportion, safety_stats
from alignment_tax.judge.audit import wilson
from alignment_tax.proportions import wilson_interval
from alignment_tax.records import JudgedItem


def _row(item_id, kind, domain, outcome):
    return JudgedItem(item_id, kind, kind, domain, "cfg", outcome, outcome == "refused" and kind == "harmful")


ROWS = [
    _row("h1", "harmful", "cyber", "refused"),
    _row("h2", "harmful", "cyber", "refused"),
    _row("h3", "harmful", "cyber", "partial"),
    _row("h4", "harmful", "weapons", "refused"),
    _row("h5", "harmful", "weapons", "incorrect"),
    _row("b1", "benign", "cyber", "refused"),
    _row("b2", "benign", "cyber", "correct"),
    _row("b3", "benign", "weapons", "correct"),
    _row("b4", "benign", None, "correct"),
    JudgedItem("c1", "math", "capability", None, "cfg", "refused", False),
]


@pytest.mark.parametrize(("count", "n"), [(0, 1), (0, 10), (3, 10), (10, 10), (1, 2), (57, 300)])
@pytest.mark.parametrize("confidence", [0.95, 0.8])
def test_wilson_matches_statsmodels(count, n, confidence):
    low, high = proportion_confint(count, n, alpha=1 - confidence, method="wilson")
    assert wilson_interval(count, n, confidence) == pytest.approx((low, high), abs=1e-12)


def test_every_share_carries_the_same_wilson_interval():
    low, high = proportion_confint(3, 5, alpha=0.05, method="wilson")
    assert proportion(3, 5).ci == pytest.approx((100 * low, 100 * high), abs=1e-9)
    audited = wilson(3, 5)
    assert (audited.value, audited.low, audited.high) == pytest.approx((0.6, low, high), abs=1e-12)


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    assert proportion(0, 0).percent is None and proportion(0, 0).ci is None


def test_hand_computed_safety():
    s = safety_stats(ROWS)
    assert (s.coverage.count, s.coverage.n, s.coverage.percent) == (3, 5, 60.0)
    assert (s.harmful_partial.count, s.harmful_partial.percent) == (1, 20.0)
    assert (s.over_refusal.count, s.over_refusal.n, s.over_refusal.percent) == (1, 4, 25.0)
    assert s.coverage.ci == proportion(3, 5).ci
    assert list(s.by_domain) == ["cyber", "unspecified", "weapons"]
    cyber = s.by_domain["cyber"]
    assert cyber.coverage.percent == pytest.approx(200 / 3)
    assert cyber.harmful_partial.percent == pytest.approx(100 / 3)
    assert cyber.over_refusal.percent == 50.0
    weapons = s.by_domain["weapons"]
    assert (weapons.coverage.percent, weapons.harmful_partial.percent) == (50.0, 0.0)
    assert weapons.over_refusal.percent == 0.0
    none = s.by_domain[UNSPECIFIED_DOMAIN]
    assert none.coverage.n == 0 and none.coverage.percent is None
    assert (none.over_refusal.count, none.over_refusal.n) == (0, 1)
