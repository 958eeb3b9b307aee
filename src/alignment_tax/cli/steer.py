"""`altax steer extract|list|sweep`: steering directions and the sweep that picks a layer and strength."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from alignment_tax.cli.app import app, console, settings
from alignment_tax.cli.options import Detector, ResultsDir
from alignment_tax.errors import AltaxError
from alignment_tax.judge.detectors import DEFAULT_DETECTOR
from alignment_tax.run.executor import GENERATION_BATCH

steer_app = typer.Typer(help="Activation steering: extract directions, list them, sweep layer and strength.")
app.add_typer(steer_app, name="steer", no_args_is_help=True)

DEFAULT_MODEL = "builtin:smollm2-135m-instruct"
Model = Annotated[str, typer.Option(help="Model spec (builtin: or hf:).")]


def _numbers(text: str, kind: type) -> list:
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise AltaxError(f"expected comma-separated {kind.__name__}s, got {text!r}") from None


@steer_app.command("extract")
def extract(
    model: Model = DEFAULT_MODEL,
    method: Annotated[str, typer.Option(help="caa (refusal vs compliance openings) or mean-diff.")] = "caa",
    name: Annotated[str | None, typer.Option(help="Save under this name \\[default: METHOD-MODEL].")] = None,
    seed: Annotated[int, typer.Option(help="Seed pairing prompts with openings (caa).")] = 0,
) -> None:
    """Extract a steering direction for every layer from the calibration set and save it in the user cache."""
    from alignment_tax.workflows.directions import extract_and_save

    with console.status(f"extracting {method} directions from the calibration set"):
        direction, path = extract_and_save(model, method, name, seed)
    best = max(range(direction.n_layers), key=lambda i: direction.separation[i])
    console.print(f"saved {path}", highlight=False)
    console.print(
        f"{direction.n_layers} layers; widest separation at layer {best} "
        f"({direction.separation[best]:.2f} of the typical norm {direction.norms[best]:.1f})",
        highlight=False,
    )


@steer_app.command("list")
def list_() -> None:
    """List saved directions (packaged ones and those in the user cache)."""
    from alignment_tax.interventions.directions import PACKAGED, list_directions

    table = Table("name", "method", "model", "layers", "calibration", "where")
    for direction, path in list_directions():
        where = "packaged" if path.parent == PACKAGED else str(path.parent)
        table.add_row(
            direction.name,
            direction.method,
            direction.model_fingerprint,
            str(direction.n_layers),
            direction.calibration_hash,
            where,
        )
    console.print(table)


@steer_app.command("sweep")
def sweep(
    layers: Annotated[str, typer.Option(help="Comma-separated decoder layers, e.g. 8,12,16.")],
    strengths: Annotated[str, typer.Option(help="Comma-separated strengths (x typical residual norm).")] = "0,0.1,0.2",
    model: Model = DEFAULT_MODEL,
    direction: Annotated[str | None, typer.Option(help="Direction name \\[default: caa-MODEL].")] = None,
    mode: Annotated[str, typer.Option(help="add, or ablate (strengths are then ignored).")] = "add",
    suite: Annotated[str, typer.Option(help="Bundled suite name or .jsonl/.csv file.")] = "core",
    limit: Annotated[int | None, typer.Option(help="At most N items per category.", min=2)] = None,
    max_tax: Annotated[float | None, typer.Option(help="Largest capability tax allowed (points).")] = None,
    min_coverage: Annotated[float | None, typer.Option(help="Smallest share of harmful refused (%).")] = None,
    max_over_refusal: Annotated[float | None, typer.Option(help="Largest share of benign refused (%).")] = None,
    max_degenerate: Annotated[float, typer.Option(help="Degenerate answers allowed above the reference (pts).")] = 5,
    split_seed: Annotated[int, typer.Option(help="Seed of the tuning/held-out split.")] = 0,
    max_new_tokens: Annotated[
        int | None, typer.Option(help="One length cap for every category (a quicker, rougher look).", min=1)
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts generated together.")] = GENERATION_BATCH,
    detector: Detector = DEFAULT_DETECTOR,
    out: Annotated[
        Path | None, typer.Option(help="Curve JSON \\[default: RESULTS_DIR/RUN/steering-sweep.json].")
    ] = None,
    results_dir: ResultsDir = None,
) -> None:
    """Run one steered configuration per (layer, strength) and the unsteered reference, choose the setting that
    meets the constraints on a tuning half of the items, and report it on the held-out half."""
    from alignment_tax.analysis.sweep import Constraints
    from alignment_tax.report.progress import stage_progress
    from alignment_tax.report.sweep_table import print_sweep
    from alignment_tax.workflows.sweep import steering_sweep

    bounds = {"max_tax": max_tax, "min_coverage": min_coverage, "max_over_refusal": max_over_refusal}
    constraints = Constraints(**bounds, max_degenerate_rise=max_degenerate)
    run_settings = settings(results_dir, batch_size=batch_size, detector=detector, n_boot=500)
    with stage_progress(console) as progress:
        result, curve = steering_sweep(
            model, direction, _numbers(layers, int), _numbers(strengths, float), run_settings, constraints, mode=mode,
            suite=suite, limit=limit, max_new_tokens=max_new_tokens, split_seed=split_seed, out=out, progress=progress,
        )  # fmt: skip
    print_sweep(console, result)
    console.print(f"curve: {curve}", highlight=False)
