"""`altax align-check`'s evaluation: lab rows answered through the run executor and the store, judged lexically."""

from __future__ import annotations

from alignment_tax.lab.data import LabRow
from alignment_tax.models import specs
from alignment_tax.store import Store
from alignment_tax.workflows.lab_evaluation import refusal_rates
from scripted import ScriptedBackend
from test_align import REFUSAL, tiny_rows

BACKENDS: list[ScriptedBackend] = []


def load(parsed) -> ScriptedBackend:
    """Refuses the placeholder requests, answers the rest; every backend it loads is kept for the test to read."""
    BACKENDS.append(ScriptedBackend(lambda prompt: REFUSAL if "Refuse this" in prompt else "Sure: it is done."))
    return BACKENDS[-1]


def test_lab_rows_are_generated_once_through_the_store(tmp_path):
    specs.backend("lab-scripted")(load)
    rows = [LabRow.model_validate(row) for row in tiny_rows()]
    with Store(tmp_path / "store.sqlite") as store:
        rates, answers = refusal_rates("lab-scripted:m", rows, store, max_new_tokens=8, batch_size=2)
        again = refusal_rates("lab-scripted:m", rows, store, max_new_tokens=8, batch_size=2)
    assert [len(batch) for batch in BACKENDS[0].batches] == [6] and BACKENDS[1].batches == []  # one call, then cached
    assert {kind: (r.total, r.refused) for kind, r in rates.items()} == {
        "benign": (2, 0),
        "capability": (2, 0),
        "harmful": (2, 2),
    }
    assert [(row.id, answer, verdict) for row, answer, verdict in answers][-1] == ("ref-2", REFUSAL, "refusal")
    assert again == (rates, answers)
