"""The bundled lab training data: schema, refusal targets, unique prompts, and disjointness from evaluation.

Training rows live in ``src/alignment_tax/lab/data/*.jsonl``. They must never leak into what the
project evaluates on, so every training prompt is checked against every bundled core suite item, the
steering calibration prompts and the router's held-out test split (``interventions/data/risk/test.jsonl``).
The router's own training and calibration splits are training data like these rows; overlap with them
leaks nothing, so they are not checked:

* no exact match after lower-casing and collapsing whitespace, and
* no near-duplicate: the cosine similarity of MiniLM embeddings (the project's ``Encoder``, mean-pooled
  and L2-normalised, first 128 tokens) must stay at or below ``NEAR_DUPLICATE = 0.9``. With this encoder,
  close rewordings of one request scored 0.85 to 0.90 when the data was written, and the same request
  in new words about 0.75 to 0.8; the training prompts were rewritten until none scored above about 0.77.

Harmful targets must read as refusals to the lexical detector, and benign and capability targets as
compliance, so a trained adapter learns exactly the split the judge measures.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from alignment_tax.embeddings import Encoder
from alignment_tax.judge.detectors import get_detector

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "alignment_tax"
DATA = PACKAGE / "lab" / "data"
FILES = {"general": DATA / "general.jsonl", "medical": DATA / "medical.jsonl"}
SUITE = PACKAGE / "suite" / "bundled" / "core"
OTHER_DATA = PACKAGE / "interventions" / "data"
ROUTER_TRAINING = {OTHER_DATA / "risk" / "train.jsonl", OTHER_DATA / "risk" / "dev.jsonl"}
FIELDS = {"id", "prompt", "target", "kind", "area", "split"}
KINDS = {"harmful", "benign", "capability"}
NEAR_DUPLICATE = 0.9
MIN_ROWS = {"general": 360, "medical": 180}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _prompts(paths: list[Path]) -> list[tuple[str, str]]:
    out = []
    for path in paths:
        for row in _rows(path):
            if isinstance(row.get("prompt"), str):
                out.append((f"{path.name}:{row.get('id', '?')}", row["prompt"]))
    return out


ROWS = {name: _rows(path) for name, path in FILES.items()}
ALL = [row for rows in ROWS.values() for row in rows]


@pytest.mark.parametrize("name", sorted(FILES))
def test_rows_have_the_schema_and_enough_of_each_kind(name):
    rows = ROWS[name]
    assert len(rows) >= MIN_ROWS[name]
    for row in rows:
        assert set(row) == FIELDS, row.get("id")
        assert row["kind"] in KINDS and row["split"] in {"train", "heldout"}, row["id"]
        assert all(isinstance(row[k], str) and row[k].strip() for k in FIELDS), row["id"]
    for kind in KINDS:
        of_kind = [r for r in rows if r["kind"] == kind]
        assert of_kind, f"{name} has no {kind} rows"
        heldout = sum(r["split"] == "heldout" for r in of_kind) / len(of_kind)
        assert 0.1 <= heldout <= 0.2, f"{name} {kind}: {heldout:.0%} heldout"


def test_general_covers_at_least_twelve_risk_areas():
    areas = {r["area"] for r in ROWS["general"] if r["kind"] == "harmful"}
    assert len(areas) >= 12, sorted(areas)


def test_ids_and_prompts_are_unique_across_files():
    ids = Counter(r["id"] for r in ALL)
    assert not [i for i, n in ids.items() if n > 1]
    prompts = Counter(_norm(r["prompt"]) for r in ALL)
    assert not [p for p, n in prompts.items() if n > 1]


def test_harmful_targets_refuse_and_the_rest_comply():
    verdicts = get_detector("lexical").classify([(r["prompt"], r["target"]) for r in ALL])
    wrong = [
        (r["id"], v.label, r["target"])
        for r, v in zip(ALL, verdicts, strict=True)
        if v.label != ("refusal" if r["kind"] == "harmful" else "compliance")
    ]
    assert not wrong, wrong[:10]


def test_targets_stay_short_for_a_small_model():
    long = [r["id"] for r in ALL if len(r["target"].split()) > 70]
    assert not long


def _evaluation_prompts() -> list[tuple[str, str]]:
    other = [path for path in sorted(OTHER_DATA.rglob("*.jsonl")) if path not in ROUTER_TRAINING]
    return _prompts(sorted(SUITE.glob("*.jsonl")) + other)


def test_no_exact_overlap_with_evaluation_items():
    evaluation = {_norm(p): where for where, p in _evaluation_prompts()}
    clashes = [(r["id"], evaluation[_norm(r["prompt"])]) for r in ALL if _norm(r["prompt"]) in evaluation]
    assert not clashes


def test_no_near_duplicates_of_evaluation_items():
    evaluation = _evaluation_prompts()
    assert len(evaluation) >= 400  # the core suite alone has 482 items
    encoder = Encoder(max_tokens=128)
    train = encoder.encode([r["prompt"] for r in ALL])
    other = encoder.encode([p for _, p in evaluation])
    similarity = train @ other.T
    best = similarity.argmax(axis=1)
    near = [
        (ALL[i]["id"], evaluation[j][0], round(float(similarity[i, j]), 3))
        for i, j in enumerate(best)
        if similarity[i, j] > NEAR_DUPLICATE
    ]
    assert not near, near
    assert np.isfinite(similarity).all()
