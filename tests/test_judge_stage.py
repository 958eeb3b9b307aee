"""The judge stage keys judgments by the item hashes stored with the run, so schema changes never orphan them."""

import sqlite3

from alignment_tax.judge.stage import judge_name, judge_run
from alignment_tax.store import Store
from scripted_run import scripted_run


def test_rejudging_uses_the_item_hashes_recorded_with_the_run(tmp_path):
    settings, output = scripted_run(tmp_path)
    run_id = output.run.run_id
    with sqlite3.connect(settings.store_path) as db:  # as if the run were stored under an older item schema
        db.execute("UPDATE run_items SET item_hash = 'old-' || item_id WHERE run_id = ?", (run_id,))
    store = Store(settings.store_path)
    try:
        judged = judge_run(store, run_id, "lexical")
        assert judged == len(store.run_requests(run_id))
        rows = store.judged_items(run_id, judge_name("lexical"))
        assert len(rows) == judged
        assert judge_run(store, run_id, "lexical") == 0  # nothing left to judge
    finally:
        store.close()


def test_the_judge_stage_reports_progress_as_it_judges(tmp_path):
    settings, output = scripted_run(tmp_path)
    started: list[tuple[str, int]] = []
    advanced: list[int] = []

    def start(stage: str, total: int):
        started.append((stage, total))
        return advanced.append

    with Store(settings.store_path) as store:
        judged = judge_run(store, output.run.run_id, "lexical", rejudge=True, progress=start)
    assert started == [("judge", judged)]
    assert len(advanced) > 1 and sum(advanced) == judged
