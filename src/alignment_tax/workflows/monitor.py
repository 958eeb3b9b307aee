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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from alignment_tax.analysis.monitor import LogSummary, MonitorReport
from alignment_tax.analysis.traffic import Observation, traffic_stats
from alignment_tax.analysis.traffic_tax import traffic_tax
from alignment_tax.errors import AltaxError
from alignment_tax.judge.detectors import DEFAULT_DETECTOR, get_detector
from alignment_tax.judge.refusal import RefusalDetector, provider_verdict
from alignment_tax.judge.stage import judge_name
from alignment_tax.records import JudgedItem
from alignment_tax.traffic_reader import LogLines, TrafficLine, read_logs

if TYPE_CHECKING:
    from alignment_tax.interventions.category import CategoryMeta
    from alignment_tax.interventions.risk import RiskMeta
    from alignment_tax.workflows.experiment import StageProgress

DEFAULT_THRESHOLD = 0.5
"""The risk score at or above which a prompt counts as risky: the threshold of the default routed configurations."""
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
JUDGE_CHUNK = 512
EMBED_CHUNK = 256
"""Answers judged and prompts embedded between two steps of the progress bar (a prompt's float32 embedding does
not depend on its batch, so chunking changes no number)."""


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

    def __init__(self, settings: MonitorSettings, progress: StageProgress | None = None):
        from alignment_tax.interventions.category import load_category_classifier
        from alignment_tax.interventions.risk import load_risk_classifier

        self.detector: RefusalDetector = get_detector(settings.detector)
        self.risk = load_risk_classifier(settings.risk_classifier)
        self.categories = load_category_classifier(settings.category_classifier)
        self.progress = progress

    def _chunked(self, stage: str, items: Sequence, work: Callable[[Sequence], Sequence], size: int) -> list:
        """``work`` over ``items`` in chunks of ``size``, advancing the stage's progress after each."""
        advance = self.progress(stage, len(items)) if self.progress and items else None
        out: list = []
        for start in range(0, len(items), size):
            part = items[start : start + size]
            out += work(part)
            if advance:
                advance(len(part))
        return out

    def verdicts(self, lines: Sequence[TrafficLine], label: str) -> tuple[list[str | None], Counter[str]]:
        """Each line's refusal label and who gave it; each distinct (prompt, answer) pair is judged once."""
        answered = [line for line in lines if line.status == "ok" and line.answer is not None]
        pairs = sorted({(line.prompt or "", line.answer or "") for line in answered})
        verdicts = self._chunked(f"judge {label}", pairs, self.detector.classify, JUDGE_CHUNK)
        judged = dict(zip(pairs, verdicts, strict=True))
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

    def _embed(self, meta: RiskMeta | CategoryMeta, stage: str, texts: list[str]) -> np.ndarray:
        from alignment_tax.interventions.risk import shared_encoder

        encoder = shared_encoder(meta.max_tokens, meta.quantized)
        return np.array(self._chunked(stage, texts, lambda part: list(encoder.encode(part)), EMBED_CHUNK))

    def prompts(self, texts: Sequence[str], label: str) -> tuple[dict[str, float], dict[str, str]]:
        """The risk score and the category of each distinct prompt (embedded once when both read the same rows)."""
        unique = sorted(set(texts))
        if not unique:
            return {}, {}
        risk_meta, category_meta = self.risk.meta, self.categories.meta
        embeddings = self._embed(risk_meta, f"embed {label} prompts", unique)
        same = (category_meta.max_tokens, category_meta.quantized) == (risk_meta.max_tokens, risk_meta.quantized)
        category_rows = embeddings if same else self._embed(category_meta, f"embed {label} prompts again", unique)
        scores = np.asarray(self.risk.probabilities(embeddings), dtype=float).tolist()
        categories = self.categories.predict(category_rows)
        return dict(zip(unique, scores, strict=True)), dict(zip(unique, categories, strict=True))

    def observe(self, log: LogLines, label: str) -> tuple[list[Observation], Counter[str]]:
        """The log's lines as judged, scored and sorted observations, and who judged them (``label`` names the
        progress stages: traffic or baseline)."""
        verdicts, by = self.verdicts(log.lines, label)
        risks, categories = self.prompts([line.prompt for line in log.lines if line.prompt is not None], label)
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


def _run_rows(settings: MonitorSettings) -> tuple[str, str, list[JudgedItem]]:
    """The stored run's id, reference and judged rows (judgments of the monitor's detector), read before any
    judging so that a wrong ``--run`` fails at once."""
    from alignment_tax.store import Store

    assert settings.run is not None
    store_path = settings.results_dir / "store.sqlite"
    if not store_path.is_file():
        raise AltaxError(f"--run {settings.run}: no store at {store_path}; pass --results-dir")
    with Store(store_path) as store:
        info = store.run(settings.run)
        return info.run_id, info.reference, store.judged_items(info.run_id, judge_name(settings.detector))


def monitor(settings: MonitorSettings, progress: StageProgress | None = None) -> MonitorReport:
    """Read, judge, score and analyse the traffic (and the baseline); nothing is written. ``progress`` shows the
    judging and embedding stages."""
    started = time.perf_counter()
    run = _run_rows(settings) if settings.run is not None else None
    log = read_logs(settings.logs)
    baseline_log = read_logs(settings.baseline) if settings.baseline else None
    readers = Readers(settings, progress)
    rows, by = readers.observe(log, "traffic")
    baseline_rows, baseline_summary = None, None
    if baseline_log is not None:
        baseline_rows, baseline_by = readers.observe(baseline_log, "baseline")
        baseline_summary = _summary(settings.baseline, baseline_log, baseline_by)
    stats = traffic_stats(rows, settings.threshold, settings.window_s, baseline_rows)
    tax = None
    if run is not None:
        capability = [r for r in rows if r.risk is not None and r.risk < settings.threshold]
        run_id, reference, run_rows = run
        counts = Counter(r.category for r in capability if r.category is not None)
        tax = traffic_tax(run_id, run_rows, reference, counts)
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
