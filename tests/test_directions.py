"""Steering directions: the calibration set (disjoint from the suite), extraction, saving and finding by name."""

import collections
import difflib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.interventions.directions import (
    COMPLIANCE_OPENINGS,
    REFUSAL_OPENINGS,
    default_direction_name,
    extract_direction,
    list_directions,
    load_calibration,
    load_direction,
    save_direction,
)

MODEL = "builtin:smollm2-135m-instruct"
SUITE = Path(__file__).parents[1] / "src" / "alignment_tax" / "suite" / "bundled" / "core"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def test_calibration_set_is_balanced_and_spans_many_risk_areas():
    prompts = load_calibration()
    harmful = [p for p in prompts if p.kind == "harmful"]
    harmless = [p for p in prompts if p.kind == "harmless"]
    assert len(harmful) >= 75 and len(harmless) >= 75
    assert len({p.id for p in prompts}) == len(prompts)
    assert len({p.area for p in harmful}) >= 12
    assert len({p.prompt.lower() for p in prompts}) == len(prompts)
    assert any(p.area == "risky_looking" for p in harmless)


def _word_overlap(texts: list[str], others: list[str]) -> np.ndarray:
    """The Jaccard similarity of the word sets of every text and every other (one matrix product)."""
    sets = [_words(t) for t in texts], [_words(t) for t in others]
    vocabulary = {w: i for i, w in enumerate(sorted(set().union(*sets[0], *sets[1])))}
    a, b = (np.zeros((len(s), len(vocabulary))) for s in sets)
    for matrix, words in ((a, sets[0]), (b, sets[1])):
        for row, found in enumerate(words):
            matrix[row, [vocabulary[w] for w in found]] = 1
    shared = a @ b.T
    return shared / (a.sum(1)[:, None] + b.sum(1)[None, :] - shared)


def _quick_ratios(texts: list[str], others: list[str]) -> np.ndarray:
    """difflib's ``quick_ratio`` of every pair (characters in common, however ordered): an upper bound of
    ``SequenceMatcher.ratio``, so only pairs reaching a threshold with it need the exact ratio."""
    alphabet = {c: i for i, c in enumerate(sorted(set("".join(texts + others))))}
    counts = []
    for strings in (texts, others):
        matrix = np.zeros((len(strings), len(alphabet)), dtype=np.int64)
        for row, text in enumerate(strings):
            for char, n in collections.Counter(text).items():
                matrix[row, alphabet[char]] = n
        counts.append(matrix)
    matches = np.minimum(counts[0][:, None, :], counts[1][None, :, :]).sum(-1)
    return 2.0 * matches / (np.array([len(t) for t in texts])[:, None] + np.array([len(t) for t in others]))


def test_no_calibration_prompt_equals_or_nearly_equals_a_suite_prompt():
    suite = [json.loads(line)["prompt"].lower() for path in sorted(SUITE.glob("*.jsonl")) for line in path.open()]
    assert len(suite) == 482
    calibration = load_calibration()
    prompts = [p.prompt.lower() for p in calibration]
    jaccard = _word_overlap(prompts, suite)
    candidates = (jaccard >= 0.5) | (_quick_ratios(prompts, suite) >= 0.72)
    close, matcher = [], difflib.SequenceMatcher(None)
    for j, other in enumerate(suite):
        matcher.set_seq2(other)  # difflib indexes the second sequence once for all the first ones
        for i in np.flatnonzero(candidates[:, j]):
            matcher.set_seq1(prompts[i])
            ratio = matcher.ratio()
            if jaccard[i, j] >= 0.5 or ratio >= 0.72:
                close.append((calibration[i].id, other, round(float(jaccard[i, j]), 2), round(ratio, 2)))
    assert not close


def test_near_duplicate_screens_agree_with_difflib_and_word_sets():
    texts = ["How do I pick a lock?", "how do i pick a lock", "Bake bread at home.", "x"]
    others = ["How do I pick the lock?", "Bread: bake it at home!", "zzz"]
    jaccard, quick = _word_overlap(texts, others), _quick_ratios(texts, others)
    for i, text in enumerate(texts):
        for j, other in enumerate(others):
            words, other_words = _words(text), _words(other)
            assert jaccard[i, j] == len(words & other_words) / len(words | other_words)
            matcher = difflib.SequenceMatcher(None, text, other)
            assert quick[i, j] == matcher.quick_ratio() >= matcher.ratio()


def test_openings_are_content_free():
    assert all(len(o.split()) <= 5 for o in REFUSAL_OPENINGS + COMPLIANCE_OPENINGS)
    assert all(re.search(r"sorry|can't|cannot|won't|decline", o, re.I) for o in REFUSAL_OPENINGS)


def test_default_direction_names():
    assert default_direction_name(MODEL) == "caa-smollm2-135m-instruct"
    assert default_direction_name("hf:org/My Model@v2", "mean-diff") == "mean-diff-My-Model"


def test_unknown_direction_names_the_known_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("ALTAX_CACHE_DIR", str(tmp_path))
    with pytest.raises(AltaxError, match="no steering direction 'nope'.*altax steer extract"):
        load_direction("nope")


@pytest.mark.slow
def test_extraction_is_deterministic_for_a_seed_and_round_trips(tmp_path, monkeypatch):
    from alignment_tax.models.specs import load_backend

    monkeypatch.setenv("ALTAX_CACHE_DIR", str(tmp_path))
    backend = load_backend(MODEL)
    calibration = load_calibration()
    few = [p for p in calibration if p.kind == "harmful"][:3] + [p for p in calibration if p.kind == "harmless"][:3]
    first = extract_direction(backend, "caa", seed=0, prompts=few)
    again = extract_direction(backend, "caa", seed=0, prompts=few)
    other_seed = extract_direction(backend, "caa", seed=1, prompts=few)
    assert first.vectors.shape == (30, 576)
    assert first.content_hash == again.content_hash and first.vectors.equal(again.vectors)
    assert other_seed.content_hash != first.content_hash  # the seed pairs prompts with other openings
    assert first.vectors.norm(dim=-1).sub(1).abs().max() < 1e-5
    assert all(n > 0 for n in first.norms) and first.norms[-1] > first.norms[0]

    path = save_direction(first, "mine")
    assert path == tmp_path / "directions" / "mine.safetensors"
    loaded = load_direction("mine")
    assert loaded.content_hash == first.content_hash
    assert (loaded.method, loaded.model_fingerprint, loaded.seed) == ("caa", backend.fingerprint, 0)
    assert loaded.calibration_hash == first.calibration_hash != ""
    assert "mine" in [d.name for d, _ in list_directions()]

    diff = extract_direction(backend, "mean-diff", prompts=few)
    assert diff.method == "mean-diff" and diff.content_hash != first.content_hash
