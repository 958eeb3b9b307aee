"""The Wilson score interval of a proportion, the one interval every stage gives a share (safety coverage and
over-refusal, detector audits, probe refusal rates)."""

from __future__ import annotations

from math import sqrt
from statistics import NormalDist


def wilson_interval(count: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``count`` successes of ``n``, as proportions in [0, 1]."""
    if n <= 0 or not 0 <= count <= n:
        raise ValueError(f"need 0 <= count <= n and n > 0, got count={count}, n={n}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = count / n
    scale = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / scale
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / scale
    return max(0.0, centre - half), min(1.0, centre + half)
