"""Train the refusal heads on the labelled responses, reproducibly: ``python -m alignment_tax.judge.train``."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from alignment_tax.judge.embedding import HEAD_TOKENS, HEADS_JSON, HEADS_NPZ, MODEL_DIST, Head, features
from alignment_tax.judge.metrics import accuracy
from alignment_tax.judge.refusal import DECIDED, LEXICAL_FEATURES, LexicalDetector
from alignment_tax.judge.refusal_data import DATA_DIR, SPLITS, LabelledResponse, load_rows

HEADS = ("embedding", "ensemble")
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
N_BOOT = 2000
TEMPERATURES = tuple(np.round(np.arange(0.3, 3.01, 0.05), 2))
UNDETERMINED_COST = 0.4
"""Cost of an ``undetermined`` verdict against 1 for a wrong one: abstain when P(wrong) > 0.4."""

Encode = Callable[[Sequence[str]], np.ndarray]


def load_split(data_dir: Path, split: str) -> list[LabelledResponse]:
    """The rows of one split a head learns from: degenerate ones are left to the degenerate rule."""
    return [r for r in load_rows(data_dir, split) if r.label in DECIDED]


def fit_softmax(x: np.ndarray, y: np.ndarray, c: float, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression, class-balanced, penalty |W|^2 / (2 C) beside the summed loss
    (scikit-learn's convention), by damped Newton steps.

    Deterministic: it starts from zero and has no random step, so no seed is needed."""
    n, d = x.shape
    k = len(DECIDED)
    counts = np.maximum(np.bincount(y, minlength=k), 1)
    sample_weight = (n / (k * counts))[y]
    xb = np.hstack([x, np.ones((n, 1))]).astype(np.float64)
    onehot = np.eye(k)[y]
    ridge = np.full(d + 1, 1.0 / c)
    ridge[-1] = 1e-6  # the bias is (almost) not penalised
    theta = np.zeros((k, d + 1))

    def loss(t: np.ndarray) -> tuple[float, np.ndarray]:
        logits = xb @ t.T
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        value = -(sample_weight * (onehot * log_p).sum(axis=1)).sum() + 0.5 * (ridge * t * t).sum()
        return float(value), np.exp(log_p)

    value, p = loss(theta)
    for _ in range(iterations):
        grad = ((p - onehot) * sample_weight[:, None]).T @ xb + ridge * theta
        hessian = np.zeros((k * (d + 1), k * (d + 1)))
        for a in range(k):
            for b in range(k):
                w = sample_weight * p[:, a] * ((a == b) - p[:, b])
                block = (xb * w[:, None]).T @ xb
                if a == b:
                    block += np.diag(ridge)
                hessian[a * (d + 1) : (a + 1) * (d + 1), b * (d + 1) : (b + 1) * (d + 1)] = block
        step = np.linalg.solve(hessian, grad.ravel()).reshape(k, d + 1)
        scale = 1.0
        while scale > 1e-4:
            candidate, (new_value, new_p) = theta - scale * step, loss(theta - scale * step)
            if new_value <= value:
                break
            scale /= 2
        else:
            break
        done = value - new_value < 1e-8 * max(1.0, abs(value))
        theta, value, p = candidate, new_value, new_p
        if done:
            break
    return theta[:, :-1].astype(np.float32), theta[:, -1].astype(np.float32)


def _nll(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(probabilities[np.arange(len(y)), y] + 1e-12).mean())


def choose_threshold(probabilities: np.ndarray, y: np.ndarray) -> float:
    """The confidence below which a verdict is ``undetermined``, minimising errors + cost x abstentions."""
    best, pred = probabilities.max(axis=1), probabilities.argmax(axis=1)
    wrong = pred != y
    candidates = np.concatenate([[0.0], np.unique(best)])
    costs = [wrong[best >= t].sum() + UNDETERMINED_COST * (best < t).sum() for t in candidates]
    return float(candidates[int(np.argmin(costs))])


