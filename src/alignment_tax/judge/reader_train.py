"""Train the reader detector on the train split, tune it on dev: ``python -m alignment_tax.judge.reader_train``.

Deterministic: both stages are L2-penalised multinomial logistic regressions fitted by L-BFGS from zero,
the hashed features use CRC-32 and MiniLM runs without int8 weights, so the same data give
byte-identical weights. The test split is never read here; measure it with ``judge.evaluation``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import optimize, sparse

from alignment_tax.judge.calibration import choose_threshold, data_digest, fit_temperature, nll, write_npz
from alignment_tax.judge.evaluation import breakdown
from alignment_tax.judge.reader import (
    READER_JSON,
    READER_NPZ,
    TAIL_CHARS,
    WINDOW_TOKENS,
    Encode,
    ReaderModel,
    Stage,
    embed_windows,
    exact_encoder,
)
from alignment_tax.judge.reader_features import EDGE_UNITS, HASH_DIM, STRUCTURE_FEATURES, text_features
from alignment_tax.judge.refusal import DECIDED, LEXICAL_FEATURES
from alignment_tax.judge.refusal_data import DATA_DIR, load_rows
from alignment_tax.judge.wordpieces import WINDOW_PIECES, word_pieces

C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
ROUTE_GRID = (0.0, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
"""Routing thresholds tried on dev; 0 sends nothing to MiniLM."""
MAX_ITERATIONS = 3000


def fit_softmax(x: sparse.csr_matrix, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, penalty |W|^2 / (2 C) beside the summed log-loss (the bias is
    not penalised), by L-BFGS from zero."""
    n, d = x.shape
    k = len(DECIDED)
    onehot = np.eye(k)[y]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weight, bias = theta[: k * d].reshape(k, d), theta[k * d :]
        logits = np.asarray(x @ weight.T) + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        residual = np.exp(log_p) - onehot
        grad_w = np.asarray(x.T @ residual).T + weight / c
        value = -(onehot * log_p).sum() + 0.5 * (weight * weight).sum() / c
        return float(value), np.concatenate([grad_w.ravel(), residual.sum(axis=0)])

    result = optimize.minimize(
        loss, np.zeros(k * d + k), jac=True, method="L-BFGS-B", options={"maxiter": MAX_ITERATIONS, "gtol": 1e-6}
    )
    return result.x[: k * d].reshape(k, d), result.x[k * d :]


Inputs = tuple[sparse.csr_matrix, list[np.ndarray]]


def fit_stage(train: Inputs, dev: Inputs, y: np.ndarray, y_dev: np.ndarray) -> tuple[Stage, float]:
    """The stage whose C (from :data:`C_GRID`) gives the best dev 3-class accuracy (then log-loss), with its
    temperature fitted on dev; returns it and its C."""
    best: tuple[float, float, Stage, float] | None = None
    for c in C_GRID:
        hashed, blocks = train
        weight, bias = fit_softmax(sparse.hstack([hashed, *map(sparse.csr_matrix, blocks)], format="csr"), y, c)
        stage = Stage(weight.astype(np.float32), bias.astype(np.float32))  # as shipped
        probs = stage.probabilities(*dev)
        score = float((probs.argmax(axis=1) == y_dev).mean()), -nll(probs, y_dev)
        if best is None or score > best[:2]:
            best = (*score, stage, c)
    assert best is not None
    stage, c = best[2], best[3]
    return Stage(stage.weight, stage.bias, fit_temperature(stage.logits(*dev), y_dev)), c


def choose_route(text_probs: np.ndarray, full_probs: np.ndarray, y: np.ndarray) -> float:
    """The lowest routing threshold (fewest answers sent to MiniLM) among those with the fewest dev errors."""

    def errors(route: float) -> int:
        routed = text_probs.max(axis=1) < route
        return int((np.where(routed[:, None], full_probs, text_probs).argmax(axis=1) != y).sum())

    fewest = min(errors(r) for r in ROUTE_GRID)
    return next(r for r in ROUTE_GRID if errors(r) == fewest)


