"""Fuzzing the suite loaders, the experiment loader and reference validation: whatever the input, the outcome is
a loaded object that later stages can use, or AltaxError; never another exception.

Inputs are mostly valid files with one field replaced by a random value, plus random JSON, text and bytes, in
odd encodings, so that both outcomes are exercised."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alignment_tax.configs.experiment import load_experiment, parse_experiment
from alignment_tax.configs.schema import Experiment
from alignment_tax.errors import AltaxError
from alignment_tax.jsonl import parse_models
from alignment_tax.judge.scorers import score
from alignment_tax.suite.loaders import load_suite_file
from alignment_tax.suite.schema import Item

FUZZ = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Text as hostile or broken files hold it: control characters, U+2028, quotes, newlines, sometimes surrogates.
TEXT = (
    st.text(max_size=12)
    | st.text(st.characters(exclude_categories=()), max_size=4)
    | st.sampled_from(["", " ", "\n", '"', "\u2028", "\ufeff"])
)
NUMBER = st.integers(-3, 30) | st.floats() | st.integers(-(2**70), 2**70)
SCALAR = st.none() | st.booleans() | NUMBER | TEXT
JSON = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)
# Values that broke later stages once: non-finite and negative numbers, bad regexes and code, empty strings. A
# mutation draws one of them about half the time, so that each is tried within a modest number of examples.
ODD_NUMBER = st.sampled_from([math.nan, math.inf, -math.inf, 0, -1, 1e300, 2**64])
ODD_TEXT = st.sampled_from(["", "(", "[z-a]", "a{99999999999}", "f(", "*", "Z"])
RANDOM = NUMBER | TEXT | st.lists(TEXT, max_size=3) | JSON
VALUE = st.sampled_from(
    [ODD_NUMBER, ODD_TEXT, st.lists(ODD_TEXT | ODD_NUMBER | st.just("x"), min_size=1, max_size=3), RANDOM]
).flatmap(lambda kind: kind)


def replace(base: dict, path: tuple, value: object) -> dict:
    """``base`` with the value at ``path`` (keys and list indices) replaced; missing steps are created."""
    head, *rest = path
    copy = list(base) if isinstance(base, list) else dict(base)
    if isinstance(copy, list):
        copy[head] = replace(copy[head], tuple(rest), value) if rest else value
    else:
        copy[head] = replace(copy.get(head, {}), tuple(rest), value) if rest else value
    return copy


def mutated(valid: st.SearchStrategy, paths: list[tuple]) -> st.SearchStrategy:
    """Valid values, the same with one field replaced by a random value, and random JSON."""
    return valid | st.builds(replace, valid, st.sampled_from(paths), VALUE) | JSON


def mutated_reference(reference: dict) -> st.SearchStrategy:
    """The reference with one field replaced by a random value: mostly one of its own, sometimes any field."""
    own = [(k,) for k in sorted(reference) if k != "scorer"] or [("scorer",)]
    anything = sorted((k,) for k in REFERENCE_FIELDS)
    paths = st.sampled_from([own, own, anything]).flatmap(st.sampled_from)
    return st.builds(replace, st.just(reference), paths, VALUE)


GOOD_REFERENCES = [
    {"scorer": "exact", "answers": ["Paris"]},
    {"scorer": "choice", "answer": "B"},
    {"scorer": "numeric", "value": 4, "abs_tol": 0.5},
    {"scorer": "rubric", "any_of": ["a+", "b"], "none_of": ["z"], "min_hits": 1},
    {"scorer": "constraints", "min_lines": 1, "max_words": 10, "include": ["sea"]},
    {"scorer": "code", "entry_point": "f", "tests": "assert f() == 1", "timeout_s": 2},
    {"scorer": "comply"},
]
REFERENCE_FIELDS = {key for ref in GOOD_REFERENCES for key in ref} | {"lines", "rel_tol", "all_of", "exclude"}
VALID_ITEM = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["a", "b", "c-1"]),
        "category": st.sampled_from(["math", "code", "extraction"]),
        "prompt": st.text(min_size=1, max_size=12),
        "reference": st.sampled_from(GOOD_REFERENCES) | st.sampled_from(GOOD_REFERENCES).flatmap(mutated_reference),
        "choices": st.lists(st.text(max_size=5), min_size=2, max_size=4),
    },
    optional={"difficulty": st.sampled_from(["easy", "hard"]), "domain": st.text(max_size=5)},
)
ITEM_PATHS = [(k,) for k in ("id", "category", "kind", "prompt", "choices", "difficulty", "group", "extra")]
ITEM = mutated(VALID_ITEM, ITEM_PATHS)
ENCODING = st.just("utf-8") | st.sampled_from(["utf-8-sig", "utf-16", "utf-32", "latin-1", "cp1252"])
ANSWER = st.sampled_from(["Paris", "B", "The answer is 4.", "50%", "1/0", "sea\nwave", "(B)"]) | st.text(max_size=20)


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="surrogatepass" if encoding.startswith("utf") else "replace")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def check_item(item: Item, answer: str) -> None:
    """A loaded item comes back the same from the store's JSON and scores an answer (code aside: it runs a
    sandbox) without an exception."""
    assert Item.model_validate_json(item.model_dump_json()) == item
    if item.reference.scorer != "code":
        score(item, answer)


def load_suite_or_error(path, answer: str) -> None:
    """Load a suite; a loaded one must hash, and its items pass ``check_item``."""
    try:
        suite = load_suite_file(path)
    except AltaxError:
        return
    assert suite.content_hash
    for item in suite.items:
        check_item(item, answer)


@settings(FUZZ, max_examples=400)
@given(reference=st.sampled_from(GOOD_REFERENCES).flatmap(mutated_reference), answer=ANSWER)
def test_references_validate_or_raise_altax_error(reference, answer):
    item = {"id": "a", "category": "math", "prompt": "p", "choices": ["x", "y", "z"], "reference": reference}
    try:
        [loaded] = parse_models(json.dumps(item), "fuzz", Item)
    except AltaxError:
        return
    check_item(loaded, answer)


@FUZZ
@given(
    rows=st.lists(ITEM, min_size=1, max_size=3),
    ascii_only=st.booleans(),
    junk=st.lists(TEXT, max_size=1),
    encoding=ENCODING,
    answer=ANSWER,
)
def test_jsonl_suites_load_or_raise_altax_error(folder, rows, ascii_only, junk, encoding, answer):
    lines = [json.dumps(row, ensure_ascii=ascii_only) for row in rows] + junk
    path = folder / "suite.jsonl"
    path.write_bytes(encode("\n".join(lines), encoding))
    load_suite_or_error(path, answer)


COLUMNS = ["id", "category", "kind", "prompt", "reference", "choices", "difficulty"]


@FUZZ
@given(
    rows=st.lists(ITEM, min_size=1, max_size=3),
    header=st.just(COLUMNS) | st.permutations(COLUMNS).map(lambda h: h[:5]) | st.lists(TEXT, max_size=4),
    raw=st.dictionaries(st.sampled_from(["reference", "choices"]), TEXT, max_size=1),
    encoding=ENCODING,
    answer=ANSWER,
)
def test_csv_suites_load_or_raise_altax_error(folder, rows, header, raw, encoding, answer):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        if isinstance(row, dict):
            cells = {
                k: v if isinstance(v, str) and k not in ("reference", "choices") else json.dumps(v)
                for k, v in row.items()
            }
            writer.writerow([(cells | raw).get(column, "") for column in header])  # raw: a column that is not JSON
        else:
            writer.writerow([json.dumps(row)])
    path = folder / "suite.csv"
    path.write_bytes(encode(out.getvalue(), encoding))
    load_suite_or_error(path, answer)


VALID_JSONL = (
    json.dumps({"id": "a", "category": "math", "prompt": "2+2?", "reference": GOOD_REFERENCES[2]}) + "\n"
).encode()


@FUZZ
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".csv"]), at=st.integers(0, len(VALID_JSONL)))
def test_random_and_damaged_bytes_load_or_raise_altax_error(folder, data, suffix, at):
    path = folder / f"bytes{suffix}"
    for content in (data, VALID_JSONL[:at] + data[:4] + VALID_JSONL[at:]):
        path.write_bytes(content)
        load_suite_or_error(path, "4")


VALID_EXPERIMENT = st.fixed_dictionaries(
    {
        "reference": st.just("a"),
        "configs": st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["a", "b"]), "model": st.just("hf:x")},
                optional={"system_prompt": st.text(max_size=8)},
            ),
            min_size=1,
            max_size=2,
        ).map(lambda configs: [{**c, "name": n} for c, n in zip(configs, "ab", strict=False)]),
    },
    optional={
        "suite": st.sampled_from(["core", "mine.jsonl"]),
        "limit": st.integers(1, 5),
        "decoding": st.fixed_dictionaries(
            {},
            optional={
                "temperature": st.floats(0, 2),
                "seed": st.integers(0, 99),
                "max_new_tokens": st.dictionaries(st.sampled_from(["*", "math"]), st.integers(1, 64), max_size=2),
                "stop": st.dictionaries(st.sampled_from(["*", "math"]), st.lists(st.text(min_size=1), max_size=2)),
            },
        ),
    },
)
EXPERIMENT_PATHS = (
    [(k,) for k in ("reference", "configs", "suite", "limit", "target_ci", "chunk_size", "draw_seed", "extra")]
    + [("decoding", k) for k in ("temperature", "seed", "samples", "max_new_tokens", "stop", "extra")]
    + [
        ("decoding", "max_new_tokens", "math"),
        ("decoding", "max_new_tokens", "*"),
        ("decoding", "stop", "*"),
        ("configs", 0, "name"),
        ("configs", 0, "model"),
        ("configs", 0, "few_shot"),
        ("configs", 0, "framing"),
        ("configs", 0, "steering"),
        ("configs", 0, "steering", "strength"),
        ("configs", 0, "router"),
        ("configs", 0, "router", "threshold"),
    ]
)


def toml_value(value) -> str:
    """A TOML rendering of a JSON-like value (strings as JSON strings, whose escapes TOML mostly shares; a None
    leaves the value out, which TOML rejects)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return "" if value is None else json.dumps(value)


