"""Train the prompt category classifier reproducibly: ``python -m alignment_tax.interventions.category_train``.

It learns from the project's own prompts only (no public benchmark's labels): the capability items of the bundled
``core`` suite, the capability rows of the lab's training data, and the answerable prompts of the router's data
whose area is a capability category. Rows are split by a seeded hash of the prompt (60/20/20, as the router's
data is); C is chosen on dev, the head is refitted on train + dev and measured once on test. Leave-one-source-out
accuracy (fit on two sources, test on every row of the third) says how far it carries to prompts written apart
from its training rows: the suite's items come from templates, so a random split flatters them."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import softmax

from alignment_tax.embeddings import MODEL_DIST
from alignment_tax.files import write_file, write_text
from alignment_tax.interventions.category import ARRAYS, PREFIX, CategoryClassifier, CategoryMeta
from alignment_tax.interventions.risk import QUANTIZED, RISK_TOKENS, WEIGHTS_DIR
from alignment_tax.interventions.risk_train import DATA_DIR as RISK_DATA_DIR
from alignment_tax.interventions.risk_train import SPLITS, assign_split, default_encode, load_split
from alignment_tax.lab.data import load_file
from alignment_tax.logistic import fit_multinomial
from alignment_tax.proportions import wilson_interval
from alignment_tax.suite.schema import CAPABILITY_CATEGORIES

LAB_DATA_DIR = Path(__file__).parents[1] / "lab" / "data"
SUITE = "core"
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3)
RISK_AREAS = {
    "classification": "classification",
    "code": "code",
    "creative": "creative_writing",
    "extraction": "extraction",
    "factual": "factual_recall",
    "math": "math",
    "medical": "medical",
    "persuasion": "persuasion",
    "security_defense": "security",
}
"""Areas of the router's answerable prompts that are a capability category; its other areas (look-alikes of
harmful requests, formatting, history, multiple choice, protective advice) name no one category and are left out."""

Encode = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class LabelledPrompt:
    """One training prompt, its category and which of the project's data sets it comes from."""

    prompt: str
    category: str
    source: str


def _suite_rows(suite: str) -> list[LabelledPrompt]:
    from alignment_tax.interventions.prompting import item_text
    from alignment_tax.suite.loaders import load_suite

    items = load_suite(suite).items
    return [LabelledPrompt(item_text(i), i.category, "suite") for i in items if i.kind == "capability"]


def _lab_rows(data_dir: Path) -> list[LabelledPrompt]:
    """Capability rows of every lab file: the area is the category, or, in a file named after a category
    (``medical.jsonl``), a topic within it."""
    rows = []
    for path in sorted(data_dir.glob("*.jsonl")):
        for row in load_file(path).rows:
            category = row.area if row.area in CAPABILITY_CATEGORIES else path.stem
            if row.kind == "capability" and category in CAPABILITY_CATEGORIES:
                rows.append(LabelledPrompt(row.prompt, category, "lab"))
    return rows


def _router_rows(data_dir: Path) -> list[LabelledPrompt]:
    return [
        LabelledPrompt(row.prompt, RISK_AREAS[row.area], "router")
        for split in SPLITS
        for row in load_split(data_dir, split)
        if row.label == "safe" and row.area in RISK_AREAS
    ]


def project_prompts(
    suite: str = SUITE, lab_dir: Path = LAB_DATA_DIR, router_dir: Path = RISK_DATA_DIR
) -> list[LabelledPrompt]:
    """Every labelled prompt of the three sources, each prompt text once (its first source wins)."""
    seen: dict[str, LabelledPrompt] = {}
    for row in [*_suite_rows(suite), *_lab_rows(lab_dir), *_router_rows(router_dir)]:
        seen.setdefault(row.prompt.strip(), row)
    return list(seen.values())


def digest(rows: Sequence[LabelledPrompt]) -> str:
    """A short hash of the training rows (text, category, source)."""
    payload = json.dumps([(r.prompt, r.category, r.source) for r in rows]).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardise on ``x`` and fit the multinomial head: (weight, bias, mean, scale)."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    weight, bias = fit_multinomial((x - mean) / scale, y, len(CAPABILITY_CATEGORIES), c)
    return weight, bias, mean.astype(np.float32), scale.astype(np.float32)


