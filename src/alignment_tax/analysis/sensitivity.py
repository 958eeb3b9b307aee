"""Detector sensitivity: one run's results under several refusal detectors, and the conclusions that change.

Every detector's judgments of the same stored answers are analysed exactly as `altax show` analyses them
(``summarize``, ``frontier``, the gate), so a detector's column is what `altax show --detector NAME` prints.
A conclusion is marked when it is not the same under every detector: the sign of a configuration's tax, whether
its interval excludes zero, its frontier membership, and its gate verdict when gate thresholds are given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from alignment_tax.analysis.frontier import Frontier, frontier
from alignment_tax.analysis.gate import GateReport, Thresholds, gate_checks
from alignment_tax.analysis.paired import PairedTax
from alignment_tax.analysis.results import Results, summarize
from alignment_tax.analysis.rows import Cluster
from alignment_tax.errors import AltaxError
from alignment_tax.records import JudgedItem

ConclusionKind = Literal["tax sign", "tax significance", "frontier", "gate"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DetectorView(_Model):
    """A run as one detector judged it: its results, its frontier and, with thresholds, its gate."""

    detector: str
    results: Results
    frontier: Frontier
    gate: GateReport | None


class Conclusion(_Model):
    """One conclusion about one configuration under each detector (detector -> what it concludes)."""

    config: str
    kind: ConclusionKind
    values: dict[str, str]

    @property
    def changes(self) -> bool:
        return len(set(self.values.values())) > 1


class Sensitivity(_Model):
    """The run under each detector (in the order asked) and every conclusion compared across them."""

    run_id: str
    reference: str
    views: list[DetectorView]
    conclusions: list[Conclusion]

    def conclusion(self, config: str, kind: ConclusionKind) -> Conclusion | None:
        return next((c for c in self.conclusions if c.config == config and c.kind == kind), None)


def tax_sign(tax: PairedTax) -> str:
    """The sign of the point estimate: a loss (+), a gain (-) or none (0)."""
    return "+" if tax.tax > 0 else "-" if tax.tax < 0 else "0"


def tax_significance(tax: PairedTax) -> str:
    """What the tax interval says: a loss (lower bound above 0), a gain (upper bound below 0), or neither."""
    low, high = tax.tax_ci
    return "significant loss" if low > 0 else "significant gain" if high < 0 else "not significant"


def frontier_place(front: Frontier, config: str) -> str:
    """Whether a configuration is on the frontier (``on``) or dominated (``off``)."""
    return "on" if next(p for p in front.points if p.config == config).on_frontier else "off"


def gate_verdict(report: GateReport | None, config: str) -> str | None:
    """``pass`` when every check of a configuration passes, ``fail`` when one fails; None when none gates it."""
    checks = [c for c in report.checks if c.config == config] if report else []
    return ("pass" if all(c.passed for c in checks) else "fail") if checks else None


def _conclusions(views: Sequence[DetectorView]) -> list[Conclusion]:
    out = []
    for name in views[0].results.configs:
        found: dict[ConclusionKind, dict[str, str]] = {}
        for view in views:
            config = view.results.configs[name]
            tax = config.overall.tax if config.overall else None
            if tax is not None:
                found.setdefault("tax sign", {})[view.detector] = tax_sign(tax)
                found.setdefault("tax significance", {})[view.detector] = tax_significance(tax)
            found.setdefault("frontier", {})[view.detector] = frontier_place(view.frontier, name)
            if (verdict := gate_verdict(view.gate, name)) is not None:
                found.setdefault("gate", {})[view.detector] = verdict
        out += [Conclusion(config=name, kind=kind, values=values) for kind, values in found.items()]
    return out


def sensitivity(
    rows: Mapping[str, Sequence[JudgedItem]],
    reference: str,
    run_id: str,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    cluster: Cluster = "group",
    thresholds: Thresholds | None = None,
    configs: Sequence[str] = (),
) -> Sensitivity:
    """Analyse each detector's judged rows of one run (``rows``: detector -> rows, in display order) with the
    settings `altax show` uses, gate each one when ``thresholds`` asks for a check, and compare conclusions."""
    if not rows:
        raise AltaxError("name at least one refusal detector, e.g. --detectors lexical,reader")
    views = []
    for detector, judged in rows.items():
        results = summarize(judged, reference, n_boot=n_boot, seed=seed, cluster=cluster)
        report = None
        if thresholds is not None and thresholds.asked():
            report = gate_checks(results, thresholds, configs, run_id, detector)
        views.append(
            DetectorView(
                detector=detector,
                results=results,
                frontier=frontier(judged, reference, n_boot=n_boot, seed=seed),
                gate=report,
            )
        )
    return Sensitivity(run_id=run_id, reference=reference, views=views, conclusions=_conclusions(views))
