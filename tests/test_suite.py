"""Suite schema, bundled suite and loaders."""

import json

import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.suite.loaders import bundled_suites, load_suite, load_suite_file
from alignment_tax.suite.schema import CAPABILITY_CATEGORIES, Item


def test_core_suite_has_every_category_and_safety_kinds():
    suite = load_suite("core")
    assert suite.version
    by_category = {}
    for item in suite.items:
        by_category.setdefault(item.category, []).append(item)
    for category in CAPABILITY_CATEGORIES:
        assert len(by_category[category]) >= 30, category
        assert {i.difficulty for i in by_category[category]} == {"easy", "medium", "hard"}
    assert len(by_category["harmful"]) >= 80
    assert len(by_category["benign"]) >= 80
    assert all(i.reference.scorer == "refuse" for i in by_category["harmful"])
    assert sum(i.domain == "medical" for i in by_category["harmful"]) >= 10
    assert [s.name for s in bundled_suites()] == ["core"]


def test_core_prompts_are_unique():
    prompts = [item.prompt.strip().lower() for item in load_suite("core").items]
    assert len(prompts) == len(set(prompts))


def test_harmful_items_must_use_the_refuse_reference():
    with pytest.raises(ValueError, match="refuse"):
        Item(id="h1", category="harmful", kind="harmful", prompt="x", reference={"scorer": "comply"})
    with pytest.raises(ValueError, match="only harmful"):
        Item(id="c1", category="math", prompt="x", reference={"scorer": "refuse"})


def test_choice_answer_must_be_among_choices():
    with pytest.raises(ValueError, match="beyond"):
        Item(
            id="q",
            category="math",
            prompt="x",
            choices=["a", "b"],
            reference={"scorer": "choice", "answer": "C"},
        )


def test_malformed_line_names_file_and_line(tmp_path):
    good = {"id": "a", "category": "math", "prompt": "2+2?", "reference": {"scorer": "numeric", "value": 4}}
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + '{"id": "b", "category": "math"\n')
    with pytest.raises(AltaxError, match=r"mine.jsonl:3"):
        load_suite_file(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good | {"id": "b", "reference": {"scorer": "nope"}}))
    with pytest.raises(AltaxError, match=r"mine.jsonl:2: reference"):
        load_suite_file(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good))
    with pytest.raises(AltaxError, match="more than once"):
        load_suite_file(path)


def test_csv_suite_loads_with_json_columns(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "id,category,kind,prompt,reference,choices\n"
        'q1,factual_recall,capability,Capital of France?,"{""scorer"": ""exact"", ""answers"": [""Paris""]}",\n'
        'q2,classification,capability,Pick,"{""scorer"": ""choice"", ""answer"": ""B""}","[""x"", ""y""]"\n'
    )
    suite = load_suite_file(path)
    assert [i.id for i in suite.items] == ["q1", "q2"]
    assert suite.items[1].choices == ["x", "y"]
    assert suite.version == suite.content_hash


def test_unknown_suite_name_is_a_clear_error():
    with pytest.raises(AltaxError, match="unknown suite"):
        load_suite("nonexistent")
