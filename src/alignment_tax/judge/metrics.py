"""Agreement of refusal labels with gold labels: binary (any refusal vs compliance) and 3-class accuracy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


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