def train(
    data_dir: Path = DATA_DIR, pieces: Encode | None = None, encode: Encode | None = None
) -> tuple[ReaderModel, dict]:
    """Fit both stages on train, choose C, temperatures, the routing and the abstention thresholds on dev."""
    pieces = pieces or (lambda texts: word_pieces().windows(texts))
    encode = encode or (lambda texts: exact_encoder().encode(texts))
    rows = {split: [r for r in load_rows(data_dir, split) if r.label in DECIDED] for split in ("train", "dev")}
    y = {split: np.array([DECIDED.index(r.label) for r in rows[split]]) for split in rows}
    responses = {split: [r.response for r in rows[split]] for split in rows}
    raw = {split: text_features([(r.prompt, r.response) for r in rows[split]]) for split in rows}
    mean = raw["train"][1].mean(axis=0).astype(np.float32)
    scale = (raw["train"][1].std(axis=0) + 1e-6).astype(np.float32)
    text_in = {
        split: (hashed, [(dense - mean) / scale, pieces(responses[split])]) for split, (hashed, dense) in raw.items()
    }
    full_in = {split: (h, [*blocks, embed_windows(encode, responses[split])]) for split, (h, blocks) in text_in.items()}
    text, c_text = fit_stage(text_in["train"], text_in["dev"], y["train"], y["dev"])
    full, c_full = fit_stage(full_in["train"], full_in["dev"], y["train"], y["dev"])
    text_probs, full_probs = text.probabilities(*text_in["dev"]), full.probabilities(*full_in["dev"])
    route = choose_route(text_probs, full_probs, y["dev"])
    routed = text_probs.max(axis=1) < route
    final = np.where(routed[:, None], full_probs, text_probs)
    model = ReaderModel(mean, scale, text, full, route, choose_threshold(final, y["dev"]))
    meta = {
        "labels": list(DECIDED),
        "hash_dim": HASH_DIM,
        "edge_units": EDGE_UNITS,
        "numeric_features": [*LEXICAL_FEATURES, *STRUCTURE_FEATURES],
        "word_pieces": {"windows": "head, tail, all", "pieces_per_window": WINDOW_PIECES},
        "encoder": {"windows": "head and tail", "tokens_per_window": WINDOW_TOKENS, "tail_chars": TAIL_CHARS},
        "c": {"text": c_text, "full": c_full},
        "temperature": {"text": text.temperature, "full": full.temperature},
        "route_below": route,
        "threshold": model.threshold,
        "data_sha256": data_digest(data_dir),
        "sizes": {split: len(rows[split]) for split in rows},
        "dev": {
            "routed_share": float(routed.mean()),
            "undetermined_share": float((final.max(axis=1) < model.threshold).mean()),
            **breakdown(rows["dev"], [DECIDED[i] for i in final.argmax(axis=1)]),
        },
    }
    return model, meta


def save(model: ReaderModel, meta: dict, npz: Path = READER_NPZ, meta_path: Path = READER_JSON) -> None:
    """Write the weights (float32, npz) and the thresholds and dev numbers (json)."""
    arrays = {"mean": model.mean, "scale": model.scale}
    for name, stage in (("text", model.text), ("full", model.full)):
        arrays |= {f"{name}.weight": stage.weight, f"{name}.bias": stage.bias}
    write_npz(npz, arrays)
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="folder with train/dev/test.jsonl")
    args = parser.parse_args(argv)
    model, meta = train(args.data)
    save(model, meta)
    dev = meta["dev"]
    sys.stdout.write(
        f"reader dev n={dev['all']['n']} binary={dev['all']['binary']:.3f} 3-class={dev['all']['three_class']:.3f} "
        f"routed={dev['routed_share']:.2f} C={meta['c']} route_below={model.route_below}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
