"""Log-likelihood against generation accuracy on the same items: a second estimate of the refusal-driven tax.

A model cannot refuse a log-likelihood question, so what a configuration loses between scoring and
generating (refusals, plus format slips) shows in the gap. Against the reference, the generation tax
minus the log-likelihood tax estimates the refusal-driven tax without any refusal detector."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from alignment_tax.records import JudgedItem


@dataclass(frozen=True)
class LoglikRow:
    """One configuration over the multiple-choice items (accuracies and taxes in percent / points)."""

    config: str
    n: int
    loglik_accuracy: float
    generation_accuracy: float
    gap: float
    """log-likelihood accuracy minus generation accuracy."""
    refusal_rate: float
    generation_tax: float
    loglik_tax: float
    refusal_estimate: float
    """generation tax minus log-likelihood tax: the refusal-driven tax seen without a refusal detector."""
    refusal_estimate_ci: tuple[float, float]
    refusal_driven: float
    """the refusal-driven tax the judge measured (reference correct, configuration refused) on these items."""

    def to_dict(self) -> dict:
        return asdict(self)


def loglik_gap(
    loglik_correct: Mapping[tuple[str, str], bool],
    judged: Sequence[JudgedItem],
    reference: str,
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> list[LoglikRow]:
    """Per configuration, on the items scored by log-likelihood (``(config, item_id) -> correct``) that the
    reference also answered: both accuracies, their gap, and the two tax estimates with a paired bootstrap CI."""
    correct: dict[tuple[str, str], list[float]] = {}
    refused: dict[tuple[str, str], list[float]] = {}
    for row in judged:
        key = (row.config, row.item_id)
        if key in loglik_correct:
            correct.setdefault(key, []).append(float(row.correct))
            refused.setdefault(key, []).append(float(row.outcome == "refused"))
    configs = list(dict.fromkeys(config for config, _ in correct))
    items = dict.fromkeys(item for _, item in correct)
    shared = [i for i in items if all((c, i) in correct for c in configs)]
    if reference not in configs or not shared:
        return []

    def column(values: Mapping[tuple[str, str], bool | list[float]], config: str) -> np.ndarray:
        return np.array([np.mean(values[(config, i)]) for i in shared], dtype=float)

    ref_gen, ref_ll = column(correct, reference), column(loglik_correct, reference)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(shared), size=(n_boot, len(shared)))
    rows = []
    for config in configs:
        gen, ll, was_refused = column(correct, config), column(loglik_correct, config), column(refused, config)
        per_item = (ref_gen - gen) - (ref_ll - ll)
        boot = per_item[draws].mean(axis=1)
        rows.append(
            LoglikRow(
                config=config,
                n=len(shared),
                loglik_accuracy=100 * ll.mean(),
                generation_accuracy=100 * gen.mean(),
                gap=100 * (ll.mean() - gen.mean()),
                refusal_rate=100 * was_refused.mean(),
                generation_tax=100 * (ref_gen - gen).mean(),
                loglik_tax=100 * (ref_ll - ll).mean(),
                refusal_estimate=100 * per_item.mean(),
                refusal_estimate_ci=(float(100 * np.quantile(boot, 0.025)), float(100 * np.quantile(boot, 0.975))),
                refusal_driven=100 * (ref_gen * was_refused).mean(),
            )
        )
    return rows
