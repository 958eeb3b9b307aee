"""`altax judge`: re-judge a stored run, audit a detector against people, label refusals in any CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from alignment_tax.cli.app import app, console, open_store, renamed, settings
from alignment_tax.cli.options import Detector, ResultsDir, RunId
from alignment_tax.errors import AltaxError
from alignment_tax.judge.detectors import DEFAULT_DETECTOR


class _JudgeGroup(TyperGroup):
    """`altax judge [RUN]` judges a run; `altax judge audit|refusals ...` are subcommands."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


judge_app = typer.Typer(
    cls=_JudgeGroup,
    help="`altax judge [RUN] [--detector NAME] [--rejudge]` judges a stored run without calling a model; "
    "the commands below audit detectors and label CSV files.",
)
app.add_typer(judge_app, name="judge")


@judge_app.command("run", hidden=True)
def judge_stored(
    run_id: RunId = "latest",
    detector: Detector = DEFAULT_DETECTOR,
    rejudge: Annotated[bool, typer.Option(help="Judge again answers already judged.")] = False,
    results_dir: ResultsDir = None,
) -> None:
    """Judge (or re-judge) a stored run's answers with a refusal detector; no model is called."""
    from alignment_tax.judge.stage import judge_run
    from alignment_tax.report.progress import stage_progress

    with open_store(settings(results_dir).store_path) as store, stage_progress(console) as progress:
        info = store.run(run_id)
        count = judge_run(store, info.run_id, detector, rejudge=rejudge, progress=progress)
    console.print(
        f"judged {count} answers of run {info.run_id} with {detector}; "
        f"`altax show {info.run_id} --detector {detector}` prints the results",
        highlight=False,
    )


@judge_app.command("audit")
def audit(
    run_id: RunId = "latest",
    sample: Annotated[int, typer.Option(min=1, help="Answers to sample per configuration.")] = 50,
    out: Annotated[Path | None, typer.Option(help="Write the labelling sheet (CSV) here.")] = None,
    labels: Annotated[Path | None, typer.Option(help="A labelled sheet: report detector error.")] = None,
    detector: Detector = DEFAULT_DETECTOR,
    positive: Annotated[str, typer.Option(help="'refusal' (full refusals) or 'any' (partials too).")] = "refusal",
    seed: Annotated[int, typer.Option(help="Seed of the sample and the bootstrap.")] = 0,
    results_dir: ResultsDir = None,
) -> None:
    """Sample answers for a person to label (--out), or report sensitivity, specificity and
    Rogan-Gladen corrected refusal rates per configuration from a labelled sheet (--labels)."""
    from alignment_tax.judge.audit import audit_report, read_labels, sample_rows, write_audit_csv
    from alignment_tax.report.audit_table import audit_table
    from alignment_tax.workflows.audit import judged_rows

    if (out is None) == (labels is None):
        raise AltaxError("give one of --out FILE (write a sheet to label) or --labels FILE (read a labelled one)")
    with open_store(settings(results_dir).store_path) as store:
        run, rows = judged_rows(store, run_id, detector)
    if labels is not None:
        console.print(audit_table(audit_report(rows, read_labels(labels), positive, seed)))
        console.print(f"{detector} on run {run}; rates are of '{positive}' over all answers, 95% CIs", highlight=False)
    elif out is not None:
        chosen = sample_rows(rows, sample, seed)
        write_audit_csv(chosen, out)
        console.print(f"wrote {len(chosen)} answers to {out}; fill human_label and pass it back with --labels")


@judge_app.command("refusals")
def refusals(
    file: Annotated[Path, typer.Argument(help="A CSV file with a response column.")],
    column: Annotated[str, typer.Option(help="The column holding the responses.")] = "completion",
    prompt_column: Annotated[str | None, typer.Option(help="The column holding the prompts, if any.")] = None,
    out: Annotated[Path, typer.Option(help="Where to write the labelled CSV.")] = Path("labelled.csv"),
    detector: Detector = DEFAULT_DETECTOR,
) -> None:
    """Label every response in a CSV: adds refusal (refusal, partial, compliance, undetermined),
    refusal_decided (undetermined taken at its lean), refusal_confidence and degenerate."""
    from alignment_tax.report.refusal_labels import label_csv

    n, counts = label_csv(file, out, detector, column, prompt_column)
    console.print(f"labelled {n} responses with {detector} into {out}: {counts}", highlight=False)


@judge_app.command("probe", hidden=True)
def probe(
    run_id: RunId = "latest",
    detector: Detector = DEFAULT_DETECTOR,
    threshold: Annotated[float, typer.Option(help="Log-odds above which the probe calls a refusal.")] = 0.0,
    results_dir: ResultsDir = None,
) -> None:
    """Deprecated name of `altax probe --run RUN` (keeping its old default threshold, 0)."""
    from alignment_tax.cli.probe import probe_against_run

    renamed("judge probe RUN", "probe --run RUN")
    probe_against_run(run_id, detector, threshold, results_dir)
