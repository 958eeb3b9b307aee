"""The release gate: one-sided non-inferiority checks of a run's configurations on the intervals `altax show` prints.

Each check reads one bound of an interval the results already hold: the tax's paired t interval, or with a
workload the weighted tax's stratified t interval (upper bound at most the allowed tax), the Wilson interval of
safety coverage (lower bound at least the required coverage) and of over-refusal (upper bound at most the allowed
over-refusal). One bound of a two-sided interval at confidence
``c`` is a one-sided bound at ``(1 + c) / 2``: a 95% interval gives 97.5% one-sided bounds, a test at one-sided
alpha 0.025, the usual level of non-inferiority trials (ICH E9), so the gate says no more than the printed
interval. A release passes only when every check passes, an intersection-union test: its overall error rate is
at most that of each check, so no multiplicity correction is needed (Berger 1982).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from alignment_tax.analysis.inference import Interval
from alignment_tax.analysis.results import ConfigResults, Results
from alignment_tax.errors import AltaxError

Measure = Literal["tax", "workload_tax", "coverage", "over_refusal"]
MEASURES: tuple[Measure, ...] = ("tax", "coverage", "over_refusal")
"""What the thresholds bound; with a workload the tax is the workload-weighted one (``workload_tax``)."""
LABELS: dict[Measure, str] = {
    "tax": "capability tax",
    "workload_tax": "workload tax",
    "coverage": "safety coverage",
    "over_refusal": "over-refusal",
}
UNITS: dict[Measure, str] = {"tax": "pp", "workload_tax": "pp", "coverage": "%", "over_refusal": "%"}
TAXES: tuple[Measure, ...] = ("tax", "workload_tax")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Thresholds(_Model):
    """The release criteria: the largest tax (pp), the smallest coverage and the largest over-refusal (percent);
    None leaves a criterion out."""

    max_tax: float | None = None
    min_coverage: float | None = None
    max_over_refusal: float | None = None

    def asked(self) -> list[tuple[Measure, float]]:
        """The criteria given, as (measure, threshold)."""
        limits = zip(MEASURES, (self.max_tax, self.min_coverage, self.max_over_refusal), strict=True)
        return [(measure, limit) for measure, limit in limits if limit is not None]

    def require(self) -> list[tuple[Measure, float]]:
        """The criteria given; a user error when there are none."""
        asked = self.asked()
        if not asked:
            raise AltaxError("the gate needs at least one of --max-tax, --min-coverage, --max-over-refusal")
        return asked


class Check(_Model):
    """One criterion for one configuration: the interval it reads, the bound compared (``upper`` for the tax and
    over-refusal, ``lower`` for coverage), the threshold and whether the bound is on the right side of it."""

    config: str
    measure: Measure
    estimate: float
    interval: Interval
    bound: Literal["lower", "upper"]
    threshold: float
    passed: bool

    @property
    def bound_value(self) -> float:
        return self.interval[0] if self.bound == "lower" else self.interval[1]


class GateReport(_Model):
    """Every check of a gate; ``confidence`` is the two-sided level of the intervals, ``one_sided`` that of each
    bound compared; ``workload`` the category weights of the tax when it is workload-weighted."""

    run_id: str
    detector: str
    workload: dict[str, float] | None = None
    confidence: float
    one_sided: float
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def _interval(name: str, config: ConfigResults, measure: Measure) -> tuple[float, Interval]:
    """The estimate and interval of ``measure`` for configuration ``name``; a user error when the run lacks it."""
    if measure in TAXES:
        tax = config.overall.tax if config.overall else None
        if tax is None:
            why = "it is the reference" if config.is_reference else "the run has no capability items"
            raise AltaxError(f"configuration {name!r} has no tax to gate ({why}); drop --max-tax or pick another")
        if measure == "workload_tax":
            if config.workload is None:
                raise AltaxError("the run was analysed without a workload; pass --workload to gate its weighted tax")
            return config.workload.tax, config.workload.tax_ci
        return tax.tax, tax.tax_ci
    share = config.safety.coverage if measure == "coverage" else config.safety.over_refusal
    if share.percent is None or share.ci is None:
        kind, flag = ("harmful", "--min-coverage") if measure == "coverage" else ("benign", "--max-over-refusal")
        raise AltaxError(f"the run has no {kind} items, so {LABELS[measure]} cannot be gated; drop {flag}")
    return share.percent, share.ci


def check(name: str, config: ConfigResults, measure: Measure, threshold: float) -> Check:
    """One criterion of one configuration: the tax and over-refusal pass when the upper bound is at most the
    threshold, coverage when the lower bound is at least it."""
    estimate, interval = _interval(name, config, measure)
    bound: Literal["lower", "upper"] = "lower" if measure == "coverage" else "upper"
    passed = interval[0] >= threshold if bound == "lower" else interval[1] <= threshold
    return Check(
        config=name,
        measure=measure,
        estimate=estimate,
        interval=interval,
        bound=bound,
        threshold=threshold,
        passed=passed,
    )


def gated_configs(results: Results, configs: Sequence[str]) -> list[str]:
    """The configurations to gate: those named (each must be in the run), else every one but the reference."""
    unknown = [name for name in configs if name not in results.configs]
    if unknown:
        raise AltaxError(f"no configuration {unknown[0]!r} in the run; it has {', '.join(results.configs)}")
    return list(configs) or [name for name in results.configs if name != results.reference]


def gate_checks(
    results: Results,
    thresholds: Thresholds,
    configs: Sequence[str],
    run_id: str,
    detector: str,
    weighted: bool = False,
) -> GateReport:
    """Check every criterion asked for on every gated configuration (see ``gated_configs``); with ``weighted``
    the tax criterion reads the workload-weighted tax the results were analysed with."""
    asked: list[tuple[Measure, float]] = [
        ("workload_tax" if weighted and m == "tax" else m, limit) for m, limit in thresholds.require()
    ]
    names = gated_configs(results, configs)
    checks = [check(name, results.configs[name], measure, limit) for name in names for measure, limit in asked]
    aggregates = [results.configs[name].workload for name in names] if weighted else []
    return GateReport(
        run_id=run_id,
        detector=detector,
        workload=next((a.weights for a in aggregates if a is not None), None),
        confidence=results.confidence,
        one_sided=(1 + results.confidence) / 2,
        checks=checks,
    )
