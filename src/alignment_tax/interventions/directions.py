"""Steering directions: extract them from a calibration set, save them as safetensors, find them by name."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from alignment_tax.errors import AltaxError
from alignment_tax.jsonl import read_models

if TYPE_CHECKING:
    import torch

Method = Literal["caa", "mean-diff"]
METHODS: tuple[Method, ...] = ("caa", "mean-diff")
NAME_PATTERN = r"^[A-Za-z0-9_.+-]+$"
FORMAT = "altax-direction-v1"
CALIBRATION = Path(__file__).parent / "data" / "calibration.jsonl"
PACKAGED = Path(__file__).parent / "directions"

REFUSAL_OPENINGS = (
    "I'm sorry, but I can't",
    "I can't help with that",
    "I'm sorry, I won't",
    "Sorry, but I cannot",
    "I must decline",
)
"""Openings of a refusal, appended after the rendered prompt for the refusing side of CAA."""
COMPLIANCE_OPENINGS = (
    "Sure, here is",
    "Of course. First,",
    "Certainly! Here's",
    "Sure. To start,",
    "Absolutely, here is",
)
"""Content-free openings of a compliant answer, for the complying side of CAA."""


class CalibrationPrompt(BaseModel):
    """One calibration request: ``harmful`` (should be refused) or ``harmless`` (should be answered)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    kind: Literal["harmful", "harmless"]
    area: str
    prompt: str


def load_calibration(path: Path = CALIBRATION) -> list[CalibrationPrompt]:
    """The calibration prompts (the packaged set by default), validated."""
    prompts = read_models(path, CalibrationPrompt)
    if not {p.kind for p in prompts} >= {"harmful", "harmless"}:
        raise AltaxError(f"{path}: a calibration set needs both harmful and harmless prompts")
    return prompts


def calibration_hash(prompts: Sequence[CalibrationPrompt]) -> str:
    """Hash of the calibration prompts and the openings CAA appends to them."""
    payload = json.dumps(
        [[p.model_dump() for p in prompts], REFUSAL_OPENINGS, COMPLIANCE_OPENINGS], sort_keys=True
    ).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


