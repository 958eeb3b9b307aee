"""The answers of a stored run as the human audit reads them, judged first by the detector it audits."""

from __future__ import annotations

from alignment_tax.judge.audit import AuditRow, audit_rows
from alignment_tax.judge.stage import judge_name, judge_run
from alignment_tax.store import Store


def judged_rows(store: Store, run_id: str, detector: str) -> tuple[str, list[AuditRow]]:
    """The run's id (``run_id`` may be a prefix or 'latest') and every answer of it, judged by ``detector``
    where it was not yet."""
    run = store.run(run_id).run_id
    judge_run(store, run, detector)
    return run, audit_rows(store, run, judge_name(detector))
