"""Paired tax, its decomposition and the paired bootstrap."""

import numpy as np
import pytest
from scipy import stats

from alignment_tax.analysis.paired import paired_tax
from alignment_tax.errors import AltaxError
from alignment_tax.records import OUTCOMES

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
    assert (r := result).mcnemar.losses == 5 and r.mcnemar.gains == 2 and r.tax_df == 9
    for name in ("tax", "refusal_driven", "capability_loss", "gains", "refusal_excluded_gap"):
        low, high = getattr(result, f"{name}_ci")
        assert low <= getattr(result, name) <= high


def test_same_seed_same_numbers_and_identical_configs_have_zero_tax():
    cols = _columns(TABLE)
    assert paired_tax(*cols, seed=3) == paired_tax(*cols, seed=3)
    same = paired_tax(cols[0], cols[1], cols[0], cols[1], n_boot=200)
    assert same.tax == 0 and same.tax_boot_ci == (0.0, 0.0) and same.tax_se == 0
    assert same.tax_ci == pytest.approx((-2.262 * 10, 2.262 * 10), abs=0.01)  # t_9 times the 1/n floor


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
    assert ours.tax_boot_ci == pytest.approx((low, high), abs=0.5)


def test_clustered_resampling_widens_ci():
    rng = np.random.default_rng(9)
    clusters = np.repeat(np.arange(30), 10)  # whole clusters share their outcomes
    ref_c = np.repeat(rng.random(30) < 0.7, 10)
    cfg_c = np.repeat(rng.random(30) < 0.5, 10)
    cols = (np.where(ref_c, "correct", "incorrect"), ref_c, np.where(cfg_c, "correct", "incorrect"), cfg_c)
    plain = paired_tax(*cols, n_boot=2000, seed=0)
    clustered = paired_tax(*cols, clusters=clusters, n_boot=2000, seed=0)
    for field in ("tax_ci", "tax_boot_ci"):
        (low, high), (c_low, c_high) = getattr(plain, field), getattr(clustered, field)
        assert c_high - c_low > 2 * (high - low)
    assert (clustered.n_clusters, clustered.tax_df) == (30, 29)


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


def test_k_samples_average_per_item_and_decomposition_still_adds_up():
    rng = np.random.default_rng(4)
    for _ in range(200):
        n, k = int(rng.integers(1, 30)), int(rng.integers(2, 5))
        cols = [c.reshape(n, k) for c in _random_table(rng, n * k)]
        r = paired_tax(*cols, n_boot=1, seed=0)
        assert (r.pairs, r.sampling.k) == (n * k * k, k)
        assert r.tax == pytest.approx(r.refusal_driven + r.capability_loss - r.gains, abs=1e-9)
        assert r.tax == pytest.approx(100 * (cols[1].mean() - cols[3].mean()), abs=1e-9)
        assert sum(map(sum, (row.values() for row in r.table.values()))) == r.pairs


def test_k_samples_report_variance_reduction():
    rng = np.random.default_rng(6)
    p_ref, p_cfg = rng.random((200, 1)), rng.random((200, 1))  # per-item success probabilities
    ref, cfg = rng.random((200, 8)) < p_ref, rng.random((200, 8)) < p_cfg
    cols = (np.where(ref, "correct", "incorrect"), ref, np.where(cfg, "correct", "incorrect"), cfg)
    r = paired_tax(*cols, n_boot=10)
    assert 0.2 < r.sampling.variance_reduction < 0.9
    assert r.sampling.se_one_sample > r.tax_se
    one = paired_tax(*(c[:, 0] for c in cols), n_boot=10)
    assert one.sampling is None and one.tax_se > r.tax_se


def test_outcome_table_counts_pairs():
    r = paired_tax(*_columns(TABLE), n_boot=10)
    assert r.table["correct"]["refused"] == 2 and r.table["refused"]["correct"] == 1
    assert r.table["correct"]["partial"] == 2 and r.pairs == 10
