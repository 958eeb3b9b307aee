"""Simulated coverage: nominal 95% intervals cover a known true tax 93-97% of the time (plain, clustered,
bootstrap, and under the adaptive stopping rule). Vectorised over datasets; each test runs in about a second."""

import numpy as np
import pytest

from alignment_tax.analysis.adaptive import looks, stop_now
from alignment_tax.analysis.inference import clustered_se, resample_sums, t_half_width

DATASETS = 2000
SEED = 20240501


def _paired_diffs(rng, p_loss, p_gain, shape):
    """Per-item differences (reference minus configuration correct): +1 with p_loss, -1 with p_gain."""
    u = rng.random(shape)
    return (u < p_loss).astype(float) - ((u >= p_loss) & (u < p_loss + p_gain))


def _clustered_diffs(rng, n_clusters, size):
    """Items in clusters that share their loss and gain probabilities (strong within-cluster correlation)."""
    p_loss = 0.5 * rng.beta(0.6, 1.2, size=(n_clusters, 1, DATASETS))  # mean 1/6
    p_gain = 0.5 * rng.beta(0.4, 1.6, size=(n_clusters, 1, DATASETS))  # mean 1/10
    u = rng.random((n_clusters, size, DATASETS))
    diffs = (u < p_loss).astype(float) - ((u >= p_loss) & (u < p_loss + p_gain))
    return diffs.reshape(n_clusters * size, DATASETS), np.repeat(np.arange(n_clusters), size), 1 / 6 - 1 / 10


def _t_coverage(diffs, truth, clusters=None):
    mean, se, g = clustered_se(diffs, clusters)
    return float(np.mean(np.abs(mean - truth) <= t_half_width(se, g - 1, len(diffs))))


def _boot_coverage(diffs, truth, rng, clusters=None, n_boot=1000):
    draws = resample_sums(diffs, n_boot, rng, clusters) / len(diffs)  # n_boot x datasets (equal cluster sizes)
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    return float(np.mean((low <= truth) & (truth <= high)))


def test_plain_paired_t_interval_covers():
    rng = np.random.default_rng(SEED)
    diffs = _paired_diffs(rng, 0.15, 0.07, (300, DATASETS))
    assert 0.93 <= _t_coverage(diffs, 0.08) <= 0.97


def test_plain_paired_bootstrap_covers():
    rng = np.random.default_rng(SEED + 1)
    diffs = _paired_diffs(rng, 0.15, 0.07, (300, DATASETS))
    assert 0.93 <= _boot_coverage(diffs, 0.08, rng) <= 0.97


def test_clustered_t_interval_covers_where_the_plain_one_fails():
    rng = np.random.default_rng(SEED + 2)
    diffs, clusters, truth = _clustered_diffs(rng, 40, 8)
    assert 0.93 <= _t_coverage(diffs, truth, clusters) <= 0.97
    assert _t_coverage(diffs, truth) < 0.9  # ignoring the clusters is overconfident (about 85%)


def test_cluster_bootstrap_covers_with_many_clusters():
    rng = np.random.default_rng(SEED + 3)
    diffs, clusters, truth = _clustered_diffs(rng, 120, 5)
    assert 0.93 <= _boot_coverage(diffs, truth, rng, clusters) <= 0.97


@pytest.mark.parametrize(("p_loss", "p_gain", "target"), [(0.15, 0.07, 0.04), (0.08, 0.04, 0.025)])
def test_adaptive_stopping_rule_covers(p_loss, p_gain, target):
    rng = np.random.default_rng(SEED + 4)
    suite = 2500
    diffs = _paired_diffs(rng, p_loss, p_gain, (suite, DATASETS))
    covered = np.zeros(DATASETS, bool)
    stopped = np.zeros(DATASETS, bool)
    drawn = np.zeros(DATASETS)
    for n in looks(suite, 50):
        mean, se, g = clustered_se(diffs[:n])
        half = t_half_width(se, g - 1, n)
        discordant = (diffs[:n] != 0).sum(axis=0)
        now = ~stopped & (stop_now(100 * half, discordant, 100 * target) | (n == suite))
        covered[now] = np.abs(mean[now] - (p_loss - p_gain)) <= half[now]
        drawn[now] = n
        stopped |= now
    assert stopped.all() and drawn.std() > 0  # the rule stopped at different looks
    assert drawn.mean() < suite / 2  # and well before the suite ran out
    assert 0.93 <= covered.mean() <= 0.97
