"""Bad suite and experiment files, references and run options: one clear line and exit 2, rejected up front."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from alignment_tax.cli import app
from alignment_tax.configs.experiment import load_experiment
from alignment_tax.configs.schema import Decoding
from alignment_tax.errors import AltaxError
from alignment_tax.suite.loaders import load_suite_file
from alignment_tax.workflows import experiment as experiment_workflow

NUMERIC = {"scorer": "numeric", "value": 4}
GOOD = {"id": "a", "category": "math", "prompt": "2+2?", "reference": NUMERIC}
EXPERIMENT = 'reference = "a"\n[[configs]]\nname = "a"\nmodel = "hf:x"\n'


def altax(*args: str):
    return CliRunner().invoke(app, list(args))


def check(path) -> str:
    """The stderr of `altax suite check PATH`, asserting it failed in one line with exit code 2."""
    result = altax("suite", "check", str(path))
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def jsonl(tmp_path, *rows: dict | str):
    path = tmp_path / "s.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def csv_text(*rows: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, ["id", "category", "prompt", "reference", "choices"])
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v) if k in ("reference", "choices") else v for k, v in row.items()})
    return out.getvalue()


def with_reference(**reference) -> dict:
    return GOOD | {"reference": reference}


# --- files: encodings, nesting, sizes ------------------------------------------------------------------------


def test_non_utf8_suite_files_name_the_line(tmp_path):
    for name, body, line in (("s.jsonl", json.dumps(GOOD), 2), ("s.csv", csv_text(GOOD).rstrip(), 3)):
        path = tmp_path / name
        path.write_bytes(body.encode() + b"\n" + "caf\u00e9".encode("latin-1") + b"\n")
        message = check(path)
        assert "not UTF-8" in message and f"{name}:{line}:" in message


def test_non_utf8_and_utf16_experiment_files_are_one_line_errors(tmp_path):
    for name, data in (("e.toml", EXPERIMENT.encode("utf-16")), ("e.yaml", b"reference: \xff\n")):
        path = tmp_path / name
        path.write_bytes(data)
        result = altax("run", "--config", str(path))
        assert result.exit_code == 2 and "not UTF-8" in result.stderr, result.output


def test_deeply_nested_json_is_rejected(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    line = json.dumps(GOOD)[:-1] + f', "choices": {deep}}}'
    assert "s.jsonl:1" in check(jsonl(tmp_path, line))
    path = tmp_path / "s.csv"
    path.write_text(f"id,category,prompt,reference\na,math,x,{deep}\n")
    assert "reference: not valid JSON" in check(path)


@pytest.mark.parametrize(("name", "text"), [("e.toml", "a = " + "[" * 5000 + "]" * 5000), ("e.yaml", "[" * 5000)])
def test_deeply_nested_experiment_files_are_rejected(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(AltaxError, match="not valid"):
        load_experiment(path)


def test_csv_fields_longer_than_the_csv_default_cap_load(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(csv_text(GOOD | {"prompt": "x" * 200_000}))
    assert len(load_suite_file(path).items[0].prompt) == 200_000


def test_csv_quoted_newlines_and_jsonl_line_separators_stay_in_the_prompt(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(csv_text(GOOD | {"prompt": "first line\nsecond line"}), newline="")
    assert load_suite_file(path).items[0].prompt == "first line\nsecond line"
    prompt = "a\u2028b\x85c\x1cd"
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(GOOD | {"prompt": prompt}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert load_suite_file(path).items[0].prompt == prompt


def test_a_byte_order_mark_is_accepted_in_csv_jsonl_toml_and_yaml(tmp_path):
    for name, text in (("s.csv", csv_text(GOOD)), ("s.jsonl", json.dumps(GOOD) + "\n")):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        assert [i.id for i in load_suite_file(path).items] == ["a"]
    yaml_text = "reference: a\nconfigs:\n  - name: a\n    model: hf:x\n"
    for name, text in (("e.toml", EXPERIMENT), ("e.yaml", yaml_text)):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        assert load_experiment(path).reference == "a"


def test_lone_surrogate_escapes_are_rejected(tmp_path):
    assert "s.jsonl:1" in check(jsonl(tmp_path, json.dumps(GOOD | {"prompt": "x"}).replace('"x"', '"\\ud800"')))
    path = tmp_path / "e.yaml"
    path.write_text('reference: a\nconfigs:\n  - name: a\n    model: hf:x\n    system_prompt: "\\ud800"\n')
    result = altax("run", "--config", str(path))
    assert result.exit_code == 2 and "surrogate" in result.stderr, result.output


def test_yaml_and_toml_errors_are_one_line(tmp_path):
    for name, text in (("e.yaml", "a: b: c\n"), ("e.toml", "a = \n"), ("e.yaml", "a: 2020-02-30\n")):
        path = tmp_path / name
        path.write_text(text)
        result = altax("run", "--config", str(path))
        assert result.exit_code == 2 and "not valid" in result.stderr, result.output
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_directories_empty_files_and_duplicates(tmp_path):
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    assert "is not a regular file" in check(folder)
    assert "holds no items" in check(jsonl(tmp_path))
    assert "more than once" in check(jsonl(tmp_path, GOOD, GOOD))
    assert "not found" in check(tmp_path / "missing.csv")
    experiment = tmp_path / "e.toml"
    experiment.mkdir()
    result = altax("run", "--config", str(experiment))
    assert result.exit_code == 2 and "is not a regular file" in result.stderr


# --- references -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ('"value": NaN', "value", "finite"),
        ('"value": -Infinity', "value", "finite"),
        ('"value": 4, "abs_tol": Infinity', "abs_tol", "finite"),
        ('"value": 4, "rel_tol": NaN', "rel_tol", "finite"),
        ('"value": 4, "abs_tol": -1', "abs_tol", "greater than or equal to 0"),
    ],
)
def test_numeric_references_must_be_finite_in_jsonl_and_csv(tmp_path, fields, field, message):
    reference = f'{{"scorer": "numeric", {fields}}}'
    error = check(jsonl(tmp_path, f'{{"id": "a", "category": "math", "prompt": "2+2?", "reference": {reference}}}'))
    assert f"reference.numeric.{field}: " in error and message in error
    path = tmp_path / "s.csv"
    path.write_text('id,category,prompt,reference\na,math,x,"' + reference.replace('"', '""') + '"\n')
    assert message in check(path)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ({"scorer": "rubric", "any_of": ["ok", "(unclosed"]}, "invalid regular expression '(unclosed'"),
        ({"scorer": "rubric", "all_of": ["a{99999999999}"]}, "invalid regular expression"),
        ({"scorer": "rubric", "any_of": ["x"], "none_of": ["[z-a]"]}, "invalid regular expression"),
        ({"scorer": "code", "entry_point": "f", "tests": "assert f()", "timeout_s": -1}, "greater than 0"),
        ({"scorer": "code", "entry_point": "f", "tests": "assert f()", "timeout_s": 0}, "greater than 0"),
        ({"scorer": "code", "entry_point": "f", "tests": "assert f()", "timeout_s": 1e9}, "less than or equal to 600"),
        ({"scorer": "code", "entry_point": "f()", "tests": "assert f()"}, "entry_point must be a Python function"),
        ({"scorer": "code", "entry_point": "f", "tests": "assert f("}, "tests are not valid Python"),
        ({"scorer": "constraints", "min_words": -3}, "greater than or equal to 0"),
        ({"scorer": "constraints", "min_lines": 5, "max_lines": 2}, "a minimum is above its maximum"),
    ],
)
def test_references_that_would_break_or_never_match_at_judge_time(tmp_path, reference, message):
    assert message in check(jsonl(tmp_path, with_reference(**reference)))


def test_choices_must_be_strings_and_at_most_26(tmp_path):
    choice = {"scorer": "choice", "answer": "A"}
    assert "choices" in check(jsonl(tmp_path, GOOD | {"reference": choice, "choices": [1, {"x": 2}]}))
    many = [f"option {i}" for i in range(27)]
    assert "at most 26" in check(jsonl(tmp_path, GOOD | {"reference": choice, "choices": many}))
    path = tmp_path / "s.csv"
    path.write_text(
        'id,category,prompt,reference,choices\na,math,x,"{""scorer"": ""choice"", ""answer"": ""A""}",A;B\n'
    )
    assert "choices: not valid JSON" in check(path)


# --- experiment files and run options -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decoding", "field"),
    [
        ("max_new_tokens = { code = 0 }", "decoding.max_new_tokens.code"),
        ('max_new_tokens = { "*" = -5 }', "decoding.max_new_tokens.*"),
        ('stop = { "*" = [""] }', "decoding.stop.*.0"),
        ('stop = { math = ["\\n", ""] }', "decoding.stop.math.1"),
        ("temperature = nan", "decoding.temperature"),
        ("temperature = inf", "decoding.temperature"),
        ("seed = -1", "decoding.seed"),
        ("seed = 18446744073709551616", "decoding.seed"),
    ],
)
def test_decoding_that_would_degenerate_every_answer_is_rejected(tmp_path, decoding, field):
    path = tmp_path / "e.toml"
    path.write_text(f"{EXPERIMENT}[decoding]\n{decoding}\n")
    result = altax("run", "--config", str(path))
    assert result.exit_code == 2, result.output
    assert f"e.toml: {field}:" in result.stderr


def test_other_experiment_numbers_must_be_finite(tmp_path):
    for line in ("target_ci = inf", "draw_seed = -2"):
        path = tmp_path / "e.toml"
        path.write_text(f"{line}\n{EXPERIMENT}")
        with pytest.raises(AltaxError, match=line.split()[0]):
            load_experiment(path)


def test_the_all_categories_length_cap_applies_under_a_categorys_own():
    decoding = Decoding(max_new_tokens={"*": 20, "code": 200})
    assert decoding.max_tokens_for("math") == 20 and decoding.max_tokens_for("code") == 200
    assert Decoding().max_tokens_for("code") == 160


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--workload", "missing.toml"], "workload file not found"),
        (["--cluster", "bogus"], "unknown clustering 'bogus'"),
        (["--executor", "bogus"], "unknown executor 'bogus'"),
    ],
)
def test_run_options_are_checked_before_any_model_work(tmp_path, monkeypatch, options, message):
    def no_model_work(*args, **kwargs):
        raise AssertionError("model work started before the options were checked")

    monkeypatch.setattr(experiment_workflow, "load_classifiers", no_model_work)
    monkeypatch.setattr(experiment_workflow, "load_backends", no_model_work)
    suite = jsonl(tmp_path, GOOD)
    monkeypatch.chdir(tmp_path)
    result = altax("run", "--suite", str(suite), "--results-dir", str(tmp_path / "r"), *options)
    assert result.exit_code == 2, (result.output, result.exception)
    assert message in result.stderr
