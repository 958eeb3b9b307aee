"""Train the learned refusal detectors on the labelled responses, reproducibly: ``python -m alignment_tax.judge.train``.

Fits the embedding and ensemble heads here and then the reader (``judge.reader_train``): every learned
detector from one command. Only the train and dev splits are read; measure the test split with
``python -m alignment_tax.judge.evaluation --split test``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from alignment_tax.judge import reader_train
from alignment_tax.judge.calibration import TEMPERATURES, choose_threshold, data_digest, nll, write_npz
from alignment_tax.judge.embedding import HEAD_TOKENS, HEADS_JSON, HEADS_NPZ, MODEL_DIST, Head, features
from alignment_tax.judge.metrics import accuracy, bootstrap_ci
from alignment_tax.judge.refusal import DECIDED, LEXICAL_FEATURES
from alignment_tax.judge.refusal_data import DATA_DIR, LabelledResponse, load_rows
from alignment_tax.logistic import fit_multinomial

HEADS = ("embedding", "ensemble")
SPLITS = ("train", "dev")
"""The splits training reads: fit on train, choose and calibrate on dev."""
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)

Encode = Callable[[Sequence[str]], np.ndarray]


def load_split(data_dir: Path, split: str) -> list[LabelledResponse]:
    """The rows of one split a head learns from: degenerate ones are left to the degenerate rule."""
    return [r for r in load_rows(data_dir, split) if r.label in DECIDED]


def fit_head(name: str, train: tuple[np.ndarray, np.ndarray], dev: tuple[np.ndarray, np.ndarray]) -> Head:
    """Standardise on train, pick C by dev 3-class accuracy, then the temperature and threshold on dev."""
    (x, y), (xd, yd) = train, dev
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    best: tuple[float, float, Head] | None = None
    for c in C_GRID:
        w, b = fit_multinomial((x - mean) / scale, y, len(DECIDED), c)
        head = Head(name, w, b, mean, scale, 1.0, 0.0)
        dev_probs = head.probabilities(xd)
        score = float((dev_probs.argmax(axis=1) == yd).mean()), -nll(dev_probs, yd)
        if best is None or score > best[:2]:
            best = (*score, head)
    assert best is not None
    head = best[2]
    temperature = min(TEMPERATURES, key=lambda t: nll(_with(head, float(t), 0.0).probabilities(xd), yd))
    head = _with(head, float(temperature), 0.0)
    return _with(head, float(temperature), choose_threshold(head.probabilities(xd), yd))


def _with(head: Head, temperature: float, threshold: float) -> Head:
    return Head(head.name, head.weight, head.bias, head.mean, head.scale, temperature, threshold)


def evaluate(head: Head, x: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """A head's numbers on labelled rows: accuracies (undetermined taken at its lean) with CIs, and coverage."""
    verdicts = head.verdicts(head.probabilities(x))
    gold = [DECIDED[i] for i in y]
    lean = accuracy(gold, [v.decided for v in verdicts])
    decided = [(g, v.label) for g, v in zip(gold, verdicts, strict=True) if v.label != "undetermined"]
    sure = accuracy([g for g, _ in decided], [p for _, p in decided])
    return {
        "n": lean.n,
        "binary": lean.binary,
        "three_class": lean.three_class,
        **bootstrap_ci(gold, [v.decided for v in verdicts], seed),
        "undetermined_share": 1 - len(decided) / max(1, len(gold)),
        "decided_binary": sure.binary,
        "decided_three_class": sure.three_class,
        "confusion": lean.confusion,
    }


def train(data_dir: Path = DATA_DIR, seed: int = 0, encode: Encode | None = None) -> tuple[dict[str, Head], dict]:
    """Fit both heads on train, choose and calibrate them on dev; returns the heads and their metadata (with
    their dev numbers, which the choices were made on)."""
    if encode is None:
        from alignment_tax.judge.embedding import embed, shared_encoder

        def encode(texts: Sequence[str]) -> np.ndarray:
            return embed(shared_encoder(), texts)

    rows = {split: load_split(data_dir, split) for split in SPLITS}
    responses = {split: [r.response for r in rows[split]] for split in SPLITS}
    labels = {split: np.array([DECIDED.index(r.label) for r in rows[split]]) for split in SPLITS}
    embedded = {split: encode(responses[split]) for split in SPLITS}
    heads: dict[str, Head] = {}
    meta: dict = {
        "encoder": {
            "package": MODEL_DIST,
            "windows": "opening, and the rest after the first sentence",
            "tokens_per_window": HEAD_TOKENS,
            "pooling": "mean, L2-normalised",
            "weights": "int8 dynamic quantisation of the linear layers",
        },
        "labels": list(DECIDED),
        "lexical_features": list(LEXICAL_FEATURES),
        "seed": seed,
        "data_sha256": data_digest(data_dir),
        "sizes": {split: len(rows[split]) for split in SPLITS},
        "heads": {},
    }
    for name in HEADS:
        x = {split: features(name, responses[split], embedded[split]) for split in SPLITS}
        head = fit_head(name, (x["train"], labels["train"]), (x["dev"], labels["dev"]))
        heads[name] = head
        meta["heads"][name] = {
            "temperature": head.temperature,
            "threshold": head.threshold,
            "dev": evaluate(head, x["dev"], labels["dev"], seed),
        }
    return heads, meta


def save(heads: dict[str, Head], meta: dict, npz: Path = HEADS_NPZ, meta_path: Path = HEADS_JSON) -> None:
    """Write the heads' arrays (npz) and their metadata and dev numbers (json)."""
    arrays = {
        f"{name}.{key}": getattr(head, key)
        for name, head in heads.items()
        for key in ("weight", "bias", "mean", "scale")
    }
    write_npz(npz, arrays)
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="folder with train/dev/test.jsonl")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap of the dev intervals")
    args = parser.parse_args(argv)
    heads, meta = train(args.data, args.seed)
    save(heads, meta)
    for name in HEADS:
        numbers = meta["heads"][name]["dev"]
        sys.stdout.write(
            f"{name:10s} dev n={numbers['n']} binary={numbers['binary']:.3f} 3-class={numbers['three_class']:.3f}\n"
        )
    return reader_train.main(["--data", str(args.data)])


if __name__ == "__main__":
    raise SystemExit(main())
