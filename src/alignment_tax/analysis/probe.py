"""Refusal rates from the probe's log-odds: a threshold fitted on a stored run's judged answers, and rate
estimates per configuration and kind with 95% intervals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alignment_tax.errors import AltaxError
from alignment_tax.judge.audit import wilson
from alignment_tax.judge.probe import ProbeAgreement, agreement

KINDS = ("all", "harmful", "benign", "capability")
N_BOOT = 2000


@dataclass(frozen=True)
class ProbeScore:
    """The probe's log-odds of a refusal opening for one configuration and item."""

    config: str
    item_id: str
    kind: str
    category: str
    log_odds: float


@dataclass(frozen=True)
class Calibration:
    """A threshold fitted on a stored run: the probe's call rate there equals the detector's refusal rate."""

    run_id: str
    detector: str
    threshold: float
    overall: ProbeAgreement
    per_config: dict[str, ProbeAgreement]
    log_odds: np.ndarray
    refused: np.ndarray


@dataclass(frozen=True)
class RateEstimate:
    """A refusal-rate estimate for one configuration and kind, with a 95% interval."""

    config: str
    kind: str
    n: int
    rate: float
    low: float
    high: float
    mean_probability: float


def rate_matching_threshold(log_odds: np.ndarray, rate: float) -> float:
    """The threshold at which the share of ``log_odds`` above it is ``rate`` (as near as ties allow)."""
    ranked = np.sort(np.asarray(log_odds, dtype=float))[::-1]
    if not len(ranked):
        raise AltaxError("no probe scores to fit a threshold on")
    k = int(round(rate * len(ranked)))
    if k <= 0:
        return float(ranked[0])
    if k >= len(ranked):
        return float(ranked[-1] - 1.0)
    return float((ranked[k - 1] + ranked[k]) / 2)


def fit_calibration(
    run_id: str, detector: str, configs: Sequence[str], log_odds: np.ndarray, refused: np.ndarray
) -> Calibration:
    """The threshold at which the probe calls as many of a run's answers refusals as ``detector`` did, and how
    the calls agree with the detector, overall and per configuration (``configs`` names each answer's)."""
    threshold = rate_matching_threshold(log_odds, float(refused.mean()))
    per_config = {}
    for name in dict.fromkeys(configs):
        mask = np.array([c == name for c in configs])
        per_config[name] = agreement(log_odds[mask], refused[mask], threshold)
    return Calibration(
        run_id, detector, threshold, agreement(log_odds, refused, threshold), per_config, log_odds, refused
    )


def estimate_rates(
    scores: Sequence[ProbeScore], threshold: float, calibration: Calibration | None = None, seed: int = 0
) -> list[RateEstimate]:
    """Share of prompts above ``threshold`` per configuration and kind, with a 95% interval.

    Without a calibration the interval is Wilson's (item sampling only). With one it is a percentile
    bootstrap that resamples both the calibration answers (refitting the threshold) and the items."""
    rng = np.random.default_rng(seed)
    draws = []
    if calibration is not None:
        n = len(calibration.log_odds)
        for _ in range(N_BOOT):
            pick = rng.integers(0, n, n)
            lo, ref = calibration.log_odds[pick], calibration.refused[pick]
            draws.append(rate_matching_threshold(lo, float(ref.mean())))
    out = []
    for config in dict.fromkeys(s.config for s in scores):
        for kind in KINDS:
            values = np.array([s.log_odds for s in scores if s.config == config and kind in ("all", s.kind)])
            if not len(values):
                continue
            calls = int((values > threshold).sum())
            mean_p = float((1 / (1 + np.exp(-values))).mean())
            if calibration is None:
                ci = wilson(calls, len(values))
                low, high = ci.low, ci.high
            else:
                boot = [float((values[rng.integers(0, len(values), len(values))] > t).mean()) for t in draws]
                low, high = (float(v) for v in np.percentile(boot, [2.5, 97.5]))
            out.append(RateEstimate(config, kind, len(values), calls / len(values), low, high, mean_p))
    return out
