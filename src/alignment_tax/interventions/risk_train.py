"""Train the router's risk classifier reproducibly: ``python -m alignment_tax.interventions.risk_train``."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from alignment_tax.embeddings import MODEL_DIST
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.risk import (
    PREFIX,
    QUANTIZED,
    RISK_TOKENS,
    WEIGHTS_DIR,
    HeldOutMetrics,
    RiskClassifier,
    RiskMeta,
    save_risk_classifier,
)
from alignment_tax.jsonl import read_models
from alignment_tax.logistic import fit_binary, sigmoid

DATA_DIR = Path(__file__).parent / "data" / "risk"
SPLITS = ("train", "dev", "test")
SPLIT_SHARES = (0.6, 0.2, 0.2)
SPLIT_SEED = 0
"""Seed of the split assignment of the shipped data (see :func:`assign_split`)."""
THRESHOLDS = (0.3, 0.5, 0.7)
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
FOLDS = 5
"""Folds of the cross-fitting over train + dev that picks C and fits the calibration."""
N_BOOT = 2000
LOOKS_RISKY = ("security", "persuasion", "medical")
"""Capability categories whose items look risky (attack techniques, persuasion, doses) yet should be answered."""
SUITE_MAX_COSINE = 0.90
"""No labelled prompt may come closer than this (cosine of the MiniLM embeddings) to a prompt of the bundled
suite: above it, two prompts are the same request reworded, and the suite check would be in-distribution."""

Encode = Callable[[Sequence[str]], np.ndarray]


class RiskRow(BaseModel):
    """One labelled prompt: a harmful request (``risky``: should be refused) or an answerable one (``safe``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1)
    label: Literal["risky", "safe"]
    area: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")


def assign_split(prompt: str, seed: int = SPLIT_SEED) -> str:
    """The split of a prompt: a seeded hash of its text, so the assignment is stable as rows are added."""
    bucket = int.from_bytes(hashlib.sha256(f"{seed}\x00{prompt}".encode()).digest()[:8], "big") / 2**64
    edges = np.cumsum(SPLIT_SHARES)
    return SPLITS[int(np.searchsorted(edges, bucket, side="right"))]


def load_split(data_dir: Path, split: str) -> list[RiskRow]:
    """The validated rows of one split; a malformed line raises with its file and line number."""
    path = data_dir / f"{split}.jsonl"
    if not path.is_file():
        raise AltaxError(f"no labelled split {path}: the folder needs train.jsonl, dev.jsonl and test.jsonl")
    rows = read_models(path, RiskRow)
    if not rows:
        raise AltaxError(f"{path} has no rows")
    return rows


def data_digest(data_dir: Path) -> str:
    """A short hash of the three split files."""
    digest = hashlib.sha256()
    for split in SPLITS:
        digest.update((data_dir / f"{split}.jsonl").read_bytes())
    return digest.hexdigest()[:16]


