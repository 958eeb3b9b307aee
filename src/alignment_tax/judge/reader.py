"""The reader detector: reads the whole answer and the prompt, in a two-stage cascade.

The text stage is a softmax over the whole answer's hashed segment words and structure
(``reader_features``) and static MiniLM word-piece windows (``wordpieces``); it needs no torch and
decides the answers it is sure of. The others are read again by the full stage, which adds MiniLM's
contextual embeddings of the answer's head and tail. Both stages are calibrated, and an answer whose
final probability is below the threshold is ``undetermined`` with a lean, as elsewhere.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from alignment_tax.errors import AltaxError
from alignment_tax.judge.calibration import softmax
from alignment_tax.judge.embedding import WEIGHTS_DIR, verdicts
from alignment_tax.judge.reader_features import HASH_DIM, STRUCTURE_FEATURES, text_features
from alignment_tax.judge.refusal import LEXICAL_FEATURES, RefusalVerdict
from alignment_tax.judge.wordpieces import word_pieces

READER_NPZ = WEIGHTS_DIR / "reader.npz"
READER_JSON = WEIGHTS_DIR / "reader.json"
WINDOW_TOKENS = 32
"""Tokens of each embedded window (the head and the tail of the answer)."""
TAIL_CHARS = 192
"""Characters of the answer's tail that are embedded (about 32 tokens), cut at a word boundary."""
ENCODER_BATCH = 64

Encode = Callable[[Sequence[str]], np.ndarray]


@functools.cache
def exact_encoder():
    """The packaged MiniLM without int8 weights: an answer's embedding does not depend on its batch mates."""
    from alignment_tax.embeddings import Encoder

    return Encoder(WINDOW_TOKENS, ENCODER_BATCH, quantize=False)


def tail_of(response: str) -> str:
    """The last :data:`TAIL_CHARS` characters from a word start; a short answer is its own tail (and is
    then embedded once, the encoder embedding each distinct window once)."""
    text = response.strip()
    if len(text) <= TAIL_CHARS:
        return text
    cut = text[-TAIL_CHARS:]
    space = cut.find(" ")
    return cut[space + 1 :] if 0 <= space < TAIL_CHARS // 4 else cut


def embed_windows(encode: Encode, responses: Sequence[str]) -> np.ndarray:
    """The head and the tail of each response, embedded side by side."""
    both = encode([*responses, *map(tail_of, responses)])
    return np.hstack([both[: len(responses)], both[len(responses) :]])


@dataclass(frozen=True)
class Stage:
    """One softmax layer over hashed words beside dense blocks (numbers, embeddings), in that column order."""

    weight: np.ndarray
    bias: np.ndarray
    temperature: float = 1.0

    def logits(self, hashed: sparse.csr_matrix, blocks: Sequence[np.ndarray]) -> np.ndarray:
        out = np.asarray(hashed @ self.weight[:, :HASH_DIM].T)
        start = HASH_DIM
        for block in blocks:
            out = out + block @ self.weight[:, start : start + block.shape[1]].T
            start += block.shape[1]
        return out + self.bias

    def probabilities(self, hashed: sparse.csr_matrix, blocks: Sequence[np.ndarray]) -> np.ndarray:
        return softmax(self.logits(hashed, blocks) / self.temperature)


@dataclass(frozen=True)
class ReaderModel:
    """The two stages, the standardisation of the numeric features, and the calibrated thresholds.

    The text stage reads hashed words, the standardised numbers and the static word-piece windows; the
    full stage reads those and MiniLM's embeddings of the head and the tail."""

    mean: np.ndarray
    scale: np.ndarray
    text: Stage
    full: Stage
    route_below: float
    """The text stage's top probability below which the full stage reads the answer (0: never)."""
    threshold: float
    """The final top probability below which a verdict is ``undetermined``."""

    def inputs(self, pairs: Sequence[tuple[str, str]], pieces: Encode) -> tuple[sparse.csr_matrix, list[np.ndarray]]:
        """What the text stage reads: hashed words, and the standardised numbers beside the word-piece windows."""
        hashed, dense = text_features(pairs)
        return hashed, [(dense - self.mean) / self.scale, pieces([response for _, response in pairs])]

    def probabilities(
        self, pairs: Sequence[tuple[str, str]], pieces: Encode, encode: Encode
    ) -> tuple[np.ndarray, np.ndarray]:
        """Final probabilities per pair, and which pairs the full stage read."""
        hashed, blocks = self.inputs(pairs, pieces)
        probs = self.text.probabilities(hashed, blocks)
        routed = probs.max(axis=1) < self.route_below
        if routed.any():
            idx = np.flatnonzero(routed)
            embedded = embed_windows(encode, [pairs[i][1] for i in idx.tolist()])
            probs[idx] = self.full.probabilities(hashed[idx], [*(b[idx] for b in blocks), embedded])
        return probs, routed


def load_reader(npz: Path = READER_NPZ, meta_path: Path = READER_JSON) -> ReaderModel:
    """The shipped reader, made by ``python -m alignment_tax.judge.reader_train``."""
    if not npz.is_file() or not meta_path.is_file():
        raise AltaxError(f"no trained reader in {npz.parent}; run `python -m alignment_tax.judge.reader_train`")
    meta = json.loads(meta_path.read_text())
    if meta["numeric_features"] != [*LEXICAL_FEATURES, *STRUCTURE_FEATURES] or meta["hash_dim"] != HASH_DIM:
        raise AltaxError(f"{meta_path} was trained on other features; run `python -m alignment_tax.judge.reader_train`")
    with np.load(npz) as a:
        text, full = (Stage(a[f"{n}.weight"], a[f"{n}.bias"], meta["temperature"][n]) for n in ("text", "full"))
        return ReaderModel(a["mean"], a["scale"], text, full, meta["route_below"], meta["threshold"])


class ReaderDetector:
    """Reads the whole answer and the prompt; MiniLM's transformer reads only the answers the text stage is
    unsure of."""

    name = "reader"

    def __init__(self, model: ReaderModel | None = None, pieces: Encode | None = None, encode: Encode | None = None):
        self.model = model or load_reader()
        self.pieces = pieces or (lambda texts: word_pieces().windows(texts))
        self.encode = encode or (lambda texts: exact_encoder().encode(texts))

    def classify(self, pairs: Sequence[tuple[str, str]]) -> list[RefusalVerdict]:
        if not pairs:
            return []
        probs, routed = self.model.probabilities(list(pairs), self.pieces, self.encode)
        names = ["reader (text and MiniLM)" if r else "reader (text)" for r in routed]
        return verdicts(probs, self.model.threshold, names)
