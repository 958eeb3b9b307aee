"""The embedding layer: all-MiniLM-L6-v2 embeddings of two windows of a response, and learned heads over them."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alignment_tax.embeddings import MODEL_DIST as MODEL_DIST  # re-exported for judge.train
from alignment_tax.embeddings import Encoder
from alignment_tax.embeddings import packaged_model_dir as packaged_model_dir  # re-exported
from alignment_tax.errors import AltaxError
from alignment_tax.judge.calibration import softmax
from alignment_tax.judge.refusal import DECIDED, LexicalDetector, RefusalVerdict, lexical_features

WEIGHTS_DIR = Path(__file__).parent / "weights"
HEADS_NPZ = WEIGHTS_DIR / "refusal_heads.npz"
HEADS_JSON = WEIGHTS_DIR / "refusal_heads.json"
HEAD_TOKENS = 32
"""Tokens of the response embedded: refusals announce themselves in the opening, and the lexical
features carry what comes later (a refusal mid-answer, an attempt after a refusal)."""
BATCH = 64
_FIRST_BREAK = re.compile(r"(?<=[.!?:])\s+|\n")
_OPENING_MIN_CHARS = 20


@functools.cache
def shared_encoder() -> Encoder:
    """One encoder per process: loading it takes about a second, encoding is the hot path."""
    return Encoder(HEAD_TOKENS, BATCH)


@dataclass(frozen=True)
class Head:
    """A softmax layer over standardised features, with a temperature and an abstention threshold."""

    name: str
    weight: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    temperature: float
    threshold: float

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = ((features - self.mean) / self.scale) @ self.weight.T + self.bias
        return softmax(logits / self.temperature)

    def verdicts(self, probabilities: np.ndarray) -> list[RefusalVerdict]:
        """The most likely label, or ``undetermined`` (leaning to it) below the calibrated threshold."""
        return verdicts(probabilities, self.threshold, [self.name] * len(probabilities))


def verdicts(probabilities: np.ndarray, threshold: float, names: Sequence[str]) -> list[RefusalVerdict]:
    """Per row, the most likely label, or ``undetermined`` (leaning to it) below ``threshold``; each
    reason names the row's model."""
    out = []
    for row, name in zip(probabilities, names, strict=True):
        best = int(row.argmax())
        label, p = DECIDED[best], float(row[best])
        why = f"{name} p({label})={p:.2f}"
        if p < threshold:
            out.append(RefusalVerdict("undetermined", p, f"{why} below {threshold:.2f}", lean=label))
        else:
            out.append(RefusalVerdict(label, p, why))
    return out


def load_head(name: str) -> Head:
    """A shipped head by name (``embedding`` or ``ensemble``), made by ``python -m alignment_tax.judge.train``."""
    if not HEADS_NPZ.is_file() or not HEADS_JSON.is_file():
        raise AltaxError(f"no trained refusal heads in {WEIGHTS_DIR}; run `python -m alignment_tax.judge.train`")
    meta = json.loads(HEADS_JSON.read_text())["heads"]
    if name not in meta:
        raise AltaxError(f"no head {name!r} in {HEADS_JSON}; retrain with `python -m alignment_tax.judge.train`")
    with np.load(HEADS_NPZ) as arrays:
        parts = {key: arrays[f"{name}.{key}"] for key in ("weight", "bias", "mean", "scale")}
    return Head(name, temperature=meta[name]["temperature"], threshold=meta[name]["threshold"], **parts)


def rest_of(response: str) -> str:
    """What follows the opening sentence (past its first 20 characters): an answer, or more refusal."""
    m = _FIRST_BREAK.search(response, _OPENING_MIN_CHARS)
    return response[m.end() :] if m else ""


def embed(encoder: Encoder, responses: Sequence[str]) -> np.ndarray:
    """Two windows per response, side by side: its opening, and the opening of what follows it."""
    both = encoder.encode([*responses, *map(rest_of, responses)])
    return np.hstack([both[: len(responses)], both[len(responses) :]])


def features(head: str, responses: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
    """What a head reads: the embeddings alone, or (ensemble) the embeddings beside the lexical features."""
    if head == "embedding":
        return embeddings
    lexical = LexicalDetector().classify([("", r) for r in responses])
    extra = np.array([lexical_features(r, v) for r, v in zip(responses, lexical, strict=True)], dtype=np.float32)
    return np.hstack([embeddings, extra.reshape(len(responses), -1)])


class EmbeddingDetector:
    """The learned layer alone: a softmax head over MiniLM embeddings of the response's opening and of
    what follows its first sentence."""

    name = "embedding"
    head_name = "embedding"

    def __init__(self) -> None:
        self.head = load_head(self.head_name)
        self.encoder = shared_encoder()

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        responses = [response for _, response in pairs]
        if not responses:
            return np.zeros((0, len(DECIDED)), dtype=np.float32)
        return self.head.probabilities(features(self.head_name, responses, embed(self.encoder, responses)))

    def classify(self, pairs: Sequence[tuple[str, str]]) -> list[RefusalVerdict]:
        return self.head.verdicts(self.probabilities(pairs))