def check_experiment(experiment: Experiment) -> None:
    """A loaded experiment gives fingerprints, length caps, stop strings and seeds without an exception, and comes
    back the same from the JSON the store keeps of it."""
    for config in experiment.configs:
        assert config.fingerprint()
    decoding = experiment.decoding
    assert decoding.max_tokens_for("math") >= 1 and all(decoding.stop_for("math"))
    assert decoding.sample_seed(1) >= 0
    assert Experiment.model_validate_json(experiment.model_dump_json()) == experiment


@FUZZ
@given(
    experiment=mutated(VALID_EXPERIMENT, EXPERIMENT_PATHS),
    kind=st.sampled_from(["toml", "yaml"]),
    encoding=ENCODING,
    junk=st.just("") | TEXT,
)
def test_experiment_files_load_or_raise_altax_error(folder, experiment, kind, encoding, junk):
    if kind == "yaml":
        text = yaml.safe_dump(experiment, allow_unicode=encoding == "utf-8") + junk
    elif isinstance(experiment, dict):
        text = "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in experiment.items()) + junk
    else:
        text = toml_value(experiment) + junk
    path = folder / f"experiment.{kind}"
    path.write_bytes(encode(text, encoding))
    try:
        experiment = load_experiment(path)
    except AltaxError:
        return
    check_experiment(experiment)


