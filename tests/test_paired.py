"""Paired tax, its decomposition and the paired bootstrap."""

import numpy as np
import pytest
from scipy import stats

from alignment_tax.analysis.paired import macro_tax, paired_tax
from alignment_tax.errors import AltaxError
from alignment_tax.outcomes import OUTCOMES

# Ten items: reference and configuration outcome, correct.
TABLE = [
    ("correct", True, "correct", True),
    ("correct", True, "refused", False),  # refusal-driven
    ("correct", True, "incorrect", False),  # capability loss
    ("incorrect", False, "correct", True),  # gain
    ("correct", True, "partial", False),  # capability loss (partial is an attempt)
    ("refused", False, "correct", True),  # gain
    ("correct", True, "degenerate", False),  # capability loss
    ("correct", True, "refused", False),  # refusal-driven
    ("incorrect", False, "incorrect", False),
    ("correct", True, "partial", True),
]


def _columns(table):
    ref_o, ref_c, cfg_o, cfg_c = (np.array(col) for col in zip(*table, strict=True))
    return ref_o, ref_c, cfg_o, cfg_c


def test_hand_computed_ten_items():
    result = paired_tax(*_columns(TABLE), n_boot=500, seed=1)
    # reference 7/10 correct, configuration 4/10: tax 30 pp
    assert result.n == 10
    assert result.tax == pytest.approx(30.0)
    assert result.refusal_driven == pytest.approx(20.0)  # items 2, 8
    assert result.capability_loss == pytest.approx(30.0)  # items 3, 5, 7
    assert result.gains == pytest.approx(20.0)  # items 4, 6
    # neither refused: items 1,3,4,5,7,9,10; reference right on 5, configuration on 3
    assert result.refusal_excluded_gap == pytest.approx(100 * 2 / 7)
    assert result.n_excluded_pairs == 3
    for name in ("tax", "refusal_driven", "capability_loss", "gains", "refusal_excluded_gap"):
        low, high = getattr(result, f"{name}_ci")
        assert low <= getattr(result, name) <= high


def test_same_seed_same_numbers_and_identical_configs_have_zero_tax():
    cols = _columns(TABLE)
    assert paired_tax(*cols, seed=3) == paired_tax(*cols, seed=3)
    same = paired_tax(cols[0], cols[1], cols[0], cols[1], n_boot=200)
    assert same.tax == 0 and same.tax_ci == (0.0, 0.0)


def _random_table(rng, n):
    ref_o = rng.choice(OUTCOMES, size=n)
    cfg_o = rng.choice(OUTCOMES, size=n)
    ref_c = (ref_o == "correct") | ((ref_o == "partial") & (rng.random(n) < 0.5))
    cfg_c = (cfg_o == "correct") | ((cfg_o == "partial") & (rng.random(n) < 0.5))
    return ref_o, ref_c, cfg_o, cfg_c


def test_decomposition_adds_up_on_random_tables():
    rng = np.random.default_rng(7)
    for _ in range(500):
        ref_o, ref_c, cfg_o, cfg_c = _random_table(rng, int(rng.integers(1, 60)))
        r = paired_tax(ref_o, ref_c, cfg_o, cfg_c, n_boot=1, seed=0)
        assert r.tax == pytest.approx(r.refusal_driven + r.capability_loss - r.gains, abs=1e-9)
        assert r.tax == pytest.approx(100 * (ref_c.mean() - cfg_c.mean()), abs=1e-9)


def test_bootstrap_ci_agrees_with_scipy():
    rng = np.random.default_rng(11)
    ref_o, ref_c, cfg_o, cfg_c = _random_table(rng, 200)
    ours = paired_tax(ref_o, ref_c, cfg_o, cfg_c, n_boot=20000, seed=2)

    def tax(r, c, axis=-1):
        return 100 * (r.mean(axis=axis) - c.mean(axis=axis))

    data = (ref_c.astype(float), cfg_c.astype(float))
    ref = stats.bootstrap(data, tax, paired=True, vectorized=True, method="percentile", n_resamples=20000, rng=3)
    low, high = ref.confidence_interval
    assert ours.tax_ci == pytest.approx((low, high), abs=0.5)


def test_ci_coverage_near_nominal():
    # joint (ref correct, cfg correct) probabilities for (1,1), (1,0), (0,1), (0,0); true tax = 30 - 10
    probs = [0.5, 0.3, 0.1, 0.1]
    true_tax = 100 * (0.3 - 0.1)
    rng = np.random.default_rng(5)
    hits = 0
    for seed in range(400):
        cell = rng.choice(4, size=300, p=probs)
        ref_c, cfg_c = cell <= 1, (cell == 0) | (cell == 2)
        outcome = np.where(ref_c, "correct", "incorrect")
        low, high = paired_tax(outcome, ref_c, outcome, cfg_c, n_boot=1000, seed=seed).tax_ci
        hits += low <= true_tax <= high
    assert 0.91 <= hits / 400 <= 0.98


def test_clustered_resampling_widens_ci():
    rng = np.random.default_rng(9)
    clusters = np.repeat(np.arange(30), 10)  # whole clusters share their outcomes
    ref_c = np.repeat(rng.random(30) < 0.7, 10)
    cfg_c = np.repeat(rng.random(30) < 0.5, 10)
    cols = (np.where(ref_c, "correct", "incorrect"), ref_c, np.where(cfg_c, "correct", "incorrect"), cfg_c)
    plain = paired_tax(*cols, n_boot=2000, seed=0).tax_ci
    clustered = paired_tax(*cols, clusters=clusters, n_boot=2000, seed=0).tax_ci
    assert clustered[1] - clustered[0] > 2 * (plain[1] - plain[0])


def test_no_pair_attempted_gives_no_gap():
    refused = np.array(["refused", "refused"])
    r = paired_tax(refused, [False, False], np.array(["correct", "refused"]), [True, False], n_boot=50)
    assert r.refusal_excluded_gap is None and r.refusal_excluded_gap_ci is None
    assert r.n_excluded_pairs == 2 and r.tax == -50


def test_bad_inputs():
    with pytest.raises(ValueError, match="aligned"):
        paired_tax(["correct"], [True], ["correct", "correct"], [True, True])
    with pytest.raises(ValueError, match="refused"):
        paired_tax(["refused"], [True], ["correct"], [True])
    with pytest.raises(AltaxError, match="n_boot"):
        paired_tax(["correct"], [True], ["correct"], [True], n_boot=0)


def test_macro_tax_is_mean_of_category_taxes():
    _, ref_c, _, cfg_c = _columns(TABLE)
    strata = np.array(["math"] * 6 + ["code"] * 4)
    m = macro_tax(ref_c, cfg_c, strata, n_boot=2000, seed=0)
    # math: 4/6 - 3/6 = 16.67 pp; code: 3/4 - 1/4 = 50 pp; macro = 33.33 pp
    assert m.n_categories == 2
    assert m.tax == pytest.approx((100 / 6 + 50) / 2)
    assert m.tax_ci[0] <= m.tax <= m.tax_ci[1]
