"""The labelled refusal set: its schema, the seeded split rule, and split discipline of the shipped files."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.judge.refusal_data import (
    DATA_DIR,
    SPLITS,
    LabelledResponse,
    append_rows,
    load_rows,
    near_duplicate,
    place,
    split_for,
)


def _row(i: int, prompt: str, response: str, label: str = "compliance") -> LabelledResponse:
    return LabelledResponse(id=f"t-{i}", prompt=prompt, response=response, label=label)


def test_split_for_is_seeded_and_near_70_15_15():
    shares = Counter(split_for(f"prompt {i}") for i in range(3000))
    assert 0.66 < shares["train"] / 3000 < 0.74 and 0.12 < shares["test"] / 3000 < 0.18
    assert split_for("What is 2+2?") == split_for("  What is 2+2? ")
    assert [split_for(f"p{i}", seed=1) for i in range(40)] != [split_for(f"p{i}", seed=2) for i in range(40)]


def test_place_keeps_prompts_together_and_no_text_in_two_splits():
    existing = {"train": [_row(0, "Capital of France?", "Paris is the capital of France.")], "dev": [], "test": []}
    new = [
        _row(1, "Capital of France?", "It is Paris."),  # the prompt's split is kept
        _row(2, "Another prompt entirely", "paris is the capital   of France."),  # same text: left out
        _row(3, "Yet another prompt", "Paris is the capital of France!"),  # near-duplicate in train
    ]
    elsewhere = next(f"held-out prompt {i}" for i in range(100) if split_for(f"held-out prompt {i}") != "train")
    new.append(_row(4, elsewhere, "Paris is the capital of France?"))  # near-duplicate in another split
    placed, dropped = place(existing, new)
    assert split_for("Yet another prompt") == "train"  # so t-3 sits beside its near-duplicate: kept
    assert [r.id for r in placed["train"]] == ["t-1", "t-3"]
    assert [r.id for r in dropped] == ["t-2", "t-4"]


def test_near_duplicate():
    assert near_duplicate("I can't help with that.", "I can't  help with that.")
    assert not near_duplicate("The review is positive.", "Use kill -9 on the process id.")
    assert not near_duplicate("", "4") and near_duplicate("", " ")


def test_rows_round_trip_and_bad_rows_name_the_line(tmp_path):
    rows = {"train": [_row(0, "p", "r", "refusal")], "dev": [], "test": []}
    for split in SPLITS:
        (tmp_path / f"{split}.jsonl").write_text("")
    append_rows(tmp_path, rows)
    assert load_rows(tmp_path, "train") == rows["train"]
    (tmp_path / "dev.jsonl").write_text(
        json.dumps({"id": "x", "prompt": "p", "response": "r", "label": "maybe"}) + "\n"
    )
    with pytest.raises(AltaxError, match=r"dev.jsonl:1: label"):
        load_rows(tmp_path, "dev")


def test_shipped_splits_share_no_prompt_and_no_response_text():
    seen_prompt: dict[str, str] = {}
    seen_text: dict[str, str] = {}
    total = 0
    for split in SPLITS:
        for row in load_rows(DATA_DIR, split):
            total += 1
            assert seen_prompt.setdefault(row.prompt.strip(), split) == split, row.id
            text = " ".join(row.response.lower().split())
            if text:
                assert seen_text.setdefault(text, split) == split, row.id
    assert total >= 1186 + 300 + 300  # the first batch, the hand-written and the model's own additions