@dataclass(frozen=True)
class Direction:
    """Unit directions of every decoder layer (layers x hidden, float32), each layer's typical residual norm,
    and where they came from."""

    name: str
    vectors: torch.Tensor
    norms: list[float]
    method: str
    model_fingerprint: str
    calibration_hash: str
    seed: int
    separation: list[float]
    """Length of the raw mean difference per layer, relative to the typical norm: how far apart the two sides are."""

    @property
    def n_layers(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def content_hash(self) -> str:
        """Hash of the vectors and norms: the identity of what steering adds."""
        import numpy as np

        digest = hashlib.sha256(self.vectors.float().contiguous().numpy().tobytes())
        digest.update(np.asarray(self.norms, dtype=np.float64).tobytes())
        return digest.hexdigest()[:16]


def decoder_layers(model) -> list:
    """The decoder layers of a causal LM (``model.model.layers`` for Llama-style models, also under PEFT)."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is not None:
        return list(layers)
    import torch

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and name.endswith("layers"):
            return list(module)
    raise AltaxError(f"cannot find the decoder layers of {type(model).__name__}; steering needs a decoder-only LM")


def residuals_at_last_position(backend, texts: Sequence[str], batch_size: int = 16) -> torch.Tensor:
    """Each decoder layer's output (the residual stream) at the last token of each text: texts x layers x hidden.

    Texts are rendered prompts (plus any continuation); they are batched shortest first with left padding."""
    import torch

    model, tokenizer = backend.model, backend.tokenizer
    layers = decoder_layers(model)
    captured: list[torch.Tensor] = []

    def hook(module, args, output):
        hidden = output[0] if isinstance(output, tuple) else output
        captured.append(hidden[:, -1, :].float().cpu())

    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    out = torch.empty(len(texts), len(layers), model.config.hidden_size)
    handles = [layer.register_forward_hook(hook) for layer in layers]
    try:
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            encoded = tokenizer(
                [texts[i] for i in chosen],
                return_tensors="pt",
                padding=True,
                add_special_tokens=tokenizer.chat_template is None,
            ).to(model.device)
            positions = (encoded["attention_mask"].long().cumsum(-1) - 1).clamp(min=0)
            captured.clear()
            with torch.inference_mode():
                model(**encoded, position_ids=positions, logits_to_keep=1)
            out[chosen] = torch.stack(captured, dim=1)
    finally:
        for handle in handles:
            handle.remove()
    return out


def _user_prompt(backend, text: str) -> str:
    return backend.render([{"role": "user", "content": text}]).prompt


def extract_direction(
    backend, method: Method, *, name: str = "unsaved", seed: int = 0, prompts: Sequence[CalibrationPrompt] | None = None
) -> Direction:
    """Extract a direction for every decoder layer of ``backend``'s model (a transformers backend).

    ``caa``: each calibration prompt followed by a refusal opening minus the same prompt followed by a
    compliance opening (the seed pairs prompts with openings). ``mean-diff``: harmful minus harmless prompts at
    the last prompt token. The typical norm of a layer is the mean L2 norm of its residuals at those positions."""

    if method not in METHODS:
        raise AltaxError(f"unknown extraction method {method!r}; choose one of {', '.join(METHODS)}")
    prompts = list(prompts if prompts is not None else load_calibration())
    if method == "caa":
        rng = random.Random(seed)
        rendered = [_user_prompt(backend, p.prompt) for p in prompts]
        positive = [text + rng.choice(REFUSAL_OPENINGS) for text in rendered]
        negative = [text + rng.choice(COMPLIANCE_OPENINGS) for text in rendered]
    else:
        positive = [_user_prompt(backend, p.prompt) for p in prompts if p.kind == "harmful"]
        negative = [_user_prompt(backend, p.prompt) for p in prompts if p.kind == "harmless"]
    acts = residuals_at_last_position(backend, positive + negative)
    pos, neg = acts[: len(positive)], acts[len(positive) :]
    diff = pos.mean(0) - neg.mean(0)
    norms = acts.norm(dim=-1).mean(0)
    length = diff.norm(dim=-1)
    return Direction(
        name=name,
        vectors=(diff / length.clamp(min=1e-12)[:, None]).contiguous(),
        norms=[float(n) for n in norms],
        method=method,
        model_fingerprint=backend.fingerprint,
        calibration_hash=calibration_hash(prompts),
        seed=seed,
        separation=[float(x) for x in length / norms],
    )


def user_directory() -> Path:
    """Where ``altax steer extract`` saves directions: ``directions/`` in the per-user cache."""
    from alignment_tax.models.builtin import cache_root

    return cache_root() / "directions"


def check_name(name: str) -> str:
    if not re.match(NAME_PATTERN, name):
        raise AltaxError(f"direction name {name!r} may hold only letters, digits and _ . + -")
    return name


def save_direction(direction: Direction, name: str, folder: Path | None = None) -> Path:
    """Write ``direction`` as ``NAME.safetensors`` (the user directory by default); returns the path."""
    from safetensors.torch import save_file

    folder = folder or user_directory()
    path = folder / f"{check_name(name)}.safetensors"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        metadata = {
            "format": FORMAT,
            "method": direction.method,
            "model_fingerprint": direction.model_fingerprint,
            "calibration_hash": direction.calibration_hash,
            "seed": str(direction.seed),
            "layers": json.dumps(list(range(direction.n_layers))),
            "typical_norms": json.dumps(direction.norms),
            "separation": json.dumps(direction.separation),
        }
        tmp = path.with_suffix(".tmp")
        save_file({"directions": direction.vectors.float().contiguous()}, str(tmp), metadata=metadata)
        tmp.replace(path)
    except OSError as error:
        raise AltaxError(f"cannot write {path} ({error.strerror}); set ALTAX_CACHE_DIR to a writable folder") from None
    return path


def _read(path: Path) -> Direction:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            vectors = handle.get_tensor("directions")
    except Exception as error:  # safetensors raises several types for a damaged file
        raise AltaxError(f"{path} is not a readable direction file ({error}); extract it again") from None
    if metadata.get("format") != FORMAT:
        raise AltaxError(f"{path} is not a {FORMAT} file; extract it again with `altax steer extract`")
    return Direction(
        name=path.stem,
        vectors=vectors,
        norms=json.loads(metadata["typical_norms"]),
        method=metadata["method"],
        model_fingerprint=metadata["model_fingerprint"],
        calibration_hash=metadata["calibration_hash"],
        seed=int(metadata["seed"]),
        separation=json.loads(metadata["separation"]),
    )


def direction_paths() -> dict[str, Path]:
    """Every known direction by name; a user direction shadows a packaged one of the same name."""
    found: dict[str, Path] = {}
    for folder in (PACKAGED, user_directory()):
        if folder.is_dir():
            found.update((p.stem, p) for p in sorted(folder.glob("*.safetensors")))
    return found


def load_direction(name: str) -> Direction:
    """A saved direction by name (user directory first, then the packaged ones)."""
    path = direction_paths().get(name)
    if path is None:
        known = ", ".join(sorted(direction_paths())) or "none"
        raise AltaxError(f"no steering direction {name!r} (known: {known}); save one with `altax steer extract`")
    return _read(path)


def list_directions() -> list[tuple[Direction, Path]]:
    """Every known direction with its file, by name."""
    return [(_read(path), path) for _, path in sorted(direction_paths().items())]


def default_direction_name(model_spec: str, method: Method = "caa") -> str:
    """The name ``altax steer extract`` saves under when none is given, e.g. ``caa-smollm2-135m-instruct``."""
    tail = re.split(r"[:/]", model_spec.split("@")[0])[-1]
    return f"{method}-" + (re.sub(r"[^A-Za-z0-9_.+-]+", "-", tail).strip("-") or "model")
