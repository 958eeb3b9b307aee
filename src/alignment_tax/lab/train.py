"""Supervised LoRA safety training: a seeded plain torch loop over PEFT, and its altax-align.json record."""

from __future__ import annotations

import json
import math
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignment_tax.errors import AltaxError
from alignment_tax.lab.data import ALL_SCOPE, DataFile, LabRow, counts, load_files, resample, select
from alignment_tax.lab.encode import Example, collate, encode_rows

if TYPE_CHECKING:
    from alignment_tax.models.hf import HFBackend

RECORD = "altax-align.json"
"""The training record saved beside the adapter."""
_OURS = {"adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", RECORD, "README.md"}


class AlignSettings(BaseModel):
    """Everything that determines an adapter besides the data: saved in the record."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    base: str
    scope: str = ALL_SCOPE
    refusal_share: float | None = Field(default=None, ge=0.0, le=1.0)
    steps: int | None = Field(default=None, ge=1)
    epochs: float = Field(default=1.0, gt=0.0)
    lr: float = Field(default=2e-4, gt=0.0)
    rank: int = Field(default=8, ge=1)
    alpha: float = Field(default=16.0, gt=0.0)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    batch_size: int = Field(default=8, ge=1)
    max_length: int = Field(default=256, ge=16)
    seed: int = 0


def make_settings(**values) -> AlignSettings:
    """Validated settings; a bad value raises an AltaxError naming the option."""
    try:
        return AlignSettings(**values)
    except ValidationError as error:
        first = error.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-") if first["loc"] else "settings"
        raise AltaxError(f"{option}: {first['msg']}") from None


def base_backend(spec: str) -> HFBackend:
    """The HF backend of a trainable base (``builtin:NAME`` or ``hf:ID_OR_PATH``, without an adapter)."""
    from alignment_tax.models.hf import HFBackend
    from alignment_tax.models.specs import load_backend, parse_spec

    parsed = parse_spec(spec)
    if parsed.scheme not in ("builtin", "hf"):
        raise AltaxError(f"cannot train on {spec!r}: the base must be builtin:NAME or hf:ID_OR_PATH")
    if "+" in parsed.target:
        raise AltaxError(f"the base {spec!r} already carries an adapter; train on the plain base model")
    backend = load_backend(spec)
    assert isinstance(backend, HFBackend)  # both schemes load one
    return backend


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise AltaxError(f"--out {out} is a file; give a folder for the adapter")
    if out.is_dir():
        strangers = sorted(p.name for p in out.iterdir() if p.name not in _OURS)
        if strangers:
            raise AltaxError(f"--out {out} holds other files ({', '.join(strangers[:3])}); pick an empty folder")


def _lora(model, settings: AlignSettings):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,  # type: ignore[arg-type]  # PEFT annotates int, but only divides it by r
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # transformers' own deprecation, raised inside PEFT
            return get_peft_model(model, config)
    except ValueError as error:
        import torch

        names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        raise AltaxError(
            f"--target-modules {','.join(settings.target_modules)}: {str(error).splitlines()[0]} "
            f"(linear layers of this model: {', '.join(names)})"
        ) from None


def _batches(n: int, batch_size: int, steps: int, seed: int) -> list[list[int]]:
    """Row indices of each step: seeded shuffles of the pool, one after another."""
    rng = random.Random(seed)
    order: list[int] = []
    out: list[list[int]] = []
    for _ in range(steps):
        while len(order) < batch_size:
            epoch = list(range(n))
            rng.shuffle(epoch)
            order.extend(epoch)
        out.append(order[:batch_size])
        order = order[batch_size:]
    return out


@dataclass
class Prepared:
    """Validated, encoded training input: everything checked before the first step."""

    settings: AlignSettings
    files: list[DataFile]
    rows: list[LabRow]
    pool: list[LabRow]
    backend: HFBackend
    examples: list[Example]
    out: Path

    @property
    def steps(self) -> int:
        batches = self.settings.epochs * len(self.pool) / self.settings.batch_size
        return self.settings.steps or max(1, math.ceil(batches))


def prepare(settings: AlignSettings, data: list[str | Path], out: str | Path) -> Prepared:
    """Read, validate, select, resample and tokenize the train split; any problem raises an AltaxError here."""
    out = Path(out)
    files = load_files(list(data))
    rows = select([r for f in files for r in f.rows], "train", settings.scope)
    pool = resample(rows, settings.refusal_share, settings.seed)
    _check_out(out)
    backend = base_backend(settings.base)
    examples = encode_rows(backend, pool, settings.max_length)
    return Prepared(settings, files, rows, pool, backend, examples, out)


def train(
    prepared: Prepared,
    on_step: Callable[[int, int, float], None] | None = None,
    command: str | None = None,
) -> dict:
    """Train the LoRA adapter and save it with its record in ``prepared.out``.

    ``on_step(step, steps, loss)`` is called after every optimizer step. Returns the record written to
    ``altax-align.json``."""
    import torch

    settings, steps = prepared.settings, prepared.steps
    torch.manual_seed(settings.seed)
    model = _lora(prepared.backend.trainable_model(), settings)
    model.train()
    device = next(model.parameters()).device
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=0.0)
    warmup = min(10, max(1, steps // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    pad_id = prepared.backend.tokenizer.pad_token_id
    losses: list[float] = []
    started = time.perf_counter()
    for step, chosen in enumerate(_batches(len(prepared.examples), settings.batch_size, steps, settings.seed), 1):
        ids, mask, labels = (t.to(device) for t in collate([prepared.examples[i] for i in chosen], pad_id))
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(float(loss.detach()), 6))
        if on_step is not None:
            on_step(step, steps, losses[-1])
    return _save(model, prepared, losses, time.perf_counter() - started, command)


def _save(model, prepared: Prepared, losses: list[float], seconds: float, command: str | None) -> dict:
    import peft
    import torch
    import transformers

    from alignment_tax.models.lora import adapter_fingerprint

    settings, out = prepared.settings, prepared.out
    out.mkdir(parents=True, exist_ok=True)
    model.peft_config["default"].base_model_name_or_path = settings.base  # no local cache path in the files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model.save_pretrained(out, save_embedding_layers=False)
    (out / "README.md").unlink(missing_ok=True)
    # PEFT keeps target_modules as a set: sort it so the file (and the adapter hash) is the same every run
    config_path = out / "adapter_config.json"
    config = json.loads(config_path.read_text())
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True))
    weights = sum(p.stat().st_size for p in out.iterdir() if p.name.startswith("adapter_model"))
    record = {
        "altax_align": 1,
        "command": command,
        "settings": settings.model_dump(mode="json"),
        "base": {"spec": settings.base, "fingerprint": prepared.backend.fingerprint},
        "data": [
            {"path": str(f.path), "sha256": f.sha256, "rows": len(f.rows), "by_kind": counts(f.rows)}
            for f in prepared.files
        ],
        "train_rows": counts(prepared.rows),
        "pool": counts(prepared.pool),
        "steps": len(losses),
        "loss": losses,
        "adapter": {"fingerprint": adapter_fingerprint(str(out)), "weights_bytes": weights},
        "device": str(next(model.parameters()).device),
        "seconds": round(seconds, 1),
        "seconds_per_step": round(seconds / max(1, len(losses)), 3),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
    }
    (out / RECORD).write_text(json.dumps(record, indent=2) + "\n")
    return record
