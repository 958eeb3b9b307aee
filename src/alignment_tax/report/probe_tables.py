"""The generation-free refusal probe on the terminal: estimated rates per configuration and kind, and the
probe's agreement with a detector on a stored run's answers."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from alignment_tax.analysis.probe import RateEstimate
from alignment_tax.judge.probe import ProbeAgreement


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def estimates_table(estimates: Sequence[RateEstimate]) -> Table:
    """Per configuration and kind: items, estimated refusal rate with its 95% interval, and the mean
    probability of a refusal opening."""
    table = Table("configuration", "kind", "items", "estimated refusal rate", "95% CI", "mean P(refusal opening)")
    for e in estimates:
        table.add_row(
            e.config, e.kind, str(e.n), _pct(e.rate), f"[{_pct(e.low)}, {_pct(e.high)}]", _pct(e.mean_probability)
        )
    return table


def print_estimates(console: Console, output) -> None:
    """A probe's estimates (the probe workflow's ``ProbeOutput``), the threshold and where it came from, how
    the probe matched the detector on the calibration run, and where the JSON is."""
    console.print(estimates_table(output.estimates))
    console.print(
        f"threshold {output.threshold:.2f} log-odds ({output.source}); {len(output.scores)} prompts, nothing generated",
        highlight=False,
    )
    if output.calibration is not None:
        a = output.calibration.overall
        console.print(
            f"on the calibration run: detector rate {_pct(a.detector_rate)}, probe rate {_pct(a.probe_rate)}, "
            f"agreement {_pct(a.agreement)}, AUC {a.auc:.3f} (in-sample)",
            highlight=False,
        )
    console.print(f"probe: {output.path} ({output.seconds:.0f} s)", highlight=False)


def agreement_table(rows: Sequence[tuple[str, ProbeAgreement, bool]]) -> Table:
    """Per configuration: the probe's rate and mean probability, and where every answer was judged, the
    detector's rate, the share of answers both call alike, and the AUC of the log-odds against the verdicts."""
    table = Table("configuration", "probe rate", "mean P(refusal opening)", "detector rate", "agreement", "AUC")
    for config, a, judged in rows:
        cells = [_pct(a.detector_rate), _pct(a.agreement), f"{a.auc:.3f}"] if judged else ["-"] * 3
        table.add_row(config, _pct(a.probe_rate), _pct(a.probe_mean_probability), *cells)
    return table
