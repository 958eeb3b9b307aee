"""Calibration of learned refusal detectors on the dev split (temperature, abstention threshold), and their
reproducible weight files (data digest, time-free .npz)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from alignment_tax.judge.refusal_data import SPLITS

TEMPERATURES = tuple(float(t) for t in np.round(np.arange(0.3, 3.01, 0.05), 2))
UNDETERMINED_COST = 0.4
"""Cost of an ``undetermined`` verdict against 1 for a wrong one: abstain when P(wrong) > 0.4."""


def nll(probabilities: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the gold classes."""
    return float(-np.log(probabilities[np.arange(len(y)), y] + 1e-12).mean())


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature (from :data:`TEMPERATURES`) minimising the log-loss of ``softmax(logits / t)``."""
    return min(TEMPERATURES, key=lambda t: nll(softmax(logits / t), y))


def choose_threshold(probabilities: np.ndarray, y: np.ndarray) -> float:
    """The confidence below which a verdict is ``undetermined``, minimising errors + cost x abstentions."""
    best, pred = probabilities.max(axis=1), probabilities.argmax(axis=1)
    wrong = pred != y
    candidates = np.concatenate([[0.0], np.unique(best)])
    costs = [wrong[best >= t].sum() + UNDETERMINED_COST * (best < t).sum() for t in candidates]
    return float(candidates[int(np.argmin(costs))])


def data_digest(data_dir: Path) -> str:
    """A short SHA-256 of every split file: which labelled data a set of weights was trained on."""
    digest = hashlib.sha256()
    for split in SPLITS:
        digest.update((data_dir / f"{split}.jsonl").read_bytes())
    return digest.hexdigest()[:16]


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A compressed .npz of float32 arrays whose bytes depend only on the arrays (``np.savez`` stamps its
    members with the time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                buffer.getvalue(),
                compress_type=zipfile.ZIP_DEFLATED,
            )
