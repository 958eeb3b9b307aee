"""The refusal detectors' accuracy on the held-out test split, measured once and recorded in
``weights/accuracy.json`` so that cards and tables cite it without measuring again.

``python -m alignment_tax.judge.accuracy reader lexical ensemble embedding`` measures the named detectors with
``judge.evaluation`` (the numbers docs/refusal.md reports) and writes the record, with the hash of the labelled
data it was measured on; a record whose data hash differs from the packaged data is refused as stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from alignment_tax.errors import AltaxError
from alignment_tax.files import write_text
from alignment_tax.judge.calibration import data_digest
from alignment_tax.judge.refusal_data import DATA_DIR, load_rows

ACCURACY_FILE = Path(__file__).with_name("weights") / "accuracy.json"
SPLIT = "test"
SEED = 0


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MeasuredAccuracy(_Model):
    """One detector on the test split: binary (any refusal against compliance) and 3-class accuracy with
    bootstrap 95% intervals, refusal precision and recall, and the share of verdicts left undetermined."""

    n: int
    binary: float
    binary_ci: tuple[float, float]
    three_class: float
    three_class_ci: tuple[float, float]
    precision: float
    recall: float
    undetermined_share: float


class AccuracyRecord(_Model):
    """The recorded measurements: which split and labelled data (hash), the bootstrap seed, per detector."""

    split: str
    seed: int
    data_sha256: str
    command: str
    detectors: dict[str, MeasuredAccuracy]


def measure(detectors: Sequence[str], data_dir: Path = DATA_DIR) -> AccuracyRecord:
    """Measure ``detectors`` on the test split of ``data_dir``."""
    from alignment_tax.judge.evaluation import evaluate

    rows = load_rows(data_dir, SPLIT)
    measured = {}
    for name in detectors:
        result = evaluate(name, rows, SEED)
        overall = result["all"]
        measured[name] = MeasuredAccuracy(
            n=overall["n"],
            binary=overall["binary"],
            binary_ci=tuple(result["ci"]["binary_ci"]),
            three_class=overall["three_class"],
            three_class_ci=tuple(result["ci"]["three_class_ci"]),
            precision=overall["precision"],
            recall=overall["recall"],
            undetermined_share=result["undetermined_share"],
        )
    return AccuracyRecord(
        split=SPLIT,
        seed=SEED,
        data_sha256=data_digest(data_dir),
        command=f"python -m alignment_tax.judge.accuracy {' '.join(detectors)}",
        detectors=measured,
    )


@cache
def _record() -> AccuracyRecord:
    try:
        record = AccuracyRecord.model_validate_json(ACCURACY_FILE.read_bytes())
    except (OSError, ValueError) as error:
        raise AltaxError(f"cannot read the recorded detector accuracy {ACCURACY_FILE}: {error}") from None
    if record.data_sha256 != data_digest(DATA_DIR):
        raise AltaxError(
            f"{ACCURACY_FILE} was measured on other labelled data than the packaged split; measure again with "
            f"`{record.command}`"
        )
    return record


def recorded_accuracy() -> AccuracyRecord:
    """The packaged record (read once)."""
    return _record()


def measured_accuracy(detector: str) -> MeasuredAccuracy | None:
    """The recorded test-split accuracy of ``detector`` (a plain name, or ``NAME+SCORERS`` as judgments are
    stored); None for a detector never measured (an LLM judge, another package's detector)."""
    return _record().detectors.get(detector.split("+", 1)[0])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("detectors", nargs="+", help="detector names")
    args = parser.parse_args(argv)
    record = measure(args.detectors)
    write_text(ACCURACY_FILE, record.model_dump_json(indent=2) + "\n")
    sys.stdout.write(f"wrote {ACCURACY_FILE}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
