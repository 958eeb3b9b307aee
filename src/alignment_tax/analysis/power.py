"""Power and sample size of the paired comparison: items needed to detect a tax with McNemar's exact test."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats

from alignment_tax.analysis.results import Results
from alignment_tax.errors import AltaxError

MAX_ITEMS = 10_000_000


def _critical(n: int, alpha: float) -> np.ndarray:
    """For m = 0..n discordant pairs, the largest k with 2 * P[Bin(m, 1/2) <= k] <= alpha (-1 when none)."""
    m = np.arange(n + 1)
    k = stats.binom.ppf(alpha / 2, m, 0.5)
    return np.where(2 * stats.binom.cdf(k, m, 0.5) <= alpha, k, k - 1)


def _power(n: int, critical: np.ndarray, losses: float, gains: float) -> float:
    psi = losses + gains
    spread = 12 * np.sqrt(n * psi * (1 - psi)) + 1  # discordant counts beyond 12 sd carry no probability
    m = np.arange(max(0, int(n * psi - spread)), min(n, int(n * psi + spread)) + 1)
    k = critical[m]
    share = losses / (losses + gains)
    reject = np.where(k >= 0, stats.binom.cdf(k, m, share) + stats.binom.sf(m - k - 1, m, share), 0.0)
    return float(np.clip(stats.binom.pmf(m, n, psi) @ reject, 0.0, 1.0))


def mcnemar_power(n: int, loss_rate: float, gain_rate: float, alpha: float = 0.05) -> float:
    """Exact power of the two-sided exact McNemar test at level ``alpha`` with ``n`` pairs, when a pair is
    discordant against the configuration with probability ``loss_rate`` and in its favour with ``gain_rate``.

    The discordant count m is Binomial(n, loss + gain); given m, the losses are Binomial(m, loss / (loss +
    gain)), and the test rejects when the smaller side is at most the largest k with 2 * P[Bin(m, 1/2) <= k]
    <= alpha."""
    if n < 1 or loss_rate + gain_rate <= 0:
        return 0.0
    return _power(n, _critical(n, alpha), loss_rate, gain_rate)


def connor_items(tax: float, discordance: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """Connor's (1987) normal approximation to the pairs needed: ``((z_{a/2} sqrt(psi) + z_b sqrt(psi -
    D**2)) / D)**2`` for a tax D and a discordance rate psi (both as fractions)."""
    z_alpha, z_beta = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    return int(np.ceil(((z_alpha * np.sqrt(discordance) + z_beta * np.sqrt(discordance - tax**2)) / tax) ** 2))


def items_needed(tax: float, discordance: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """Pairs needed for McNemar's exact test to detect a tax of ``tax`` points with probability ``power`` when
    ``discordance`` percent of pairs disagree: the smallest n (by bisection on the exact power, which rises
    with n up to small wiggles) whose exact power reaches ``power``."""
    d, psi = abs(tax) / 100, discordance / 100
    if not 0 < d <= psi <= 1:
        raise AltaxError(
            f"a tax of {tax:g} points needs a discordance rate of at least {abs(tax):g}% (and at most 100%), "
            f"got {discordance:g}%; a pilot run's discordance is refusal-driven + capability loss + gains"
        )
    if not (0 < alpha < 1 and 0 < power < 1):
        raise AltaxError("power and alpha must lie strictly between 0 and 1")
    losses, gains = (psi + d) / 2, (psi - d) / 2
    low, high = 0, max(1, connor_items(d, psi, power, alpha))
    critical = _critical(2 * high, alpha)
    while _power(high, critical, losses, gains) < power:
        low, high = high, 2 * high
        if high > MAX_ITEMS:
            raise AltaxError(f"more than {MAX_ITEMS} items would be needed; aim for a larger tax or lower power")
        critical = _critical(high, alpha)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if _power(mid, critical, losses, gains) >= power else (mid, high)
    return high


class PlanRow(BaseModel):
    """Items needed in one category of a pilot run, for one configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    config: str
    category: str
    pilot_items: int
    discordance: float
    items_needed: int | None


def plan_from_pilot(results: Results, tax: float, power: float = 0.8, alpha: float = 0.05) -> list[PlanRow]:
    """Items per category needed to detect ``tax`` points, each category's discordance taken from a pilot run
    (the share of pairings where exactly one side is right); None where the pilot's discordance is below the
    tax (such a tax cannot occur at that discordance)."""
    rows = []
    for name, config in results.configs.items():
        for category, block in config.categories.items():
            if block.tax is None:
                continue
            t = block.tax
            discordance = t.refusal_driven + t.capability_loss + t.gains
            needed = items_needed(tax, discordance, power, alpha) if discordance >= abs(tax) > 0 else None
            rows.append(
                PlanRow(config=name, category=category, pilot_items=t.n, discordance=discordance, items_needed=needed)
            )
    return rows
