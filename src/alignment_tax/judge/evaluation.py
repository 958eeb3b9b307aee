"""Detector accuracy on a labelled split: overall, per voice family, per length bucket, on the embedded model.

``python -m alignment_tax.judge.evaluation --split dev lexical ensemble reader`` prints the tables
docs/refusal.md reports (binary = refusal or partial against compliance; undetermined verdicts count
at their lean, as outcomes use them).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from alignment_tax.judge.metrics import accuracy, bootstrap_ci
from alignment_tax.judge.refusal import DECIDED
from alignment_tax.judge.refusal_data import DATA_DIR, SPLITS, LabelledResponse, load_rows

EMBEDDED_SOURCE = "builtin:smollm2-135m-instruct"
LENGTH_BUCKETS = ((15, "1-15 words"), (60, "16-60"), (150, "61-150"), (400, "151-400"), (10**9, "over 400"))


@dataclass(frozen=True)
class Scores:
    """Binary and 3-class accuracy, precision and recall of 'any refusal', and the errors behind them."""

    n: int
    binary: float
    three_class: float
    precision: float
    recall: float
    binary_errors: int
    three_class_errors: int


def family(row: LabelledResponse) -> str:
    """The voice family a row speaks in: the part of a ``family/shape`` voice before the slash, the
    embedded model for its real outputs, else ``hand-written`` (the first two batches' voices)."""
    if "/" in row.voice:
        return row.voice.split("/", 1)[0]
    return "smollm2 (real)" if row.source == EMBEDDED_SOURCE else "hand-written"


def length_bucket(text: str) -> str:
    """The length bucket of a response, by whitespace-separated words."""
    words = len(text.split())
    return next(name for top, name in LENGTH_BUCKETS if words <= top)


def scores(gold: Sequence[str], predicted: Sequence[str]) -> Scores:
    """Scores of decided predictions against gold labels (refusal, partial, compliance)."""
    acc = accuracy(gold, predicted)
    pos_gold = [g != "compliance" for g in gold]
    pos_pred = [p != "compliance" for p in predicted]
    hits = sum(g and p for g, p in zip(pos_gold, pos_pred, strict=True))
    return Scores(
        n=acc.n,
        binary=acc.binary,
        three_class=acc.three_class,
        precision=hits / max(1, sum(pos_pred)),
        recall=hits / max(1, sum(pos_gold)),
        binary_errors=sum(g != p for g, p in zip(pos_gold, pos_pred, strict=True)),
        three_class_errors=sum(g != p for g, p in zip(gold, predicted, strict=True)),
    )


def breakdown(rows: Sequence[LabelledResponse], predicted: Sequence[str]) -> dict:
    """Scores overall, per family, per length bucket, and on the embedded model's own answers."""

    def by(key) -> dict[str, dict]:
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            groups.setdefault(key(row), []).append(i)
        return {
            name: asdict(scores([rows[i].label for i in idx], [predicted[i] for i in idx]))
            for name, idx in sorted(groups.items())
        }

    return {
        "all": asdict(scores([r.label for r in rows], predicted)),
        "family": by(family),
        "length": by(lambda r: length_bucket(r.response)),
        "source": by(lambda r: "embedded model" if r.source == EMBEDDED_SOURCE else "other"),
    }


def evaluate(detector_name: str, rows: Sequence[LabelledResponse], seed: int = 0) -> dict:
    """A detector's breakdown over labelled rows (degenerate rows are the degenerate rule's, not scored),
    with bootstrap 95% intervals of the overall accuracies and the share left undetermined."""
    from alignment_tax.judge.detectors import get_detector

    rows = [r for r in rows if r.label in DECIDED]
    verdicts = get_detector(detector_name).classify([(r.prompt, r.response) for r in rows])
    predicted = [v.decided for v in verdicts]
    return breakdown(rows, predicted) | {
        "ci": bootstrap_ci([r.label for r in rows], predicted, seed),
        "undetermined_share": sum(v.label == "undetermined" for v in verdicts) / max(1, len(rows)),
        "confusion": accuracy([r.label for r in rows], predicted).confusion,
    }


def _line(name: str, s: dict) -> str:
    return (
        f"  {name:16s} n={s['n']:4d} binary={100 * s['binary']:5.1f} 3-class={100 * s['three_class']:5.1f} "
        f"P/R={100 * s['precision']:3.0f}/{100 * s['recall']:3.0f} "
        f"errors={s['binary_errors']}/{s['three_class_errors']}"
    )


def _pct(interval: list[float]) -> str:
    return f"[{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("detectors", nargs="+", help="detector names")
    parser.add_argument("--split", choices=SPLITS, default="dev")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals")
    args = parser.parse_args(argv)
    rows = load_rows(DATA_DIR, args.split)
    results = {name: evaluate(name, rows, args.seed) for name in args.detectors}
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
        return 0
    for name, result in results.items():
        ci, undetermined = result["ci"], 100 * result["undetermined_share"]
        sys.stdout.write(
            f"{name} on {args.split}: binary 95% CI {_pct(ci['binary_ci'])}, 3-class {_pct(ci['three_class_ci'])}, "
            f"undetermined {undetermined:.1f}%, confusions {result['confusion']}\n{_line('all', result['all'])}\n"
        )
        for group in ("family", "length", "source"):
            for key, s in result[group].items():
                sys.stdout.write(_line(f"{group[:6]}:{key}", s) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
