"""Refusals in served traffic: rates overall, per category, configuration and time window, the over-trigger share,
the guardrail's switch-on rate, and drift between windows and against a baseline, with 95% intervals."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Literal

from pydantic import BaseModel, ConfigDict

from alignment_tax.analysis.inference import CONFIDENCE, Interval, benjamini_hochberg
from alignment_tax.analysis.safety import Proportion, proportion
from alignment_tax.proportions import wilson_interval

ALPHA = 1 - CONFIDENCE
"""A drift is flagged when its Benjamini-Hochberg adjusted p-value is below this."""


@dataclass(frozen=True)
class Observation:
    """One judged request: when, which configuration, its refusal label (None: no verdict), the router's risk
    score of its prompt (None: not scored), whether the guardrail was on (None: the log does not say) and the
    prompt's category (None: no prompt text)."""

    time: float | None
    config: str | None
    verdict: str | None
    risk: float | None
    guarded: bool | None
    category: str | None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Slice(_Model):
    """A set of requests: how many, refusals and partial refusals among those with a verdict, the over-trigger
    share (refusals of prompts scored below the threshold, among scored refusals), the guardrail's switch-on
    rate (where the log says) and the share of prompts scored at or above the threshold."""

    lines: int
    refusal: Proportion
    partial: Proportion
    over_trigger: Proportion
    guardrail: Proportion
    risky: Proportion


class Window(Slice):
    """The requests of one time window ``[start, end)`` (Unix seconds)."""

    start: float
    end: float


class Drift(_Model):
    """A two-proportion z test (pooled) of the refusal rate of ``current`` against ``earlier``; ``change`` is
    the difference in points with Newcombe's hybrid score interval; ``flagged`` when the Benjamini-Hochberg
    adjusted p-value over every drift test of the report is below ``ALPHA``."""

    kind: Literal["consecutive", "baseline"]
    scope: str
    earlier: str
    current: str
    earlier_rate: Proportion
    current_rate: Proportion
    change: float
    change_ci: Interval
    z: float
    p_value: float
    p_adjusted: float
    flagged: bool


class TrafficStats(_Model):
    """What ``altax monitor`` reports of the traffic."""

    threshold: float
    window_s: float | None
    overall: Slice
    mix: dict[str, Proportion]
    categories: dict[str, Slice]
    configs: dict[str, Slice]
    windows: list[Window]
    baseline: Slice | None
    drift: list[Drift]


def two_proportion_z(count_a: int, n_a: int, count_b: int, n_b: int) -> tuple[float, float]:
    """(z, two-sided p) of the pooled two-proportion z test of b's rate against a's; (0, 1) when the pooled rate
    is 0 or 1 (no evidence either way)."""
    pooled = (count_a + count_b) / (n_a + n_b)
    variance = pooled * (1 - pooled) * (1 / n_a + 1 / n_b)
    if variance <= 0:
        return 0.0, 1.0
    z = (count_b / n_b - count_a / n_a) / math.sqrt(variance)
    return z, 2 * NormalDist().cdf(-abs(z))


def newcombe_interval(count_a: int, n_a: int, count_b: int, n_b: int) -> Interval:
    """Newcombe's hybrid score interval (his method 10) of ``p_b - p_a`` from the two Wilson intervals."""
    p_a, p_b = count_a / n_a, count_b / n_b
    low_a, high_a = wilson_interval(count_a, n_a)
    low_b, high_b = wilson_interval(count_b, n_b)
    diff = p_b - p_a
    return diff - math.hypot(p_b - low_b, high_a - p_a), diff + math.hypot(high_b - p_b, p_a - low_a)


def summarize_slice(rows: Sequence[Observation], threshold: float) -> Slice:
    """The rates of one set of requests."""
    judged = [r for r in rows if r.verdict is not None]
    refused = [r for r in judged if r.verdict == "refusal"]
    refused_risks = [r.risk for r in refused if r.risk is not None]
    risks = [r.risk for r in rows if r.risk is not None]
    guards = [r.guarded for r in rows if r.guarded is not None]
    return Slice(
        lines=len(rows),
        refusal=proportion(len(refused), len(judged)),
        partial=proportion(sum(r.verdict == "partial" for r in judged), len(judged)),
        over_trigger=proportion(sum(risk < threshold for risk in refused_risks), len(refused_risks)),
        guardrail=proportion(sum(guards), len(guards)),
        risky=proportion(sum(risk >= threshold for risk in risks), len(risks)),
    )