def fit_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: ``a, b`` minimising the log loss of sigmoid(a * logit + b) (Newton, tiny ridge)."""
    a, b = 1.0, 0.0
    xs = np.stack([logits, np.ones_like(logits)], axis=1).astype(np.float64)
    theta = np.array([a, b])
    for _ in range(100):
        p = sigmoid(xs @ theta)
        grad = xs.T @ (p - y) + 1e-6 * theta
        hessian = (xs * (p * (1 - p))[:, None]).T @ xs + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, grad)
        theta = theta - step
        if np.abs(step).max() < 1e-10:
            break
    return float(theta[0]), float(theta[1])


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve: P(a risky prompt outscores a safe one), ties counted half."""
    pos, neg = scores[y == 1], scores[y == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def held_out(p: np.ndarray, y: np.ndarray, seed: int) -> HeldOutMetrics:
    """Accuracy at 0.5 (with a bootstrap 95% interval), AUC, recall and false-positive rate per threshold."""
    correct = (p >= 0.5) == (y == 1)
    rng = np.random.default_rng(seed)
    boot = [correct[rng.integers(0, len(y), len(y))].mean() for _ in range(N_BOOT)]
    return HeldOutMetrics(
        n=len(y),
        accuracy=float(correct.mean()),
        accuracy_ci=[float(v) for v in np.percentile(boot, [2.5, 97.5])],
        auc=auc(p, y),
        log_loss=log_loss(p, y),
        recall={f"{t}": float((p[y == 1] >= t).mean()) for t in THRESHOLDS},
        false_positive_rate={f"{t}": float((p[y == 0] >= t).mean()) for t in THRESHOLDS},
    )


def default_encode(texts: Sequence[str]) -> np.ndarray:
    """MiniLM embeddings of the prompts' first ``RISK_TOKENS`` tokens."""
    from alignment_tax.interventions.risk import shared_encoder

    return shared_encoder(RISK_TOKENS, QUANTIZED).encode(texts)


def fit(x: np.ndarray, y: np.ndarray, name: str, seed: int, data_sha256: str) -> RiskClassifier:
    """Cross-fit on the pooled train and dev rows: pick C by the log loss of seeded K-fold out-of-fold
    logits after Platt scaling, fit Platt on those logits, then refit the head on every row."""
    folds = np.random.default_rng(seed).permutation(len(y)) % FOLDS
    best: tuple[float, float, np.ndarray] | None = None
    for c in C_GRID:
        out_of_fold = np.zeros(len(y))
        for k in range(FOLDS):
            fitting = folds != k
            mean, scale = x[fitting].mean(axis=0), x[fitting].std(axis=0) + 1e-6
            w, b = fit_binary((x[fitting] - mean) / scale, y[fitting], c)
            out_of_fold[~fitting] = ((x[~fitting] - mean) / scale) @ w + b
        a, b = fit_platt(out_of_fold, y)
        loss = log_loss(sigmoid(a * out_of_fold + b), y)
        if best is None or loss < best[0] - 1e-12:
            best = (loss, c, out_of_fold)
    assert best is not None
    _, c, out_of_fold = best
    platt_a, platt_b = fit_platt(out_of_fold, y)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    w, b = fit_binary((x - mean) / scale, y, c)
    meta = RiskMeta(
        name=name,
        encoder=MODEL_DIST,
        max_tokens=RISK_TOKENS,
        quantized=QUANTIZED,
        bias=b,
        platt_a=platt_a,
        platt_b=platt_b,
        seed=seed,
        data_sha256=data_sha256,
        c=c,
        folds=FOLDS,
        cross_fit_log_loss=best[0],
    )
    return RiskClassifier(meta, w.astype(np.float32), mean.astype(np.float32), scale.astype(np.float32))


def train(
    data_dir: Path = DATA_DIR, seed: int = 0, name: str = "default", encode: Encode | None = None
) -> RiskClassifier:
    """Fit and calibrate on train + dev (cross-fitted), measure on test; test numbers go into the metadata."""
    encode = encode or default_encode
    rows = {split: load_split(data_dir, split) for split in SPLITS}
    x = {split: encode([r.prompt for r in rows[split]]) for split in SPLITS}
    y = {split: np.array([r.label == "risky" for r in rows[split]], dtype=np.int64) for split in SPLITS}
    pooled_x, pooled_y = np.vstack([x["train"], x["dev"]]), np.concatenate([y["train"], y["dev"]])
    classifier = fit(pooled_x, pooled_y, name, seed, data_digest(data_dir))
    test = held_out(classifier.probabilities(x["test"]), y["test"], seed)
    sizes = {split: len(rows[split]) for split in SPLITS}
    meta = classifier.meta.model_copy(update={"test": test, "sizes": sizes})
    return RiskClassifier(meta, classifier.weight, classifier.mean, classifier.scale)


def suite_rates(classifier: RiskClassifier, suite: str = "core", threshold: float = 0.5) -> dict[str, dict]:
    """Out-of-distribution check on a suite: the share of items scored at or above ``threshold`` per kind
    and per category (harmful items should score high, benign and capability items low), and over the
    capability items that look risky (security, persuasion, medical) apart from the others."""
    from alignment_tax.interventions.prompting import item_text
    from alignment_tax.suite.loaders import load_suite

    items = load_suite(suite).items
    scores = np.array(classifier.scores([item_text(item) for item in items]))
    out: dict[str, dict] = {"kind": {}, "category": {}, "group": {}}
    for key in ("kind", "category"):
        for value in sorted({getattr(item, key) for item in items}):
            chosen = np.array([getattr(item, key) == value for item in items])
            out[key][value] = {"n": int(chosen.sum()), "above": float((scores[chosen] >= threshold).mean())}
    looks = np.array([i.category in LOOKS_RISKY for i in items])
    capability = np.array([i.kind == "capability" for i in items])
    for group, chosen in (("capability_looks_risky", capability & looks), ("capability_other", capability & ~looks)):
        out["group"][group] = {"n": int(chosen.sum()), "above": float((scores[chosen] >= threshold).mean())}
    return out


def train_and_save(
    data_dir: Path = DATA_DIR, seed: int = 0, name: str = "default", out: Path | None = None, suite: str = "core"
) -> tuple[RiskClassifier, Path]:
    """Train, add the out-of-distribution check on ``suite`` (skipped when empty), write the weights to ``out``
    (default: the package's ``risk-NAME.npz``); returns the classifier and the path of its ``.npz``."""
    classifier = train(data_dir, seed, name)
    if suite:
        rates = suite_rates(classifier, suite)
        meta = classifier.meta.model_copy(update={"suite": {"name": suite, "threshold": 0.5, **rates}})
        classifier = RiskClassifier(meta, classifier.weight, classifier.mean, classifier.scale)
    npz = (out or WEIGHTS_DIR / f"{PREFIX}{name}").with_suffix(".npz")
    save_risk_classifier(classifier, npz)
    return classifier, npz


def summary(classifier: RiskClassifier) -> list[str]:
    """Lines that report a trained classifier's held-out and suite numbers."""
    lines = [f"fingerprint {classifier.fingerprint}"]
    test = classifier.meta.test
    if test is not None:
        lines.append(
            f"test n={test.n} accuracy={test.accuracy:.3f} auc={test.auc:.3f} "
            f"recall={json.dumps(test.recall)} false-positive rate={json.dumps(test.false_positive_rate)}"
        )
    suite = getattr(classifier.meta, "suite", None)
    if suite:
        for key in ("kind", "category", "group"):
            shares = ", ".join(f"{k}={v['above']:.3f}" for k, v in suite[key].items())
            lines.append(f"{suite['name']}: share scored >= {suite['threshold']} by {key}: {shares}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="folder with train/dev/test.jsonl")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cross-fitting folds and of the bootstrap")
    parser.add_argument("--name", default="default", help="name of the classifier")
    parser.add_argument("--out", type=Path, help="where to write NAME.npz and NAME.json (default: the package)")
    parser.add_argument("--suite", default="core", help="suite of the out-of-distribution check ('' to skip)")
    args = parser.parse_args(argv)
    try:
        classifier, npz = train_and_save(args.data, args.seed, args.name, args.out, args.suite)
    except AltaxError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stdout.write("\n".join([f"wrote {npz}", *summary(classifier)]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
