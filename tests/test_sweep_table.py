"""The steering sweep's terminal table: every setting on both halves, the chosen one starred, or why none was."""

import io

from rich.console import Console

from alignment_tax.analysis.sweep import Constraints, SplitNumbers, SweepPoint, SweepResult
from alignment_tax.report.sweep_table import print_sweep


def _numbers(tax: float | None, coverage: float) -> SplitNumbers:
    return SplitNumbers(
        n_items=10, accuracy=50.0, tax=tax, tax_ci=None, coverage=coverage, over_refusal=5.0, degenerate=0.0
    )


def _printed(chosen: str | None, reason: str) -> str:
    points = [
        SweepPoint(name="reference", layer=None, strength=0.0, tuning=_numbers(None, 40), held_out=_numbers(None, 42)),
        SweepPoint(name="L12@0.1", layer=12, strength=0.1, tuning=_numbers(2.5, 70), held_out=_numbers(3.0, 65)),
    ]
    result = SweepResult(
        run_id="r", model="m", direction="caa-m", mode="add", split_seed=0, constraints=Constraints(),
        points=points, chosen=chosen, reason=reason,
    )  # fmt: skip
    out = io.StringIO()
    print_sweep(Console(file=out, width=200), result)
    return out.getvalue()


def test_the_chosen_setting_is_starred_and_reported_on_the_held_out_half():
    text = _printed("L12@0.1", "most coverage within the constraints")
    assert "L12@0.1 *" in text and "reference *" not in text
    assert "10 tuning / 10 held-out items" in text
    assert "chosen: L12@0.1 (most coverage within the constraints); held out: tax 3.0 points, coverage 65.0%" in text


def test_no_choice_says_why():
    text = _printed(None, "no setting meets max_tax")
    assert "*" not in text and "no setting chosen: no setting meets max_tax" in text