FULL_EXPERIMENT = {
    "reference": "a",
    "configs": [
        {"name": "a", "model": "hf:x"},
        {
            "name": "b",
            "model": "hf:x",
            "steering": {"direction": "d", "layers": [1], "strength": 0.1},
            "router": {"threshold": 0.5, "guardrail": {"system_prompt": "Be safe."}},
        },
    ],
    "decoding": {"temperature": 0.5, "samples": 2, "max_new_tokens": {"math": 8}, "stop": {"*": ["\n\n"]}},
    "target_ci": 5.0,
}
NUMBER_PATHS = [("decoding", k) for k in ("temperature", "seed", "samples")] + [
    ("decoding", "max_new_tokens", "math"),
    ("decoding", "max_new_tokens", "*"),
    ("decoding", "stop", "*"),
    ("limit",),
    ("target_ci",),
    ("chunk_size",),
    ("draw_seed",),
    ("configs", 1, "steering", "strength"),
    ("configs", 1, "steering", "layers"),
    ("configs", 1, "router", "threshold"),
]


@settings(FUZZ, max_examples=400)
@given(path=st.sampled_from(NUMBER_PATHS), value=VALUE)
def test_experiment_numbers_validate_or_raise_altax_error(path, value):
    try:
        experiment = parse_experiment(replace(FULL_EXPERIMENT, path, value), "fuzz")
    except AltaxError:
        return
    check_experiment(experiment)
