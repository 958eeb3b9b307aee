"""The `altax` command: run, compare, show and judge runs, list and check suites."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alignment_tax.errors import AltaxError

app = typer.Typer(help="Measure the alignment tax: what safety costs a model in capability.", no_args_is_help=True)
suite_app = typer.Typer(help="Work with suite files.", no_args_is_help=True)
app.add_typer(suite_app, name="suite")
console = Console() if Console().is_terminal else Console(width=120)
_state = {"debug": False}

ResultsDir = Annotated[
    Path | None,
    typer.Option("--results-dir", help="Store and results folder [env ALTAX_RESULTS_DIR, default ./altax-results]."),
]


def friendly(command: Callable) -> Callable:
    """Print a user error in one line and exit 2, unless --debug asks for the traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except AltaxError as error:
            if _state["debug"]:
                raise
            Console(stderr=True).print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            Console(stderr=True).print("interrupted: finished batches are stored; run again to resume")
            raise typer.Exit(130) from None

    return wrapper


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    _state["debug"] = debug


def _settings(results_dir: Path | None, **options):
    from alignment_tax.pipeline import Settings

    settings = Settings(**options)
    return settings if results_dir is None else Settings(results_dir=results_dir, **options)


def _execute(experiment, settings) -> None:
    from alignment_tax.pipeline import run_experiment
    from alignment_tax.report.progress import stage_progress
    from alignment_tax.report.terminal import print_results

    with stage_progress(console) as progress:
        output = run_experiment(experiment, settings, progress)
    print_results(console, json.loads(output.results_path.read_text()))
    console.print(f"results: {output.results_path}", highlight=False)


@app.command()
@friendly
def run(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Experiment file (.toml or .yaml).")] = None,
    suite: Annotated[str | None, typer.Option(help="Bundled suite name or .jsonl/.csv file.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most N items per category.", min=1)] = None,
    fresh: Annotated[bool, typer.Option(help="Ignore cached generations.")] = False,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    detector: Annotated[str, typer.Option(help="Refusal detector.")] = "lexical",
    results_dir: ResultsDir = None,
) -> None:
    """Evaluate configurations over a suite (default: the core suite under the default configurations)."""
    from alignment_tax.configs.experiment import default_experiment, load_experiment

    experiment = load_experiment(config) if config else default_experiment()
    updates = {k: v for k, v in {"suite": suite, "limit": limit}.items() if v is not None}
    experiment = experiment.model_copy(update=updates)
    _execute(experiment, _settings(results_dir, fresh=fresh, batch_size=batch_size, detector=detector))


@app.command()
@friendly
def compare(
    reference: Annotated[str, typer.Option(help="Model spec of the reference (unaligned) model.")],
    aligned: Annotated[str, typer.Option(help="Model spec of the aligned model.")],
    suite: Annotated[str, typer.Option(help="Bundled suite name or .jsonl/.csv file.")] = "core",
    limit: Annotated[int | None, typer.Option(help="At most N items per category.", min=1)] = None,
    fresh: Annotated[bool, typer.Option(help="Ignore cached generations.")] = False,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    results_dir: ResultsDir = None,
) -> None:
    """Measure the tax of one aligned model against its reference twin."""
    from alignment_tax.configs.experiment import pair_experiment

    experiment = pair_experiment(reference, aligned, suite).model_copy(update={"limit": limit})
    _execute(experiment, _settings(results_dir, fresh=fresh, batch_size=batch_size))


@app.command()
@friendly
def show(
    run_id: Annotated[str, typer.Argument(help="Run id, a unique prefix of one, or 'latest'.")] = "latest",
    detector: Annotated[str, typer.Option(help="Refusal detector whose judgments to show.")] = "lexical",
    as_json: Annotated[bool, typer.Option("--json", help="Print the results JSON.")] = False,
    results_dir: ResultsDir = None,
) -> None:
    """Print a past run again from the store, without touching a model."""
    from alignment_tax.pipeline import analyse
    from alignment_tax.report.terminal import print_results
    from alignment_tax.store import Store

    settings = _settings(results_dir, detector=detector)
    _require_store(settings.store_path)
    store = Store(settings.store_path)
    try:
        output = analyse(store, store.run(run_id).run_id, settings)
    finally:
        store.close()
    payload = json.loads(output.results_path.read_text())
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        print_results(console, payload)


@app.command()
@friendly
def judge(
    run_id: Annotated[str, typer.Argument(help="Run id, a unique prefix of one, or 'latest'.")] = "latest",
    detector: Annotated[str, typer.Option(help="Refusal detector.")] = "lexical",
    rejudge: Annotated[bool, typer.Option(help="Judge again answers already judged.")] = False,
    results_dir: ResultsDir = None,
) -> None:
    """Judge (or re-judge) a stored run's answers with a refusal detector; no model is called."""
    from alignment_tax.judge.stage import judge_run
    from alignment_tax.store import Store

    settings = _settings(results_dir, detector=detector)
    _require_store(settings.store_path)
    store = Store(settings.store_path)
    try:
        info = store.run(run_id)
        count = judge_run(store, info.run_id, detector, rejudge=rejudge)
    finally:
        store.close()
    console.print(
        f"judged {count} answers of run {info.run_id} with {detector}; `altax show {info.run_id} --detector {detector}`"
    )


@app.command()
@friendly
def runs(results_dir: ResultsDir = None) -> None:
    """List the runs in the store."""
    import time

    from alignment_tax.store import Store

    settings = _settings(results_dir)
    _require_store(settings.store_path)
    store = Store(settings.store_path)
    table = Table("run", "created", "suite", "configurations", "status")
    for info in store.runs():
        names = ", ".join(c["name"] for c in info.experiment["configs"])
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created_at))
        table.add_row(info.run_id, created, f"{info.suite_name} {info.suite_version}", names, info.status)
    store.close()
    console.print(table)


@app.command()
@friendly
def suites() -> None:
    """List the bundled suites."""
    from alignment_tax.suite.loaders import bundled_suites

    table = Table("suite", "version", "items", "description")
    for suite in bundled_suites():
        table.add_row(suite.name, suite.version, str(len(suite.items)), suite.description)
    console.print(table)


@suite_app.command("check")
@friendly
def suite_check(file: Annotated[Path, typer.Argument(help="A .jsonl or .csv suite file.")]) -> None:
    """Validate a suite file and summarise it by kind and category."""
    from collections import Counter

    from alignment_tax.suite.loaders import load_suite_file

    suite = load_suite_file(file)
    counts = Counter((item.kind, item.category) for item in suite.items)
    table = Table("kind", "category", "items")
    for (kind, category), n in sorted(counts.items()):
        table.add_row(kind, category, str(n))
    console.print(table)
    console.print(f"{file}: {len(suite.items)} valid items, version {suite.version}", highlight=False)


def _require_store(path: Path) -> None:
    if not path.is_file():
        raise AltaxError(f"no store at {path}: run `altax run` first or pass --results-dir")
