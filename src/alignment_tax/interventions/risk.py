"""The router's risk classifier: a calibrated probability that a prompt is a harmful request."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alignment_tax.errors import AltaxError
from alignment_tax.files import check_target, write_file, write_text

WEIGHTS_DIR = Path(__file__).parent / "weights"
PREFIX = "risk-"
RISK_TOKENS = 64
"""Tokens of the prompt embedded: prompts are short, and 64 tokens cover nearly all of them."""
QUANTIZED = True
"""The encoder with int8 weights, each prompt encoded alone: about twice as fast as float32 for the gateway's lone
prompt, and a prompt's score still depends on the prompt only (never on its batch mates, or a routing decision,
and so a cached generation, would change with ``--limit`` or the batch size)."""
ROUTING_THREADS = 1
"""Threads the router's encoder computes a few prompts on (ONNX Runtime's intra-op threads; batches of
``onnx_encoder.MANY_ROWS`` or more use every core). A lone prompt gains little from a second core, and where other
work (generation) keeps the cores busy a second thread waits for one or spins on the core generation needs. Scores
are the same to the bit on 1 and 2 threads."""
ARRAYS = ("weight", "mean", "scale")


class HeldOutMetrics(BaseModel):
    """Held-out numbers of a classifier, measured once when it was trained."""

    model_config = ConfigDict(extra="allow")

    n: int
    accuracy: float
    auc: float
    recall: dict[str, float] = Field(description="share of risky prompts scored at or above each threshold")
    false_positive_rate: dict[str, float] = Field(description="share of safe prompts scored at or above it")


class RiskMeta(BaseModel):
    """The JSON beside a classifier's arrays: how it reads text, its calibration, and where it came from."""

    model_config = ConfigDict(extra="allow")

    name: str
    encoder: str
    max_tokens: int = Field(gt=0)
    quantized: bool = Field(False, description="embeddings from the int8 encoder, each prompt alone")
    bias: float
    platt_a: float = Field(description="calibrated logit = platt_a * raw logit + platt_b")
    platt_b: float
    seed: int
    data_sha256: str
    test: HeldOutMetrics | None = None


@dataclass(frozen=True)
class RiskClassifier:
    """Logistic regression over standardised MiniLM prompt embeddings, Platt-calibrated."""

    meta: RiskMeta
    weight: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256()
        for array in (self.weight, self.mean, self.scale):
            digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
        meta = self.meta
        reading = (meta.bias, meta.platt_a, meta.platt_b, meta.encoder, meta.max_tokens, meta.quantized)
        digest.update(json.dumps(reading).encode())
        object.__setattr__(self, "fingerprint", digest.hexdigest()[:16])

    @property
    def name(self) -> str:
        return self.meta.name

    def raw_logits(self, embeddings: np.ndarray) -> np.ndarray:
        """The uncalibrated logits of rows of embeddings."""
        return ((embeddings - self.mean) / self.scale) @ self.weight + self.meta.bias

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """Calibrated P(harmful request) of rows of embeddings."""
        z = self.meta.platt_a * self.raw_logits(embeddings) + self.meta.platt_b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def scores(self, texts: Sequence[str]) -> list[float]:
        """Calibrated probability, in [0, 1], that each prompt is a harmful request that should be refused."""
        if not texts:
            return []
        embeddings = shared_encoder(self.meta.max_tokens, self.meta.quantized).encode(list(texts))
        return [float(p) for p in self.probabilities(embeddings)]


@functools.cache
def shared_encoder(max_tokens: int = RISK_TOKENS, quantized: bool = QUANTIZED):  # -> onnx_encoder.OnnxEncoder
    """One encoder per process and setting, on ONNX Runtime (the graph exported once into the user cache): int8
    weights, each prompt alone, or float32 in batches."""
    from alignment_tax.onnx_encoder import OnnxEncoder

    return OnnxEncoder(max_tokens, ROUTING_THREADS, int8=quantized)


def known_classifiers() -> list[str]:
    """Names of the classifiers that ship with the package."""
    return sorted(p.stem.removeprefix(PREFIX) for p in WEIGHTS_DIR.glob(f"{PREFIX}*.npz"))


def weight_paths(name_or_path: str | Path) -> tuple[Path, Path]:
    """The ``.npz`` and ``.json`` of a packaged name, or of a path to either file (or their common stem)."""
    text = str(name_or_path)
    if "/" in text or text.endswith((".npz", ".json")):
        stem = Path(text)
        if stem.suffix in (".npz", ".json"):
            stem = stem.with_suffix("")
        return stem.with_suffix(".npz"), stem.with_suffix(".json")
    return WEIGHTS_DIR / f"{PREFIX}{text}.npz", WEIGHTS_DIR / f"{PREFIX}{text}.json"


def load_risk_classifier(name: str = "default") -> RiskClassifier:
    """A packaged classifier by name, or a trained one by path (``.npz`` with its ``.json`` beside it)."""
    npz, meta_path = weight_paths(name)
    if not npz.is_file() or not meta_path.is_file():
        if "/" in str(name) or str(name).endswith((".npz", ".json")):
            raise AltaxError(
                f"no risk classifier at {npz} with {meta_path.name} beside it; "
                "train one with `python -m alignment_tax.interventions.risk_train --out PATH`"
            )
        known = ", ".join(known_classifiers()) or "none (run `python -m alignment_tax.interventions.risk_train`)"
        raise AltaxError(f"unknown risk classifier {name!r}; known: {known}, or give a path to a trained .npz")
    try:
        meta = RiskMeta.model_validate_json(meta_path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise AltaxError(f"{meta_path} is not risk-classifier metadata: {exc.errors()[0]['msg']}; retrain it") from None
    with np.load(npz) as arrays:
        missing = [key for key in ARRAYS if key not in arrays]
        if missing:
            raise AltaxError(f"{npz} lacks arrays {missing}; retrain it")
        parts = {key: arrays[key].astype(np.float32) for key in ARRAYS}
    if not parts["weight"].shape == parts["mean"].shape == parts["scale"].shape:
        raise AltaxError(f"{npz} holds arrays of mismatched shapes; retrain it")
    return RiskClassifier(meta, **parts)


def save_risk_classifier(classifier: RiskClassifier, npz: Path) -> Path:
    """Write a classifier's arrays to ``npz`` and its metadata beside it; returns the metadata path."""
    arrays = {key: getattr(classifier, key).astype(np.float32) for key in ARRAYS}
    meta_path = npz.with_suffix(".json")
    check_target(meta_path)
    write_file(npz, lambda handle: np.savez_compressed(handle, **arrays))
    meta = classifier.meta.model_dump() | {"fingerprint": classifier.fingerprint}
    return write_text(meta_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")
