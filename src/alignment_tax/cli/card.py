"""`altax card`: the tax card of a stored run, as a model-card section (Markdown) or a model-index YAML block."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console, open_store, settings
from alignment_tax.cli.options import ClusterBy, Detector, ResultsDir, RunId
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


class CardFormat(StrEnum):
    md = "md"
    yaml = "yaml"


@app.command()
def card(
    run_id: RunId = "latest",
    format: Annotated[
        CardFormat, typer.Option("--format", "-f", help="md (model-card section) or yaml.")
    ] = CardFormat.md,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the card here instead of stdout.")] = None,
    detector: Detector = DEFAULT_DETECTOR,
    cluster: ClusterBy = "group",
    results_dir: ResultsDir = None,
) -> None:
    """Write the tax card of a stored run (no model is loaded): tax per category and overall, coverage and
    over-refusal with intervals, the detector and its measured accuracy, suite, fingerprints, altax version."""
    from alignment_tax.files import check_target, write_text
    from alignment_tax.report.card import card_markdown, card_yaml
    from alignment_tax.workflows.card import card_facts

    if out is not None:
        check_target(out)
    run_settings = settings(results_dir, detector=detector, cluster=cluster)
    with open_store(run_settings.store_path) as store:
        facts = card_facts(store, run_id, run_settings)
    text = card_markdown(facts) if format is CardFormat.md else card_yaml(facts)
    if out is None:
        sys.stdout.write(text)
    else:
        console.print(f"card: {write_text(out, text)}", highlight=False)