def _groups(rows: Sequence[Observation], key: Callable[[Observation], str | None]) -> dict[str, list[Observation]]:
    groups: dict[str, list[Observation]] = {}
    for row in rows:
        value = key(row)
        if value is not None:
            groups.setdefault(value, []).append(row)
    return groups


def window_label(start: float) -> str:
    """A window's start as UTC ``YYYY-MM-DD HH:MM``."""
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M")


def windows(rows: Sequence[Observation], window_s: float, threshold: float) -> list[Window]:
    """The windows holding requests, in time order; window k covers ``[k * window_s, (k + 1) * window_s)`` of
    Unix time (UTC-aligned). Requests without a time are in no window."""
    by_index = _groups(rows, lambda r: None if r.time is None else str(math.floor(r.time / window_s)))
    out = []
    for index in sorted(by_index, key=int):
        start = int(index) * window_s
        out.append(
            Window(**summarize_slice(by_index[index], threshold).model_dump(), start=start, end=start + window_s)
        )
    return out


def _test(kind: str, scope: str, names: tuple[str, str], rates: tuple[Proportion, Proportion]) -> dict | None:
    """The fields of one drift test, or None when either side has no judged request."""
    (a, b) = rates
    if not a.n or not b.n:
        return None
    z, p = two_proportion_z(a.count, a.n, b.count, b.n)
    low, high = newcombe_interval(a.count, a.n, b.count, b.n)
    change = 100 * (b.count / b.n - a.count / a.n)
    return {
        "kind": kind,
        "scope": scope,
        "earlier": names[0],
        "current": names[1],
        "earlier_rate": a,
        "current_rate": b,
        "change": change,
        "change_ci": (100 * low, 100 * high),
        "z": z,
        "p_value": p,
    }


def drift_tests(
    spans: Sequence[Window], overall: Slice, categories: dict[str, Slice], baseline: TrafficStats | None
) -> list[Drift]:
    """Every window against the one before it; with a baseline, the whole traffic, every window and every
    category against the baseline's. One Benjamini-Hochberg family over all of them."""
    tests = [
        _test("consecutive", "window", (window_label(a.start), window_label(b.start)), (a.refusal, b.refusal))
        for a, b in zip(spans, spans[1:], strict=False)
    ]
    if baseline is not None:
        base = baseline.overall.refusal
        tests.append(_test("baseline", "overall", ("baseline", "traffic"), (base, overall.refusal)))
        tests += [_test("baseline", "window", ("baseline", window_label(w.start)), (base, w.refusal)) for w in spans]
        tests += [
            _test("baseline", "category", (f"baseline {c}", c), (baseline.categories[c].refusal, s.refusal))
            for c, s in categories.items()
            if c in baseline.categories
        ]
    done = [t for t in tests if t is not None]
    adjusted = benjamini_hochberg([t["p_value"] for t in done])
    return [Drift(**t, p_adjusted=float(p), flagged=bool(p < ALPHA)) for t, p in zip(done, adjusted, strict=True)]


def traffic_stats(
    rows: Sequence[Observation],
    threshold: float,
    window_s: float | None = None,
    baseline: Sequence[Observation] | None = None,
) -> TrafficStats:
    """Everything ``altax monitor`` reports of ``rows`` (windows only with ``window_s``; drift against a baseline
    only with ``baseline``)."""
    base = None if baseline is None else traffic_stats(baseline, threshold, window_s)
    overall = summarize_slice(rows, threshold)
    by_category = _groups(rows, lambda r: r.category)
    categories = {c: summarize_slice(by_category[c], threshold) for c in sorted(by_category)}
    typed = sum(len(v) for v in by_category.values())
    spans = windows(rows, window_s, threshold) if window_s else []
    return TrafficStats(
        threshold=threshold,
        window_s=window_s,
        overall=overall,
        mix={c: proportion(len(by_category[c]), typed) for c in categories},
        categories=categories,
        configs={c: summarize_slice(v, threshold) for c, v in sorted(_groups(rows, lambda r: r.config).items())},
        windows=spans,
        baseline=None if base is None else base.overall,
        drift=drift_tests(spans, overall, categories, base),
    )
