"""The human audit: sample judged answers for labelling, then detector error and corrected refusal rates."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alignment_tax.errors import AltaxError
from alignment_tax.files import write_text
from alignment_tax.proportions import wilson_interval
from alignment_tax.store import Store

HUMAN_LABELS = ("refusal", "partial", "compliance", "degenerate")
CSV_COLUMNS = ("id", "config", "item_id", "kind", "category", "prompt", "response", "human_label")
N_BOOT = 2000


@dataclass(frozen=True)
class AuditRow:
    """One judged answer: where it came from, its text, and the detector's outcome."""

    id: str
    config: str
    item_id: str
    kind: str
    category: str
    prompt: str
    response: str
    outcome: str


def audit_rows(store: Store, run_id: str, judge: str) -> list[AuditRow]:
    """Every judged answer of a run (raises when some are not judged by ``judge`` yet)."""
    items = {item.id: item for item in store.run_items(run_id)}
    requests = {(r.config, r.item_id, r.sample): r.key for r in store.run_requests(run_id)}
    texts = store.generations(requests.values())
    rows = []
    for j in store.judged_items(run_id, judge):
        key = requests[(j.config, j.item_id, j.sample)]
        text = texts[key].text if key in texts else ""
        row_id = f"{j.config}/{j.item_id}/{j.sample}"
        rows.append(AuditRow(row_id, j.config, j.item_id, j.kind, j.category, items[j.item_id].prompt, text, j.outcome))
    return rows


def sample_rows(rows: Sequence[AuditRow], per_config: int, seed: int) -> list[AuditRow]:
    """A simple random sample of ``per_config`` answers from each configuration, in a seeded order."""
    rng = random.Random(seed)
    chosen: list[AuditRow] = []
    for config in sorted({r.config for r in rows}):
        pool = [r for r in rows if r.config == config]
        chosen += rng.sample(pool, min(per_config, len(pool)))
    rng.shuffle(chosen)
    return chosen


def write_audit_csv(rows: Sequence[AuditRow], path: Path) -> None:
    """The labelling sheet: no detector verdict in it, so the person labels blind."""
    sheet = io.StringIO(newline="")
    writer = csv.writer(sheet)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r.id, r.config, r.item_id, r.kind, r.category, r.prompt, r.response, ""])
    write_text(path, sheet.getvalue())


def read_labels(path: Path) -> dict[str, str]:
    """Human labels by row id; blank labels are skipped, unknown ones are an error naming the line."""
    if not path.is_file():
        raise AltaxError(f"no audit file {path}")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not {"id", "human_label"} <= set(reader.fieldnames or ()):
            raise AltaxError(f"{path} needs the columns id and human_label (made by `altax judge audit RUN --out`)")
        labels = {}
        for line, row in enumerate(reader, start=2):
            label = (row["human_label"] or "").strip().lower()
            if not label:
                continue
            if label not in HUMAN_LABELS:
                raise AltaxError(f"{path}:{line}: label {label!r} is not one of {', '.join(HUMAN_LABELS)}")
            labels[row["id"]] = label
    if not labels:
        raise AltaxError(f"{path} has no labelled rows; fill the human_label column")
    return labels


@dataclass(frozen=True)
class Rate:
    """A proportion with its 95% interval."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class ConfigAudit:
    """Detector error against the person on one configuration, and its refusal rate corrected for it."""

    config: str
    labelled: int
    sensitivity: Rate
    specificity: Rate
    observed_rate: Rate
    corrected_rate: Rate


def wilson(hits: int, n: int) -> Rate:
    """``hits`` of ``n`` with its Wilson score 95% interval; NaN for an empty sample."""
    if n == 0:
        return Rate(float("nan"), float("nan"), float("nan"))
    return Rate(hits / n, *wilson_interval(hits, n))


def rogan_gladen(observed: float, sensitivity: float, specificity: float) -> float:
    """True prevalence from an imperfect test: (p + Sp - 1) / (Se + Sp - 1), clipped to [0, 1]."""
    youden = sensitivity + specificity - 1
    if youden <= 0:
        return float("nan")
    return float(min(1.0, max(0.0, (observed + specificity - 1) / youden)))


def _se_sp(pairs: np.ndarray) -> tuple[float, float]:
    truth, called = pairs[:, 0], pairs[:, 1]
    se = called[truth].mean() if truth.any() else float("nan")
    sp = (~called[~truth]).mean() if (~truth).any() else float("nan")
    return float(se), float(sp)


def audit_report(
    rows: Sequence[AuditRow], labels: dict[str, str], positive: str = "refusal", seed: int = 0
) -> list[ConfigAudit]:
    """Per configuration: sensitivity and specificity on the labelled answers (Wilson CIs), the detector's
    refusal rate over all answers, and the Rogan-Gladen corrected rate with a bootstrap 95% CI.

    ``positive`` is ``refusal`` (outcome ``refused``; human label refusal) or ``any`` (partial too).
    Where a configuration's labelled sample has no positive or no negative, the pooled sample's
    sensitivity or specificity is used for the correction."""
    if positive not in ("refusal", "any"):
        raise AltaxError(f"positive must be 'refusal' or 'any', not {positive!r}")
    called_as = {"refused"} if positive == "refusal" else {"refused", "partial"}
    true_as = {"refusal"} if positive == "refusal" else {"refusal", "partial"}
    unknown = set(labels) - {r.id for r in rows}
    if unknown:
        raise AltaxError(f"{len(unknown)} labelled ids are not in this run, e.g. {sorted(unknown)[0]!r}")
    rng = np.random.default_rng(seed)
    pairs = {
        r.id: (labels[r.id] in true_as, r.outcome in called_as) for r in rows if r.id in labels
    }  # (truth, detector call)
    pooled = np.array(list(pairs.values()), dtype=bool).reshape(-1, 2)
    out = []
    for config in sorted({r.config for r in rows}):
        mine = [r for r in rows if r.config == config]
        sample = np.array([pairs[r.id] for r in mine if r.id in pairs], dtype=bool).reshape(-1, 2)
        calls = sum(r.outcome in called_as for r in mine)
        truth, called = sample[:, 0], sample[:, 1]
        sens = wilson(int((called & truth).sum()), int(truth.sum()))
        spec = wilson(int((~called & ~truth).sum()), int((~truth).sum()))
        boot = []
        for _ in range(N_BOOT):
            source = sample if truth.any() and (~truth).any() else pooled
            se, sp = _se_sp(source[rng.integers(0, len(source), len(source))]) if len(source) else (np.nan, np.nan)
            observed = rng.binomial(len(mine), calls / len(mine)) / len(mine)
            boot.append(rogan_gladen(observed, se, sp))
        se0, sp0 = _se_sp(sample if truth.any() and (~truth).any() else pooled) if len(pooled) else (np.nan, np.nan)
        finite = np.array([b for b in boot if np.isfinite(b)])
        low, high = np.percentile(finite, [2.5, 97.5]) if len(finite) else (np.nan, np.nan)
        point = rogan_gladen(calls / len(mine), se0, sp0)
        out.append(
            ConfigAudit(config, len(sample), sens, spec, wilson(calls, len(mine)), Rate(point, float(low), float(high)))
        )
    return out
