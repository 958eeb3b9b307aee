"""Read other harnesses' logs (lm-evaluation-harness ``--log_samples``, inspect_ai eval logs) into answered items."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alignment_tax.errors import AltaxError
from alignment_tax.suite.schema import Item

INPUT_FIELDS = ("input", "question", "prompt", "query", "problem", "text")
"""Document fields that hold the question, in the order an lm-eval document is searched for one."""


@dataclass(frozen=True)
class HarnessSample:
    """One answer read from a harness log: the item as the log describes it, what the model was sent and what it
    said, and the harness's own score of it (1 passes, 0 fails)."""

    item: Item
    prompt: str
    """The rendered prompt when the log keeps it (lm-eval), else the user turn."""
    answer: str
    """The generated text; for a log-likelihood task, the choice the model ranked first."""
    value: float
    system_prompt: str | None = None


@dataclass(frozen=True)
class HarnessLog:
    """The samples of one task of one harness log, and what the log says about how they were made."""

    harness: str
    model: str
    task: str
    metric: str
    samples: tuple[HarnessSample, ...]


def item_id(raw: object) -> str:
    """A document or sample id as an item id (characters an id may not hold become ``_``)."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", str(raw)) or "_"


def pass_fail(value: object, metric: str, source: str) -> float:
    """A per-sample metric value that must be 0 or 1: other values cannot say whether an answer was right."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if number not in (0.0, 1.0):
        raise AltaxError(
            f"{source}: metric {metric!r} has the value {value!r}, not 0 or 1; pass --metric with a pass/fail one"
        )
    return number


def new_item(ident: str, task: str, text: str, choices: list[str] | None, target: str, meta: dict) -> Item:
    """The item a harness sample stands for when no stored run supplies it: category and kind from the sample's
    metadata when given (else the task is the category), scored by choice letter or by the target text."""
    category = str(meta.get("category") or task)
    kind = meta.get("kind", "capability")
    if kind == "harmful":
        reference: dict = {"scorer": "refuse"}
    elif choices and re.fullmatch(r"[A-Z]", target) and ord(target) - ord("A") < len(choices):
        reference = {"scorer": "choice", "answer": target}
    else:
        reference = {"scorer": "exact", "answers": [target]} if target.strip() else {"scorer": "comply"}
    try:
        return Item(
            id=ident,
            category=kind if kind in ("harmful", "benign") else category,
            kind=kind,
            prompt=text,
            choices=choices or None,
            reference=reference,
            group=task,
        )
    except ValidationError as error:
        raise AltaxError(f"{task} sample {ident}: cannot read it as an item: {error.errors()[0]['msg']}") from None


# lm-evaluation-harness ---------------------------------------------------------------------------------


def lm_eval_files(path: Path) -> tuple[list[Path], dict]:
    """The samples files at ``path`` (one ``samples_*.jsonl``, or a folder of them, searched recursively) and the
    newest ``results_*.json`` beside them (model, system instruction), if any."""
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(path.rglob("samples_*.jsonl"))
    else:
        raise AltaxError(f"{path} does not exist: give an lm-eval samples_*.jsonl file or its output folder")
    if not files:
        raise AltaxError(f"{path} holds no samples_*.jsonl: run lm_eval with --log_samples --output_path")
    results = sorted(files[0].parent.glob("results_*.json"))
    try:
        return files, json.loads(results[-1].read_text(encoding="utf-8")) if results else {}
    except (OSError, ValueError) as error:
        raise AltaxError(f"{results[-1]}: not an lm-eval results file ({error})") from None


def read_lm_eval(path: Path, task: str | None = None, metric: str | None = None) -> HarnessLog:
    """One task's samples from lm-evaluation-harness ``--log_samples`` output (0.4.x JSONL)."""
    files, results = lm_eval_files(path)
    by_task = {file.name.removeprefix("samples_").rsplit("_", 1)[0]: file for file in files}
    if task is None and len(by_task) > 1:
        raise AltaxError(f"{path} holds several tasks ({', '.join(sorted(by_task))}); choose one with --task")
    name = task or next(iter(by_task))
    if name not in by_task:
        raise AltaxError(f"{path} has no samples of task {name!r}; it has {', '.join(sorted(by_task))}")
    rows = [json.loads(line) for line in by_task[name].read_text(encoding="utf-8").splitlines() if line.strip()]
    if not rows:
        raise AltaxError(f"{by_task[name]} holds no samples")
    chosen = metric or rows[0]["metrics"][0]
    system = results.get("system_instruction")
    samples = tuple(_lm_eval_sample(row, name, chosen, system, by_task[name]) for row in rows)
    model = results.get("model_name") or results.get("config", {}).get("model_args") or "unknown"
    return HarnessLog("lm-eval", str(model), name, chosen, samples)


