"""`altax loglik`: score a run's multiple-choice items by log-likelihood and report the gap to generation."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from alignment_tax.cli.app import app, console, open_store, settings
from alignment_tax.cli.options import Detector, ResultsDir, RunId
from alignment_tax.errors import AltaxError
from alignment_tax.files import write_text
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


@app.command()
def loglik(
    run_id: RunId = "latest",
    target: Annotated[str, typer.Option(help="Score each choice's letter, or its text (per-character).")] = "letter",
    detector: Detector = DEFAULT_DETECTOR,
    results_dir: ResultsDir = None,
) -> None:
    """Log-likelihood accuracy against generation accuracy on a run's multiple-choice items, per configuration,
    and the refusal-driven tax estimated from them (generation tax minus log-likelihood tax)."""
    from alignment_tax.analysis.loglik import loglik_gap
    from alignment_tax.configs.schema import Configuration
    from alignment_tax.judge.stage import judge_name
    from alignment_tax.models.specs import load_backend
    from alignment_tax.run.backends import load_backends
    from alignment_tax.workflows.loglik import choice_items, score_choices

    if target not in ("letter", "text"):
        raise AltaxError(f"--target must be letter or text, not {target!r}")
    run_settings = settings(results_dir, detector=detector)
    with open_store(run_settings.store_path) as store:
        info = store.run(run_id)
        items = store.run_items(info.run_id)
        configs = [Configuration.model_validate(c) for c in store.run_configs(info.run_id)]
        judged = store.judged_items(info.run_id, judge_name(detector))
        routes = {(r.config, r.item_id): r.guarded for r in store.run_routes(info.run_id)}
    if not choice_items(items):
        raise AltaxError(f"run {info.run_id} has no multiple-choice items (items with choices) to score")
    backends = load_backends(configs, load_backend)
    scores = score_choices(configs, items, backends, target, routes)  # type: ignore[arg-type]
    rows = loglik_gap(
        {(s["config"], s["item_id"]): s["correct"] for s in scores},
        judged,
        info.reference,
        n_boot=run_settings.n_boot,
        seed=run_settings.seed,
    )
    table = Table(title=f"Log-likelihood vs generation, {rows[0].n if rows else 0} multiple-choice items ({target})")
    for column in ("configuration", "loglik acc", "gen acc", "gap", "refused", "gen tax", "loglik tax"):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    table.add_column("refusal-driven: estimate [95% CI]", justify="right")
    table.add_column("judged", justify="right")
    for row in rows:
        low, high = row.refusal_estimate_ci
        table.add_row(
            row.config,
            f"{row.loglik_accuracy:.1f}%",
            f"{row.generation_accuracy:.1f}%",
            f"{row.gap:+.1f}",
            f"{row.refusal_rate:.1f}%",
            f"{row.generation_tax:+.1f}",
            f"{row.loglik_tax:+.1f}",
            f"{row.refusal_estimate:+.1f} [{low:+.1f},{high:+.1f}]",
            f"{row.refusal_driven:+.1f}",
        )
    console.print(table)
    payload = {"run_id": info.run_id, "target": target, "summary": [r.to_dict() for r in rows], "items": scores}
    path = write_text(run_settings.results_dir / info.run_id / "loglik.json", json.dumps(payload, indent=2))
    console.print(f"log-likelihood results: {path}", highlight=False)