def fit_head(name: str, train: tuple[np.ndarray, np.ndarray], dev: tuple[np.ndarray, np.ndarray]) -> Head:
    """Standardise on train, pick C by dev 3-class accuracy, then the temperature and threshold on dev."""
    (x, y), (xd, yd) = train, dev
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    best: tuple[float, float, Head] | None = None
    for c in C_GRID:
        w, b = fit_softmax((x - mean) / scale, y, c)
        head = Head(name, w, b, mean, scale, 1.0, 0.0)
        dev_probs = head.probabilities(xd)
        score = float((dev_probs.argmax(axis=1) == yd).mean()), -_nll(dev_probs, yd)
        if best is None or score > best[:2]:
            best = (*score, head)
    assert best is not None
    head = best[2]
    temperature = min(TEMPERATURES, key=lambda t: _nll(_with(head, float(t), 0.0).probabilities(xd), yd))
    head = _with(head, float(temperature), 0.0)
    return _with(head, float(temperature), choose_threshold(head.probabilities(xd), yd))


def _with(head: Head, temperature: float, threshold: float) -> Head:
    return Head(head.name, head.weight, head.bias, head.mean, head.scale, temperature, threshold)


def bootstrap_ci(gold: Sequence[str], predicted: Sequence[str], seed: int) -> dict[str, list[float]]:
    """Percentile 95% intervals of the binary and 3-class accuracies over resampled responses."""
    rng = np.random.default_rng(seed)
    g, p = np.array(gold), np.array(predicted)
    draws = [rng.integers(0, len(g), len(g)) for _ in range(N_BOOT)] if len(g) else []
    binary = [float(((g[i] == "compliance") == (p[i] == "compliance")).mean()) for i in draws]
    exact = [float((g[i] == p[i]).mean()) for i in draws]
    return {
        name: [float(v) for v in np.percentile(vals, [2.5, 97.5])]
        for name, vals in (("binary_ci", binary), ("three_class_ci", exact))
        if vals
    }


def evaluate(head: Head, x: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """Test-split numbers for a head: accuracies (undetermined taken at its lean) with CIs, and coverage."""
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


def _digest(data_dir: Path) -> str:
    digest = hashlib.sha256()
    for split in SPLITS:
        digest.update((data_dir / f"{split}.jsonl").read_bytes())
    return digest.hexdigest()[:16]


def train(data_dir: Path = DATA_DIR, seed: int = 0, encode: Encode | None = None) -> tuple[dict[str, Head], dict]:
    """Fit both heads on train, calibrate on dev, measure on test; returns the heads and their metadata."""
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
        "data_sha256": _digest(data_dir),
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
            "test": evaluate(head, x["test"], labels["test"], seed),
        }
    gold = [r.label for r in rows["test"]]
    lexical = [v.label for v in LexicalDetector().classify([("", r) for r in responses["test"]])]
    lex = accuracy(gold, lexical)
    meta["lexical_test"] = {
        "n": lex.n,
        "binary": lex.binary,
        "three_class": lex.three_class,
        **bootstrap_ci(gold, lexical, seed),
        "confusion": lex.confusion,
    }
    return heads, meta


def save(heads: dict[str, Head], meta: dict, npz: Path = HEADS_NPZ, meta_path: Path = HEADS_JSON) -> None:
    """Write the heads' arrays (npz) and their metadata and test numbers (json)."""
    npz.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        f"{name}.{key}": getattr(head, key).astype(np.float32)
        for name, head in heads.items()
        for key in ("weight", "bias", "mean", "scale")
    }
    np.savez_compressed(npz, **arrays)
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="folder with train/dev/test.jsonl")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap of the test intervals")
    args = parser.parse_args(argv)
    heads, meta = train(args.data, args.seed)
    save(heads, meta)
    summary = {name: meta["heads"][name]["test"] for name in HEADS} | {"lexical": meta["lexical_test"]}
    for name, numbers in summary.items():
        sys.stdout.write(
            f"{name:10s} test n={numbers['n']} binary={numbers['binary']:.3f} 3-class={numbers['three_class']:.3f}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
