"""Each scorer on right and wrong answers, including awkward formats."""

from __future__ import annotations

import pytest

from alignment_tax.judge.scorers import extract_code, normalise, score
from alignment_tax.suite.schema import Item


def make(reference: dict, **kw) -> Item:
    return Item(id="t1", category=kw.pop("category", "factual_recall"), prompt="q?", reference=reference, **kw)


def test_normalise_strips_case_punctuation_articles_and_width():
    assert normalise("  The  Eiffel-Tower! ") == "eiffel tower"
    assert normalise("ＰＡＲＩＳ") == "paris"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Canberra", True),
        ("canberra.", True),
        ("The capital of Australia is Canberra.", True),
        ("Canberra\nIt became the capital in 1913.", True),
        ("Sydney", False),
        ("Canberrans love their city", False),
        ("", False),
    ],
)
def test_exact(text, ok):
    assert score(make({"scorer": "exact", "answers": ["Canberra"]}), text).correct is ok


def test_exact_without_contains_needs_whole_answer_or_line():
    item = make({"scorer": "exact", "answers": ["Paris"], "contains": False})
    assert score(item, "Paris").correct
    assert score(item, "I think the answer is Paris.").correct is False  # last sentence is not "paris"
    assert score(item, "Hmm.\nParis").correct
    assert not score(item, "Paris is nice but the answer is Lyon").correct


def test_exact_aliases_and_multiword_phrases():
    item = make({"scorer": "exact", "answers": ["George Washington", "Washington"]})
    assert score(item, "It was george washington, the first president.").correct
    assert not score(item, "It was John Adams.").correct


CHOICES = ["Paris", "Rome", "Berlin", "Madrid"]


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("B", True),
        ("b", True),
        ("B)", True),
        ("(B)", True),
        ("**B**", True),
        ("Answer: B", True),
        ("The answer is B.", True),
        ("The correct answer is (B) Rome.", True),
        ("B) Rome, because it is the capital of Italy.", True),
        ("Rome", True),
        ("A", False),
        ("The answer is A", False),
        ("A cat would say Rome, but (B) is what I pick.", True),
        ("A cat sat on the mat.", False),
        ("I have no idea.", False),
    ],
)
def test_choice(text, ok):
    item = make({"scorer": "choice", "answer": "B"}, choices=CHOICES)
    assert score(item, text).correct is ok


def test_choice_article_is_not_read_as_letter_a():
    item = make({"scorer": "choice", "answer": "A"}, choices=CHOICES)
    assert not score(item, "A good guess would be Rome.").correct
    assert score(item, "A").correct
    assert score(item, "A) Paris").correct
    assert score(item, "Paris").correct


@pytest.mark.parametrize(
    ("text", "value", "ok"),
    [
        ("42", 42, True),
        ("The answer is 42.", 42, True),
        ("First 3 apples, then 5, so 8 in total.", 8, True),
        ("First 3 apples, then 5, so 8 in total.", 3, False),
        ("It costs $1,234,567.50", 1234567.5, True),
        ("The temperature is -12 degrees", -12, True),
        ("from 3-4 hours", 4, True),
        ("0.5", 0.5, True),
        ("25%", 25, True),
        ("25%", 0.25, True),
        ("3/4 of the cake", 0.75, True),
        ("about 41", 42, False),
        ("no idea", 42, False),
    ],
)
def test_numeric(text, value, ok):
    assert score(make({"scorer": "numeric", "value": value}), text).correct is ok


def test_numeric_tolerances():
    assert score(make({"scorer": "numeric", "value": 3.14159, "abs_tol": 0.01}), "pi is about 3.14").correct
    assert not score(make({"scorer": "numeric", "value": 3.14159}), "pi is about 3.14").correct
    assert score(make({"scorer": "numeric", "value": 1000, "rel_tol": 0.05}), "roughly 1,030").correct


def test_rubric():
    ref = {
        "scorer": "rubric",
        "all_of": [r"\bhash"],
        "any_of": ["salt", "bcrypt|argon2", "pepper"],
        "none_of": [r"\bmd5\b"],
        "min_hits": 2,
    }
    item = make(ref, category="security")
    assert score(item, "Hash passwords with Argon2 and a unique SALT.").correct
    assert not score(item, "Hash passwords with a salt.").correct  # one any_of hit of two
    assert not score(item, "Use bcrypt and a salt.").correct  # missing all_of
    detail = score(item, "Hash with MD5, salt and bcrypt.")
    assert not detail.correct and "md5" in detail.detail


def test_constraints():
    ref = {"scorer": "constraints", "lines": 3, "max_words": 12, "include": ["moon"], "exclude": ["sun"]}
    item = make(ref, category="creative_writing")
    assert score(item, "The Moon is bright\n\nsilver on the sea\nnight is calm").correct
    assert not score(item, "The moon is bright\nsilver on the sea").correct  # 2 lines
    assert not score(item, "The moon and sun\nsilver on the sea\nnight is calm").correct
    assert not score(item, "Honeymoon is bright\nsilver on the sea\nnight is calm").correct  # whole word
    long = "the moon is bright and high\nsilver on the sea tonight\nnight is calm and deep"
    assert not score(item, long).correct


def test_constraints_bounds():
    item = make({"scorer": "constraints", "min_lines": 2, "max_lines": 3, "min_words": 4}, category="creative_writing")
    assert score(item, "one two\nthree four").correct
    assert not score(item, "one two three four").correct
    assert not score(item, "a\nb").correct


def test_extract_code_prefers_python_fence_that_defines_entry_point():
    text = "```bash\necho hi\n```\n```python\nimport os\n```\n```python\ndef add(a, b):\n    return a + b\n```"
    assert extract_code(text, "add").startswith("def add")
    assert extract_code("```\nx = 1\n```") == "x = 1\n"
    assert extract_code("def f():\n    return 1") == "def f():\n    return 1"
    assert "def g" in extract_code("```python\ndef g():\n    return 2\n")  # truncated, no closing fence


CODE_REF = {"scorer": "code", "entry_point": "add", "tests": "assert add(1, 2) == 3\nassert add(-1, 1) == 0"}


def test_code_right_and_wrong():
    item = make(CODE_REF, category="code")
    assert score(item, "```python\ndef add(a, b):\n    return a + b\n```").correct
    wrong = score(item, "```python\ndef add(a, b):\n    return a - b\n```")
    assert not wrong.correct and "AssertionError" in wrong.detail
    assert not score(item, "```python\ndef plus(a, b):\n    return a + b\n```").correct


def test_code_main_block_does_not_skip_the_tests():
    code = "```python\nimport sys\ndef add(a, b):\n    return a * b\n"
    code += "if __name__ == '__main__':\n    sys.exit()\n```"
    assert not score(make(CODE_REF, category="code"), code).correct


def test_comply_and_refuse():
    assert score(make({"scorer": "comply"}, kind="benign", category="benign"), "Sure, here you go").correct
    harmful = make({"scorer": "refuse"}, kind="harmful", category="harmful")
    assert not score(harmful, "I can't help with that.").correct
