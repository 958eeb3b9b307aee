"""Per-item outcomes of a scripted run, exported as CSV and Parquet, from Python and from `altax export`."""

import csv
import sys

import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.judge.stage import judge_name
from alignment_tax.report.exports import COLUMNS, export, item_outcomes
from alignment_tax.store import Store
from altax_here import altax_here
from scripted_run import ITEMS, XSS, scripted_run


def parquet():
    """pyarrow.parquet, or a skip where the parquet extra is not installed (`make test` installs it)."""
    return pytest.importorskip("pyarrow.parquet", reason="the parquet extra is not installed")


@pytest.fixture
def run(tmp_path):
    settings, output = scripted_run(tmp_path)
    store = Store(settings.store_path)
    yield settings, output.run.run_id, item_outcomes(store, output.run.run_id, judge_name(settings.detector))
    store.close()


def test_item_outcomes_carry_prompt_response_and_flip(run):
    _, run_id, rows = run
    assert len(rows) == 3 * len(ITEMS)
    by = {(r.config, r.item_id): r for r in rows}
    assert by["base", "m2"].flip == "reference" and by["base", "m2"].status == "correct"
    assert by["safe", "m2"].outcome == "refused" and by["safe", "m2"].flip == "correct → refused"
    assert by["also-safe", "m2"].flip == "unchanged"
    assert by["safe", "b1"].flip == "answered → refused" and by["safe", "h1"].flip == "answered → refused"
    assert by["base", "f2"].status == "wrong" and by["base", "f2"].response == "Milan"
    assert by["safe", "x1"].response == XSS and by["safe", "x1"].prompt.startswith("Echo the tag </script>")
    assert by["base", "h1"].domain == "cyber" and all(r.run_id == run_id for r in rows)


def test_csv_round_trips_untrusted_text(run, tmp_path):
    _, _, rows = run
    path = export(rows, tmp_path / "out" / "items.csv", "csv")
    with path.open(newline="", encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert tuple(read[0]) == COLUMNS and len(read) == len(rows)
    assert [r["response"] for r in read] == [r.response for r in rows]
    assert not (tmp_path / "out" / "items.csv.tmp").exists()


def test_parquet_keeps_types(run, tmp_path):
    _, _, rows = run
    table = parquet().read_table(export(rows, tmp_path / "items.parquet", "parquet"))
    assert table.column_names == list(COLUMNS) and table.num_rows == len(rows)
    assert str(table.schema.field("correct").type) == "bool" and str(table.schema.field("sample").type) == "int32"
    assert table.column("response").to_pylist() == [r.response for r in rows]
    assert table.column("domain").to_pylist()[: len(ITEMS)] == [r.domain for r in rows][: len(ITEMS)]


def test_parquet_without_pyarrow_names_the_extra(run, tmp_path, monkeypatch):
    for module in ("pyarrow", "pyarrow.parquet"):
        monkeypatch.setitem(sys.modules, module, None)  # what `import pyarrow` meets where it is not installed
    with pytest.raises(AltaxError, match=r"pip install 'alignment-tax\[parquet\]'"):
        export(run[2], tmp_path / "items.parquet", "parquet")
    assert list(tmp_path.glob("*items.parquet*")) == []


def test_unknown_format_is_a_user_error(run, tmp_path):
    with pytest.raises(AltaxError, match="csv, parquet"):
        export(run[2], tmp_path / "x.xlsx", "xlsx")


def test_altax_export_writes_beside_the_run_by_default(run):
    pq = parquet()
    settings, run_id, rows = run
    args = ["export", run_id[:10], "--results-dir", str(settings.results_dir)]
    done = altax_here(*args, "--format", "parquet")
    assert done.returncode == 0, done.stderr
    path = settings.results_dir / run_id / "items.parquet"
    assert f"exported {len(rows)} answers" in done.stdout and pq.read_table(path).num_rows == len(rows)
    bad = altax_here(*args, "--format", "xml")
    assert bad.returncode == 2 and "unknown export format" in bad.stderr
