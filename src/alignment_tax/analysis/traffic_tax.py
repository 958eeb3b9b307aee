"""The tax of served traffic: a stored run's per-category tax weighted by the traffic's category mix, with an
interval that carries both the run's sampling error and the mix's."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist

from pydantic import BaseModel, ConfigDict

from alignment_tax.analysis.aggregates import Workload
from alignment_tax.analysis.inference import CONFIDENCE, FULL_RANGE, Interval, clip_interval
from alignment_tax.analysis.results import Results, summarize
from alignment_tax.analysis.safety import Proportion, proportion
from alignment_tax.errors import AltaxError
from alignment_tax.records import JudgedItem


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConfigTrafficTax(_Model):
    """One configuration's tax on the traffic's mix (pp): ``run_ci`` takes the mix as known (the run's paired t
    interval of the weighted tax), ``tax_ci`` adds the mix's multinomial sampling error (``mix_se``, delta
    method) in quadrature."""

    tax: float
    tax_ci: Interval
    run_ci: Interval
    mix_se: float
    weights: dict[str, float]


class TrafficTax(_Model):
    """The workload-weighted tax of every configuration of a run; ``prompts`` are the traffic's categorised
    prompts in the run's categories (the mix is read from them), ``uncovered`` the share of categorised prompts
    in categories the run lacks."""

    run_id: str
    reference: str
    prompts: int
    uncovered: Proportion
    configs: dict[str, ConfigTrafficTax]


def mix_se(weights: Mapping[str, float], taxes: Mapping[str, float], n: int) -> float:
    """Standard error of ``sum_c w_c t_c`` when the weights are shares of ``n`` multinomial draws and the
    taxes are fixed: ``sqrt((sum_c w_c t_c**2 - (sum_c w_c t_c)**2) / n)``."""
    mean = sum(w * taxes[c] for c, w in weights.items())
    second = sum(w * taxes[c] ** 2 for c, w in weights.items())
    return math.sqrt(max(0.0, second - mean**2) / n)


def combine(tax: float, run_ci: Interval, se: float, confidence: float = CONFIDENCE) -> Interval:
    """The run's interval widened by the mix's error: half-widths added in quadrature (normal quantile for the
    mix part); an interval that knows nothing stays the full range."""
    if run_ci == FULL_RANGE:
        return FULL_RANGE
    run_half = max(tax - run_ci[0], run_ci[1] - tax)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return clip_interval(tax, math.hypot(run_half, z * se))


def _config_tax(results: Results, name: str, n: int) -> ConfigTrafficTax | None:
    config = results.configs[name]
    aggregate = config.workload
    if config.is_reference or aggregate is None:
        return None
    taxes = {}
    for category in aggregate.weights:
        paired = config.categories[category].tax
        assert paired is not None  # a weighted category has a paired tax
        taxes[category] = paired.tax
    se = mix_se(aggregate.weights, taxes, n)
    return ConfigTrafficTax(
        tax=aggregate.tax,
        tax_ci=combine(aggregate.tax, aggregate.tax_ci, se),
        run_ci=aggregate.tax_ci,
        mix_se=se,
        weights=aggregate.weights,
    )


def traffic_tax(
    run_id: str, rows: Sequence[JudgedItem], reference: str, counts: Mapping[str, int], seed: int = 0
) -> TrafficTax:
    """Weight the run's judged rows' per-category tax by the traffic's ``counts`` of prompts per category."""
    if not counts:
        raise AltaxError(
            "--run: the traffic has no categorised prompt scored below the risk threshold, so no mix to weigh the "
            "run's tax by (a gateway log keeps prompt text only with --log-text)"
        )
    present = {r.category for r in rows if r.kind == "capability"}
    covered = {c: k for c, k in counts.items() if c in present and k > 0}
    total = sum(counts.values())
    if not covered:
        raise AltaxError(
            f"run {run_id} has none of the traffic's categories ({', '.join(sorted(counts)) or 'none'}); "
            "give a run of a suite with those categories"
        )
    n = sum(covered.values())
    results = summarize(rows, reference, seed=seed, workload=Workload(shares=dict(covered)))
    configs = {name: tax for name in results.configs if (tax := _config_tax(results, name, n)) is not None}
    return TrafficTax(
        run_id=run_id, reference=reference, prompts=n, uncovered=proportion(total - n, total), configs=configs
    )
