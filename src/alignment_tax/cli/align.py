"""`altax align` and `altax align-check`: train a LoRA safety adapter, and check what it refuses."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from alignment_tax.cli.app import app, console, settings
from alignment_tax.cli.options import ResultsDir
from alignment_tax.errors import AltaxError
from alignment_tax.run.executor import GENERATION_BATCH

DataFiles = Annotated[
    list[Path], typer.Option("--data", help="Lab JSONL file (id, prompt, target, kind, area, split); repeatable.")
]
Scope = Annotated[str, typer.Option(help="general (every area) or one area, e.g. medical.")]


@app.command()
def align(
    base: Annotated[str, typer.Argument(help="Base model: builtin:NAME or hf:ID_OR_PATH.")],
    data: DataFiles,
    out: Annotated[Path, typer.Option(help="Folder for the adapter and its altax-align.json.")],
    scope: Scope = "general",
    refusal_share: Annotated[
        float | None, typer.Option(help="Resample so harmful rows make up this share (unset: keep the data as it is).")
    ] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Optimizer steps (overrides --epochs).")] = None,
    epochs: Annotated[float, typer.Option(min=0.01, help="Passes over the training pool.")] = 1.0,
    lr: Annotated[float, typer.Option(min=1e-8, help="Peak learning rate (AdamW, warmup then linear decay).")] = 2e-4,
    rank: Annotated[int, typer.Option(min=1, help="LoRA rank.")] = 8,
    alpha: Annotated[float, typer.Option(min=0.01, help="LoRA alpha (scale = alpha / rank).")] = 16.0,
    target_modules: Annotated[str, typer.Option(help="Comma-separated linear layers to adapt.")] = "q_proj,v_proj",
    batch_size: Annotated[int, typer.Option(min=1, help="Sequences per step.")] = 8,
    max_length: Annotated[int, typer.Option(min=16, help="Tokens per sequence (prompt + target).")] = 256,
    seed: Annotated[int, typer.Option(help="Seed of resampling, batch order and LoRA initialisation.")] = 0,
) -> None:
    """Train a LoRA safety adapter by supervised fine-tuning on the train split of lab JSONL data."""
    from alignment_tax.lab.train import make_settings, prepare, train
    from alignment_tax.report.training import adapter_summary, train_progress

    settings = make_settings(
        base=base,
        scope=scope,
        refusal_share=refusal_share,
        steps=steps,
        epochs=epochs,
        lr=lr,
        rank=rank,
        alpha=alpha,
        target_modules=tuple(m.strip() for m in target_modules.split(",") if m.strip()),
        batch_size=batch_size,
        max_length=max_length,
        seed=seed,
    )
    prepared = prepare(settings, list(data), out)  # every data problem is reported before training starts
    with train_progress(console, prepared.steps) as on_step:
        record = train(prepared, on_step=on_step, command=shlex.join(["altax", *sys.argv[1:]]))
    console.print(adapter_summary(record, out), highlight=False, soft_wrap=True)


@app.command("align-check")
def align_check(
    model: Annotated[str, typer.Argument(help="Model spec, e.g. builtin:smollm2-135m-instruct+safety-lora.")],
    data: DataFiles,
    split: Annotated[str, typer.Option(help="train or heldout.")] = "heldout",
    scope: Scope = "general",
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Tokens generated per prompt.")] = 48,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts generated together.")] = GENERATION_BATCH,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write rates and answers here.")] = None,
    results_dir: ResultsDir = None,
) -> None:
    """Refusal rate per kind on lab rows (greedy generation, lexical refusal detector); answers are kept in the
    store, so checking again generates nothing."""
    from alignment_tax.lab.data import load_files, select
    from alignment_tax.report.lab_check import rates_table, write_check
    from alignment_tax.report.progress import stage_progress
    from alignment_tax.store import Store
    from alignment_tax.workflows.lab_evaluation import refusal_rates

    if split not in ("train", "heldout"):
        raise AltaxError(f"--split {split!r}: use train or heldout")
    rows = select([r for f in load_files(list(data)) for r in f.rows], split, scope)  # type: ignore[arg-type]
    with stage_progress(console) as progress, Store(settings(results_dir).store_path) as store:
        rates, answers = refusal_rates(model, rows, store, max_new_tokens, batch_size, progress)
    console.print(rates_table(f"{model} on {split} rows ({scope})", rates))
    if json_out is not None:
        write_check(json_out, {"model": model, "split": split, "scope": scope}, rates, answers)
