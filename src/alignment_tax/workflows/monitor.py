"""The monitor: read traffic logs, judge every answer, score and sort every prompt, then analyse the traffic
(against a baseline's, and with a stored run's tax weighted by its category mix).

Every answer whose text the log holds is judged again by the monitor's detector, so one detector reads all the
traffic (gateway versions and other servers alike) and a better detector re-reads old logs; a gateway line that
keeps only hashes keeps the gateway's verdict. Prompts with text are scored by the monitor's risk router and
sorted into a category; a text-less gateway line keeps the gateway's risk score and has no category."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alignment_tax.analysis.monitor import LogSummary, MonitorReport
from alignment_tax.analysis.traffic import Observation, traffic_stats
from alignment_tax.analysis.traffic_tax import TrafficTax, traffic_tax
from alignment_tax.errors import AltaxError
from alignment_tax.judge.detectors import DEFAULT_DETECTOR, get_detector
from alignment_tax.judge.refusal import RefusalDetector, provider_verdict
from alignment_tax.judge.stage import judge_name
from alignment_tax.traffic_reader import LogLines, TrafficLine, read_logs

DEFAULT_THRESHOLD = 0.5
"""The risk score at or above which a prompt counts as risky: the threshold of the default routed configurations."""
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class MonitorSettings:
    """What the monitor reads and how it judges."""

    logs: Sequence[Path]
    baseline: Sequence[Path] = ()
    window_s: float | None = None
    run: str | None = None
    results_dir: Path = Path("altax-results")
    threshold: float = DEFAULT_THRESHOLD
    detector: str = DEFAULT_DETECTOR
    risk_classifier: str = "default"
    category_classifier: str = "default"


def window_seconds(text: str) -> float:
    """``90s``, ``30m``, ``1h``, ``1d`` (or plain seconds) as seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match or float(match[1]) <= 0:
        raise AltaxError(f"--window {text!r}: give a length such as 90s, 30m, 1h or 1d")
    return float(match[1]) * _UNITS[match[2] or "s"]


class Readers:
    """The detector and the two prompt classifiers, loaded once for the traffic and its baseline."""

    def __init__(self, settings: MonitorSettings):
        from alignment_tax.interventions.category import load_category_classifier
        from alignment_tax.interventions.risk import load_risk_classifier

        self.detector: RefusalDetector = get_detector(settings.detector)
        self.risk = load_risk_classifier(settings.risk_classifier)
        self.categories = load_category_classifier(settings.category_classifier)

    def verdicts(self, lines: Sequence[TrafficLine]) -> tuple[list[str | None], Counter[str]]:
        """Each line's refusal label and who gave it; each distinct (prompt, answer) pair is judged once."""
        answered = [line for line in lines if line.status == "ok" and line.answer is not None]
        pairs = sorted({(line.prompt or "", line.answer or "") for line in answered})
        judged = dict(zip(pairs, self.detector.classify(pairs), strict=True))
        out: list[str | None] = []
        by: Counter[str] = Counter()
        for line in lines:
            if line.status == "ok" and line.answer is not None:
                verdict = provider_verdict(line.finish_reason) or judged[(line.prompt or "", line.answer)]
                out.append(verdict.decided)
                by["monitor"] += 1
            else:
                out.append(line.verdict)
                by["gateway" if line.verdict is not None else "none"] += 1
        return out, by

    def prompts(self, texts: Sequence[str]) -> tuple[dict[str, float], dict[str, str]]:
        """The risk score and the category of each distinct prompt (embedded once when both read the same rows)."""
        from alignment_tax.interventions.risk import shared_encoder

        unique = sorted(set(texts))
        if not unique:
            return {}, {}
        risk_meta, category_meta = self.risk.meta, self.categories.meta
        embeddings = shared_encoder(risk_meta.max_tokens, risk_meta.quantized).encode(unique)
        if (category_meta.max_tokens, category_meta.quantized) != (risk_meta.max_tokens, risk_meta.quantized):
            category_rows = shared_encoder(category_meta.max_tokens, category_meta.quantized).encode(unique)
        else:
            category_rows = embeddings
        scores = np.asarray(self.risk.probabilities(embeddings), dtype=float)
        return dict(zip(unique, scores.tolist(), strict=True)), dict(
            zip(unique, self.categories.predict(category_rows), strict=True)
        )

    def observe(self, log: LogLines) -> tuple[list[Observation], Counter[str]]:
        """The log's lines as judged, scored and sorted observations, and who judged them."""
        verdicts, by = self.verdicts(log.lines)
        risks, categories = self.prompts([line.prompt for line in log.lines if line.prompt is not None])
        rows = [
            Observation(
                time=line.time,
                config=line.config,
                verdict=verdict,
                risk=risks[line.prompt] if line.prompt is not None else line.risk,
                guarded=line.guarded,
                category=categories.get(line.prompt) if line.prompt is not None else None,
            )
            for line, verdict in zip(log.lines, verdicts, strict=True)
        ]
        return rows, by


def _summary(paths: Sequence[Path], log: LogLines, by: Counter[str]) -> LogSummary:
    return LogSummary(
        files=[str(p) for p in paths],
        lines=len(log.lines),
        formats=dict(Counter(line.format for line in log.lines)),
        torn=log.torn,
        judged_by={key: by[key] for key in ("monitor", "gateway", "none")},
    )


def _run_tax(settings: MonitorSettings, counts: dict[str, int]) -> TrafficTax:
    """The stored run's tax weighted by the traffic's category counts (judgments of the monitor's detector)."""
    from alignment_tax.store import Store

    assert settings.run is not None
    store_path = settings.results_dir / "store.sqlite"
    if not store_path.is_file():
        raise AltaxError(f"--run {settings.run}: no store at {store_path}; pass --results-dir")
    with Store(store_path) as store:
        info = store.run(settings.run)
        rows = store.judged_items(info.run_id, judge_name(settings.detector))
    return traffic_tax(info.run_id, rows, info.reference, counts)


def monitor(settings: MonitorSettings) -> MonitorReport:
    """Read, judge, score and analyse the traffic (and the baseline); nothing is written."""
    started = time.perf_counter()
    log = read_logs(settings.logs)
    baseline_log = read_logs(settings.baseline) if settings.baseline else None
    readers = Readers(settings)
    rows, by = readers.observe(log)
    baseline_rows, baseline_summary = None, None
    if baseline_log is not None:
        baseline_rows, baseline_by = readers.observe(baseline_log)
        baseline_summary = _summary(settings.baseline, baseline_log, baseline_by)
    stats = traffic_stats(rows, settings.threshold, settings.window_s, baseline_rows)
    tax = None
    if settings.run is not None:
        capability = [r for r in rows if r.risk is not None and r.risk < settings.threshold]
        tax = _run_tax(settings, dict(Counter(r.category for r in capability if r.category is not None)))
    test = getattr(readers.categories.meta, "test", None)
    return MonitorReport(
        detector=settings.detector,
        risk_classifier=f"{readers.risk.name} ({readers.risk.fingerprint})",
        category_classifier=readers.categories.meta.name,
        category_accuracy=None if test is None else float(test["accuracy"]),
        logs=_summary(settings.logs, log, by),
        baseline_logs=baseline_summary,
        traffic=stats,
        tax=tax,
        seconds=time.perf_counter() - started,
    )
