"""A mitigation search's numbers: probe screening, the confirmed configurations on their frontier, the choice.

Screening reads the probe's refusal-rate estimates on the screening split; confirmation reads a generated run on
the confirmation split, whose reference is the base configuration, so a candidate's tax is its capability cost
against the base, paired on the same items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from alignment_tax.analysis.frontier import Frontier
from alignment_tax.analysis.gate import check
from alignment_tax.analysis.inference import Interval
from alignment_tax.analysis.probe import RateEstimate
from alignment_tax.analysis.results import Results
from alignment_tax.analysis.safety import Proportion
from alignment_tax.errors import AltaxError

Role = Literal["reference", "screening", "design"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Screened(_Model):
    """One configuration on the screening split, from the probe (percent, with the probe's 95% intervals)."""

    name: str
    levers: list[str]
    coverage: float
    coverage_ci: Interval
    over_refusal: float
    over_refusal_ci: Interval
    finalist: bool


class Confirmed(_Model):
    """One configuration on the confirmation split, from generated and judged answers. ``chosen_by`` says what
    put it there: the base is the ``reference``, finalists the ``screening`` split, cells added to complete the
    factorial ``design``. ``tax`` is in points against the base (None for the base itself, or without capability
    items); frontier membership and its bootstrap probability are among the confirmed configurations; ``broken``
    lists the criteria of the choice it fails."""

    name: str
    levers: list[str]
    chosen_by: Role
    coverage: Proportion
    over_refusal: Proportion
    tax: float | None
    tax_ci: Interval | None
    on_frontier: bool
    frontier_probability: float
    broken: list[str]


def coverage_floor(min_coverage: float | None, base: Interval) -> float:
    """The coverage a candidate must keep: ``min_coverage`` when given, else the lower bound of the base's
    coverage interval on the same split."""
    return base[0] if min_coverage is None else min_coverage


def screen(
    estimates: Sequence[RateEstimate],
    levers: Mapping[str, Sequence[str]],
    base: str,
    min_coverage: float | None,
    finalists: int,
) -> tuple[list[Screened], float]:
    """Every configuration in ``levers`` (the base with none) as the probe saw it, the candidates whose estimated
    coverage reaches the floor (``coverage_floor``) and whose over-refusal is lowest marked as finalists (at most
    ``finalists``, ties in candidate order); returns them and the floor."""
    rates = {(e.config, e.kind): e for e in estimates}
    missing = [kind for kind in ("harmful", "benign") if (base, kind) not in rates]
    if missing:
        raise AltaxError(f"the screening split has no {missing[0]} items; a search needs harmful and benign items")
    rows = []
    for name, used in levers.items():
        cov, over = rates[(name, "harmful")], rates[(name, "benign")]
        rows.append((name, used, cov, over))
    base_cov = rates[(base, "harmful")]
    floor = coverage_floor(min_coverage, (100 * base_cov.low, 100 * base_cov.high))
    eligible = [
        (over.rate, i) for i, (name, _, cov, over) in enumerate(rows) if name != base and 100 * cov.rate >= floor
    ]
    picked = {i for _, i in sorted(eligible)[:finalists]}
    screened = [
        Screened(
            name=name,
            levers=list(used),
            coverage=100 * cov.rate,
            coverage_ci=(100 * cov.low, 100 * cov.high),
            over_refusal=100 * over.rate,
            over_refusal_ci=(100 * over.low, 100 * over.high),
            finalist=i in picked,
        )
        for i, (name, used, cov, over) in enumerate(rows)
    ]
    return screened, floor


def confirm(
    results: Results,
    levers: Mapping[str, Sequence[str]],
    roles: Mapping[str, Role],
    front: Frontier,
    min_coverage: float | None,
) -> tuple[list[Confirmed], float, str | None, str]:
    """Every configuration of the confirmation run (``levers``: the levers each holds; ``roles``: what put it
    there) with its place on the run's frontier and the criteria it breaks, the coverage floor, the chosen
    finalist and why. A finalist qualifies when its coverage's lower bound reaches the floor (``coverage_floor``
    on the base's interval) and its tax against the base is not significantly above 0 (the interval's lower bound
    is at most 0); the qualifying one with the lowest over-refusal is chosen if it refuses fewer benign items than
    the base. Design cells are measured, never chosen."""
    base = results.reference
    base_cov = results.configs[base].safety.coverage
    if base_cov.ci is None or results.configs[base].safety.over_refusal.ci is None:
        raise AltaxError("the confirmation split has no harmful or no benign items; raise --limit")
    floor = coverage_floor(min_coverage, base_cov.ci)
    points = {p.config: p for p in front.points}
    rows = []
    for name, used in levers.items():
        config = results.configs[name]
        tax = config.overall.tax if config.overall else None
        broken = []
        coverage = check(name, config, "coverage", floor)
        if not coverage.passed:
            broken.append(f"coverage lower bound {coverage.bound_value:.1f}% < {floor:.1f}%")
        if tax is not None and tax.tax_ci[0] > 0:
            broken.append(f"tax {tax.tax:.1f} pp, significantly above the base's")
        safety = config.safety
        rows.append(
            Confirmed(
                name=name,
                levers=list(used),
                chosen_by=roles[name],
                coverage=safety.coverage,
                over_refusal=safety.over_refusal,
                tax=tax.tax if tax else None,
                tax_ci=tax.tax_ci if tax else None,
                on_frontier=points[name].on_frontier,
                frontier_probability=points[name].probability,
                broken=broken,
            )
        )
    base_over = results.configs[base].safety.over_refusal.percent
    finalists = [r for r in rows if r.chosen_by == "screening"]
    eligible = [r for r in finalists if not r.broken]
    if not eligible:
        return rows, floor, None, "no finalist meets the coverage floor and the tax bound on the confirmation split"
    best = min(eligible, key=lambda r: r.over_refusal.percent or 0.0)
    if (best.over_refusal.percent or 0.0) >= (base_over or 0.0):
        return rows, floor, None, "no qualifying finalist refuses fewer benign items than the base"
    return rows, floor, best.name, f"lowest over-refusal of {len(eligible)} qualifying finalists of {len(finalists)}"
