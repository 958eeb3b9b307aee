"""The monitor's results file: what was read, who judged it, the classifiers, the traffic's statistics and a
stored run's tax on the traffic's mix."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from alignment_tax.analysis.traffic import TrafficStats
from alignment_tax.analysis.traffic_tax import TrafficTax


class LogSummary(BaseModel):
    """What was read: files, lines per format, files whose torn last line was skipped, and who judged the
    answers (``monitor``: re-judged from the text, ``gateway``: its verdict kept, ``none``: no answer)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    files: list[str]
    lines: int
    formats: dict[str, int]
    torn: list[str]
    judged_by: dict[str, int]


class MonitorReport(BaseModel):
    """The monitor's JSON: the reading, the classifiers, the traffic's statistics and the run's tax on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detector: str
    risk_classifier: str
    category_classifier: str
    category_accuracy: float | None
    logs: LogSummary
    baseline_logs: LogSummary | None
    traffic: TrafficStats
    tax: TrafficTax | None
    seconds: float
