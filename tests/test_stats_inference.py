"""Inference primitives agree with statsmodels and scipy: clustered SE, McNemar, Benjamini-Hochberg."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from alignment_tax.analysis.inference import (
    benjamini_hochberg,
    clustered_se,
    mcnemar_exact,
    t_half_width,
)
from alignment_tax.analysis.paired import paired_tax


@pytest.mark.parametrize("seed", range(5))
def test_clustered_se_matches_statsmodels_ols(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    diff = rng.integers(-1, 2, size=n).astype(float)
    groups = rng.integers(0, int(rng.integers(3, 30)), size=n)
    ones = np.ones(n)
    fit = sm.OLS(diff, ones).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    mean, se, g = clustered_se(diff, groups)
    assert mean == pytest.approx(fit.params[0]) and se == pytest.approx(fit.bse[0], rel=1e-10)
    assert g - 1 == fit.df_resid_inference
    plain = sm.OLS(diff, ones).fit()
    assert clustered_se(diff)[1] == pytest.approx(plain.bse[0], rel=1e-10)  # one item per cluster: paired SE


def test_t_interval_without_floor_matches_statsmodels():
    rng = np.random.default_rng(3)
    diff = rng.integers(-1, 2, size=120).astype(float)
    groups = np.repeat(np.arange(24), 5)
    fit = sm.OLS(diff, np.ones(120)).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    mean, se, g = clustered_se(diff, groups)
    half = t_half_width(se, g - 1, np.inf)  # an infinite n removes the 1/n**2 floor
    assert (mean - half, mean + half) == pytest.approx(tuple(fit.conf_int()[0]), rel=1e-10)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (0, 5), (3, 9), (10, 10), (17, 4), (120, 95), (1, 60)])
def test_mcnemar_matches_statsmodels(b, c):
    table = [[40, b], [c, 25]]
    assert mcnemar_exact(b, c) == pytest.approx(mcnemar(table, exact=True).pvalue, abs=1e-12)


def test_paired_tax_mcnemar_counts_discordant_pairs():
    rng = np.random.default_rng(5)
    ref, cfg = rng.random(150) < 0.7, rng.random(150) < 0.55
    result = paired_tax(np.where(ref, "correct", "incorrect"), ref, np.where(cfg, "correct", "incorrect"), cfg)
    b, c = int((ref & ~cfg).sum()), int((~ref & cfg).sum())
    assert (result.mcnemar.losses, result.mcnemar.gains) == (b, c)
    table = [[int((ref & cfg).sum()), b], [c, int((~ref & ~cfg).sum())]]
    assert result.mcnemar.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_benjamini_hochberg_matches_statsmodels(seed):
    p = np.random.default_rng(seed).random(int(3 + seed * 4)) ** 3
    assert benjamini_hochberg(p) == pytest.approx(multipletests(p, method="fdr_bh")[1], abs=1e-12)


def test_paired_t_interval_matches_scipy_ttest():
    rng = np.random.default_rng(8)
    ref, cfg = rng.random(300) < 0.6, rng.random(300) < 0.5
    diff = ref.astype(float) - cfg
    mean, se, g = clustered_se(diff)
    ttest = stats.ttest_rel(ref.astype(float), cfg.astype(float))
    assert mean / se == pytest.approx(ttest.statistic, rel=1e-10) and g - 1 == ttest.df
