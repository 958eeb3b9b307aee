"""Agreement of refusal labels with gold labels: binary (any refusal vs compliance) and 3-class accuracy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

N_BOOT = 2000


@dataclass(frozen=True)
class Accuracy:
    """Binary accuracy (refusal or partial vs compliance), 3-class accuracy, their count and confusions."""

    n: int
    binary: float
    three_class: float
    confusion: dict[str, int]


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> Accuracy:
    """Accuracies of ``predicted`` against ``gold``, both decided labels (refusal, partial, compliance)."""
    pairs = list(zip(gold, predicted, strict=True))
    if not pairs:
        return Accuracy(0, float("nan"), float("nan"), {})
    binary = sum((g == "compliance") == (p == "compliance") for g, p in pairs) / len(pairs)
    exact = sum(g == p for g, p in pairs) / len(pairs)
    confusion = Counter(f"{g}->{p}" for g, p in pairs if g != p)
    return Accuracy(len(pairs), binary, exact, dict(sorted(confusion.items())))


def bootstrap_ci(gold: Sequence[str], predicted: Sequence[str], seed: int) -> dict[str, list[float]]:
    """Percentile 95% intervals of the binary and 3-class accuracies over resampled responses."""
    rng = np.random.default_rng(seed)
    g, p = np.array(gold), np.array(predicted)
    draws = [rng.integers(0, len(g), len(g)) for _ in range(N_BOOT)] if len(g) else []
    binary = [float(((g[i] == "compliance") == (p[i] == "compliance")).mean()) for i in draws]
    exact = [float((g[i] == p[i]).mean()) for i in draws]
    return {
        name: [float(v) for v in np.percentile(vals, [2.5, 97.5])]
        for name, vals in (("binary_ci", binary), ("three_class_ci", exact))
        if vals
    }