def _probabilities(head: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
    weight, bias, mean, scale = head
    return softmax(((x - mean) / scale) @ weight.T + bias, axis=1)


def accuracy(correct: np.ndarray) -> dict:
    """Share correct with its Wilson 95% interval."""
    n, hits = len(correct), int(correct.sum())
    return {"n": n, "accuracy": hits / n, "accuracy_ci": list(wilson_interval(hits, n))}


def held_out(predicted: np.ndarray, y: np.ndarray, sources: np.ndarray) -> dict:
    """Accuracy on held-out rows, per gold category (recall) and per source, and the errors (gold -> predicted)."""
    names = CAPABILITY_CATEGORIES
    correct = predicted == y
    errors = Counter(f"{names[g]}->{names[p]}" for g, p in zip(y, predicted, strict=True) if g != p)
    return {
        **accuracy(correct),
        "recall": {names[k]: accuracy(correct[y == k]) for k in range(len(names)) if (y == k).any()},
        "by_source": {s: accuracy(correct[sources == s]) for s in sorted(set(sources))},
        "errors": dict(errors.most_common()),
    }


def train(seed: int = 0, name: str = "default", encode: Encode | None = None) -> CategoryClassifier:
    """Choose C on dev, refit on train + dev, measure on test and leave-one-source-out; the numbers go into the
    metadata."""
    rows = project_prompts()
    x = (encode or default_encode)([r.prompt for r in rows])
    y = np.array([CAPABILITY_CATEGORIES.index(r.category) for r in rows])
    sources = np.array([r.source for r in rows])
    split = np.array([assign_split(r.prompt, seed) for r in rows])
    train_rows, dev, test = split == "train", split == "dev", split == "test"

    def dev_score(c: float) -> tuple[float, float]:
        p = _probabilities(fit(x[train_rows], y[train_rows], c), x[dev])
        return float((p.argmax(axis=1) == y[dev]).mean()), float(np.log(p[np.arange(dev.sum()), y[dev]]).mean())

    c = max(C_GRID, key=dev_score)
    fitting = train_rows | dev
    head = fit(x[fitting], y[fitting], c)
    test_numbers = held_out(_probabilities(head, x[test]).argmax(axis=1), y[test], sources[test])
    loso = {}
    for source in sorted(set(sources)):
        others = sources != source
        p = _probabilities(fit(x[others], y[others], c), x[~others])
        loso[source] = accuracy(p.argmax(axis=1) == y[~others])
    meta = CategoryMeta(
        name=name,
        categories=list(CAPABILITY_CATEGORIES),
        encoder=MODEL_DIST,
        max_tokens=RISK_TOKENS,
        quantized=QUANTIZED,
        c=c,
        seed=seed,
        data_sha256=digest(rows),
        sizes={s: int((split == s).sum()) for s in SPLITS},
        by_source={s: int((sources == s).sum()) for s in sorted(set(sources))},
        test=test_numbers,
        leave_one_source_out=loso,
    )
    return CategoryClassifier(meta, *head)


def save(classifier: CategoryClassifier, npz: Path) -> Path:
    """Write the arrays to ``npz`` and the metadata beside it; returns the metadata path."""
    arrays = {key: getattr(classifier, key).astype(np.float32) for key in ARRAYS}
    write_file(npz, lambda handle: np.savez_compressed(handle, **arrays))
    return write_text(
        npz.with_suffix(".json"), json.dumps(classifier.meta.model_dump(), indent=2, sort_keys=True) + "\n"
    )


def summary(classifier: CategoryClassifier) -> list[str]:
    """Lines that report the held-out numbers."""
    meta = classifier.meta.model_dump()
    test = meta["test"]
    low, high = test["accuracy_ci"]
    lines = [f"C={meta['c']} test n={test['n']} accuracy={test['accuracy']:.3f} [{low:.3f}, {high:.3f}]"]
    lines += [f"  {s}: {v['accuracy']:.3f} of {v['n']}" for s, v in test["by_source"].items()]
    lines.append("leave one source out (fit on the others, test on all its rows):")
    lines += [f"  {s}: {v['accuracy']:.3f} of {v['n']}" for s, v in meta["leave_one_source_out"].items()]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0, help="seed of the split assignment")
    parser.add_argument("--name", default="default", help="name of the classifier")
    parser.add_argument("--out", type=Path, help="where to write NAME.npz and NAME.json (default: the package)")
    args = parser.parse_args(argv)
    classifier = train(args.seed, args.name)
    npz = (args.out or WEIGHTS_DIR / f"{PREFIX}{args.name}").with_suffix(".npz")
    save(classifier, npz)
    sys.stdout.write("\n".join([f"wrote {npz}", *summary(classifier)]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
