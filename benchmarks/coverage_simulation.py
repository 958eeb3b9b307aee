"""The longer coverage simulation: 95% intervals of the analysis module over many seeds and settings."""

from __future__ import annotations

import argparse

import numpy as np

from alignment_tax.analysis.adaptive import looks, stop_now
from alignment_tax.analysis.inference import clustered_se, resample_sums, t_half_width


def paired(rng: np.random.Generator, loss: float, gain: float, n: int, datasets: int) -> np.ndarray:
    u = rng.random((n, datasets))
    return (u < loss).astype(float) - ((u >= loss) & (u < loss + gain))


TRUTH_CLUSTERED = 1 / 6 - 1 / 10
"""The true tax of ``clustered`` data: mean loss rate minus mean gain rate."""


def clustered(rng: np.random.Generator, groups: int, size: int, datasets: int) -> tuple[np.ndarray, float, np.ndarray]:
    loss = 0.5 * rng.beta(0.6, 1.2, size=(groups, 1, datasets))
    gain = 0.5 * rng.beta(0.4, 1.6, size=(groups, 1, datasets))
    u = rng.random((groups, size, datasets))
    diffs = (u < loss).astype(float) - ((u >= loss) & (u < loss + gain))
    return diffs.reshape(groups * size, datasets), TRUTH_CLUSTERED, np.repeat(np.arange(groups), size)


def t_cover(diffs: np.ndarray, truth: float, clusters: np.ndarray | None = None) -> float:
    mean, se, g = clustered_se(diffs, clusters)
    return float(np.mean(np.abs(mean - truth) <= t_half_width(se, g - 1, len(diffs))))


def boot_cover(diffs: np.ndarray, truth: float, clusters: np.ndarray | None = None, *, rng) -> float:
    low, high = np.percentile(resample_sums(diffs, 1000, rng, clusters) / len(diffs), [2.5, 97.5], axis=0)
    return float(np.mean((low <= truth) & (truth <= high)))


def adaptive_cover(rng, loss: float, gain: float, target: float, datasets: int, suite: int = 3000) -> float:
    diffs = paired(rng, loss, gain, suite, datasets)
    covered, stopped = np.zeros(datasets, bool), np.zeros(datasets, bool)
    for n in looks(suite, 50):
        mean, se, g = clustered_se(diffs[:n])
        half = t_half_width(se, g - 1, n)
        now = ~stopped & (stop_now(100 * half, (diffs[:n] != 0).sum(axis=0), 100 * target) | (n == suite))
        covered[now] = np.abs(mean[now] - (loss - gain)) <= half[now]
        stopped |= now
    return float(covered.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--datasets", type=int, default=2000)
    args = parser.parse_args()
    checks = {
        "paired t, n=300, 15%/7%": lambda r: t_cover(paired(r, 0.15, 0.07, 300, args.datasets), 0.08),
        "paired t, n=100, 30%/10%": lambda r: t_cover(paired(r, 0.3, 0.1, 100, args.datasets), 0.2),
        "paired t, n=800, 3%/1%": lambda r: t_cover(paired(r, 0.03, 0.01, 800, args.datasets), 0.02),
        "paired bootstrap, n=300": lambda r: boot_cover(paired(r, 0.15, 0.07, 300, args.datasets), 0.08, rng=r),
        "clustered t, 40x8": lambda r: t_cover(*clustered(r, 40, 8, args.datasets)),
        "clustered t, 15x20": lambda r: t_cover(*clustered(r, 15, 20, args.datasets)),
        "item t on 40x8 clusters": lambda r: t_cover(*clustered(r, 40, 8, args.datasets)[:2]),
        "cluster bootstrap, 120x5": lambda r: boot_cover(*clustered(r, 120, 5, args.datasets), rng=r),
        "adaptive W=4, 15%/7%": lambda r: adaptive_cover(r, 0.15, 0.07, 0.04, args.datasets),
        "adaptive W=2.5, 8%/4%": lambda r: adaptive_cover(r, 0.08, 0.04, 0.025, args.datasets),
        "adaptive W=3, 30%/10%": lambda r: adaptive_cover(r, 0.3, 0.1, 0.03, args.datasets),
        "adaptive W=2, 3%/1%": lambda r: adaptive_cover(r, 0.03, 0.01, 0.02, args.datasets),
    }
    print(f"{'check':<28} {'mean':>7} {'min':>7} {'max':>7}   ({args.seeds} seeds x {args.datasets} datasets)")
    for name, check in checks.items():
        values = [check(np.random.default_rng(seed)) for seed in range(args.seeds)]
        print(f"{name:<28} {np.mean(values):7.1%} {np.min(values):7.1%} {np.max(values):7.1%}")


if __name__ == "__main__":
    main()
