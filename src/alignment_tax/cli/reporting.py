"""`altax report`, `altax export` and `altax diff`: the HTML report, per-item exports and run comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from alignment_tax.cli.app import app, console, open_store, settings
from alignment_tax.cli.options import Detector, ResultsDir, RunId
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


def write_run_report(run_settings, results_path: Path, out: Path | None = None) -> Path:
    """Write the HTML report of an analysed run (default: report.html beside its results file)."""
    from alignment_tax.report.html import write_report

    payload = json.loads(results_path.read_text())
    with open_store(run_settings.store_path) as store:
        return write_report(store, payload, out or results_path.with_name("report.html"))


@app.command()
def report(
    run_id: RunId = "latest",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="HTML file [default: RUN/report.html]")] = None,
    detector: Detector = DEFAULT_DETECTOR,
    results_dir: ResultsDir = None,
) -> None:
    """Write one self-contained HTML report of a stored run (opens offline in any browser)."""
    from alignment_tax.files import check_target
    from alignment_tax.workflows.experiment import analyse

    if out is not None:
        check_target(out)
    run_settings = settings(results_dir, detector=detector)
    with open_store(run_settings.store_path) as store:
        output = analyse(store, store.run(run_id).run_id, run_settings)
    console.print(f"report: {write_run_report(run_settings, output.results_path, out)}", highlight=False)


@app.command()
def export(
    run_id: RunId = "latest",
    format: Annotated[str, typer.Option("--format", "-f", help="csv or parquet.")] = "csv",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File [default: RUN/items.FORMAT]")] = None,
    detector: Detector = DEFAULT_DETECTOR,
    results_dir: ResultsDir = None,
) -> None:
    """Export every judged answer of a run (item, configuration, outcome, flip, prompt, response)."""
    from alignment_tax.files import check_target
    from alignment_tax.judge.stage import judge_name
    from alignment_tax.report.exports import export as write_rows
    from alignment_tax.report.exports import item_outcomes

    if out is not None:
        check_target(out)
    run_settings = settings(results_dir, detector=detector)
    with open_store(run_settings.store_path) as store:
        info = store.run(run_id)
        rows = item_outcomes(store, info.run_id, judge_name(detector))
    path = write_rows(rows, out or run_settings.results_dir / info.run_id / f"items.{format}", format)
    console.print(f"exported {len(rows)} answers: {path}", highlight=False)


def _change(change) -> str:
    if change.change is None:
        return "–"
    low, high = change.change_ci
    return f"{change.a:.1f}→{change.b:.1f} {change.change:+.1f} [{low:+.1f},{high:+.1f}]"


@app.command()
def diff(
    run_a: Annotated[str, typer.Argument(help="The earlier run (id, prefix or 'latest').")],
    run_b: Annotated[str, typer.Argument(help="The later run.")],
    detector: Detector = DEFAULT_DETECTOR,
    results_dir: ResultsDir = None,
) -> None:
    """Compare two runs of one suite: per configuration, accuracy, coverage and over-refusal changes (paired
    bootstrap 95% CIs over the shared items) and which answers flipped."""
    from alignment_tax.analysis.diff import diff_runs
    from alignment_tax.errors import AltaxError
    from alignment_tax.judge.stage import judge_name

    run_settings = settings(results_dir, detector=detector)
    with open_store(run_settings.store_path) as store:
        a, b = store.run(run_a), store.run(run_b)
        if a.suite_name != b.suite_name:
            raise AltaxError(
                f"run {a.run_id} used suite {a.suite_name!r} and {b.run_id} {b.suite_name!r}; diff one suite"
            )
        items_a = {item.id: item for item in store.run_items(a.run_id)}
        items_b = {item.id: item for item in store.run_items(b.run_id)}
        shared = [i for i in items_a if i in items_b and items_a[i] == items_b[i]]
        judge = judge_name(detector)
        fingerprints = [{c["name"]: c for c in store.run_configs(r.run_id)} for r in (a, b)]
        result = diff_runs(
            store.judged_items(a.run_id, judge),
            store.judged_items(b.run_id, judge),
            shared,
            n_boot=run_settings.n_boot,
            seed=run_settings.seed,
        )
    console.print(
        f"[bold]{b.run_id}[/] against [bold]{a.run_id}[/]: {result.n_items} shared items "
        f"({len(items_a) - result.n_items} only or changed in A, {len(items_b) - result.n_items} in B)",
        highlight=False,
    )
    table = Table(title="B − A, pp (paired bootstrap 95% CI)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("configuration")
    for column in ("accuracy", "safety coverage", "over-refusal", "changed"):
        table.add_column(column, justify="right", no_wrap=True)
    for config in result.configs:
        cells = [_change(config.metrics[m]) for m in ("accuracy", "coverage", "over_refusal")]
        table.add_row(config.config, *cells, str(sum(config.flips.values())))
    console.print(table)
    changed = [c.config for c in result.configs if fingerprints[0].get(c.config) != fingerprints[1].get(c.config)]
    if changed:
        console.print(f"defined differently in the two runs: {', '.join(changed)}", highlight=False)
    for config in result.configs:
        if config.flips:
            flips = ", ".join(f"{label} ×{n}" for label, n in config.flips.items())
            console.print(f"{config.config}: {flips}", highlight=False, soft_wrap=True)
    for side, names in (("A", result.only_a), ("B", result.only_b)):
        if names:
            console.print(f"only in {side}: {', '.join(names)}", highlight=False)
