"""`altax diff`'s reading of two stored runs: shared items, items only or changed in one run, the printout."""

import io

from rich.console import Console

from alignment_tax.judge.stage import judge_name
from alignment_tax.report.run_diff import diff_stored_runs, print_diff
from alignment_tax.store import Store
from scripted_run import ITEMS, scripted_run


def test_diff_of_stored_runs_counts_items_only_or_changed_in_one_run(tmp_path):
    settings, first = scripted_run(tmp_path)
    edited = [dict(ITEMS[0], prompt="What is 2+3?"), *ITEMS[1:-1]]  # m1 changed, b1 left out
    _, second = scripted_run(tmp_path, edited)
    with Store(settings.store_path) as store:
        stored = diff_stored_runs(
            store, first.run.run_id, second.run.run_id, judge_name(settings.detector), n_boot=50, seed=0
        )
    assert (stored.diff.n_items, stored.changed_a, stored.changed_b, stored.redefined) == (6, 2, 1, [])
    out = io.StringIO()
    print_diff(Console(file=out, width=200), stored)
    assert f"{second.run.run_id} against {first.run.run_id}: 6 shared items (2 only or changed in A, 1 in B)" in (
        out.getvalue()
    )