def _lm_eval_sample(row: dict, task: str, metric: str, system: str | None, source: Path) -> HarnessSample:
    if metric not in row:
        raise AltaxError(f"{source}: samples have no metric {metric!r}; they have {', '.join(row['metrics'])}")
    doc = row["doc"]
    arguments = [row["arguments"][f"gen_args_{i}"] for i in range(len(row["arguments"]))]
    ident = item_id(doc["id"]) if isinstance(doc, dict) and "id" in doc else item_id(f"{task}-{row['doc_id']}")
    try:
        item = Item.model_validate(doc)  # a suite of altax items run as an lm-eval task keeps everything
    except ValidationError:
        item = _lm_eval_item(ident, task, doc, arguments, row["target"])
    if isinstance(arguments[0]["arg_1"], dict):  # generate_until: (context, generation settings)
        answer = str(row["resps"][0][0])
    else:  # loglikelihood over the choices: the continuation ranked first
        scores = [float(resp[0]) for resp in row["filtered_resps"]]
        answer = arguments[max(range(len(scores)), key=scores.__getitem__)]["arg_1"].strip()
    return HarnessSample(
        item, arguments[0]["arg_0"], answer, pass_fail(row[metric], metric, str(source)), system or None
    )


def _lm_eval_item(ident: str, task: str, doc: object, arguments: list[dict], target: str) -> Item:
    fields = doc if isinstance(doc, dict) else {}
    text = next((fields[k] for k in INPUT_FIELDS if isinstance(fields.get(k), str)), arguments[0]["arg_0"])
    choices = fields.get("choices")
    choices = choices if isinstance(choices, list) and all(isinstance(c, str) for c in choices) else None
    if choices and target.isdigit():
        target = chr(ord("A") + int(target))
    return new_item(ident, task, text, choices, target, fields)


# inspect_ai --------------------------------------------------------------------------------------------


def read_inspect(path: Path, scorer: str | None = None) -> HarnessLog:
    """The samples of an inspect_ai log (``.eval`` or ``.json``), read by inspect_ai's own ``read_eval_log``."""
    try:
        from inspect_ai.log import read_eval_log
        from inspect_ai.scorer import value_to_float
    except ImportError:
        raise AltaxError(
            "reading inspect_ai logs needs the inspect extra: pip install 'alignment-tax[inspect]'"
        ) from None
    if not path.is_file():
        raise AltaxError(f"{path} is not a file: give an inspect_ai .eval or .json log")
    try:
        log = read_eval_log(str(path))
    except Exception as error:  # inspect raises many kinds for a file that is not its log
        raise AltaxError(f"{path}: not an inspect_ai log ({type(error).__name__}: {error})") from None
    if log.status != "success" or not log.samples:
        raise AltaxError(f"{path}: the eval ended with status {log.status!r} and {len(log.samples or [])} samples")
    names = list(log.samples[0].scores or {})
    if not names:
        raise AltaxError(f"{path}: its samples have no scores; run inspect with a scorer")
    chosen = scorer or names[0]
    to_float = value_to_float()
    samples = []
    for sample in log.samples:
        if chosen not in (sample.scores or {}):
            raise AltaxError(f"{path}: sample {sample.id} has no score {chosen!r}; it has {', '.join(names)}")
        samples.append(_inspect_sample(sample, log.eval.task, chosen, to_float, str(path)))
    return HarnessLog("inspect", log.eval.model, log.eval.task, chosen, tuple(samples))


def _inspect_sample(
    sample: Any, task: str, scorer: str, to_float: Callable[[Any], float], source: str
) -> HarnessSample:
    """One ``EvalSample``: its last user message is the item's prompt, its system messages the system prompt."""
    if isinstance(sample.input, str):
        system, users = [], [sample.input]
    else:
        system = [m.text for m in sample.input if m.role == "system"]
        users = [m.text for m in sample.input if m.role == "user"]
    target = sample.target if isinstance(sample.target, str) else (sample.target or [""])[0]
    ident = item_id(sample.id if sample.epoch == 1 else f"{sample.id}-epoch{sample.epoch}")
    item = new_item(ident, task, users[-1], sample.choices, target, sample.metadata or {})
    value = pass_fail(to_float(sample.scores[scorer].value), scorer, source)
    return HarnessSample(item, users[-1], sample.output.completion, value, "\n".join(system) or None)
