"""The `altax` command: listing, checking, and one-line errors for bad input (no model is run)."""

import json
import subprocess
import sys

import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.models import specs
from altax_here import altax_here

ALTAX = [sys.executable, "-m", "alignment_tax"]


def altax(*args, env=None, cwd=None):
    return subprocess.run([*ALTAX, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_suites_lists_core():
    result = altax("suites")
    assert result.returncode == 0
    assert "core" in result.stdout and "1.0.0" in result.stdout


def test_suite_check_summarises_a_valid_file(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text(
        json.dumps({"id": "a", "category": "math", "prompt": "1+1?", "reference": {"scorer": "numeric", "value": 2}})
        + "\n"
    )
    result = altax("suite", "check", str(path))
    assert result.returncode == 0, result.stderr
    assert "1 valid items" in result.stdout


def test_suite_check_reports_file_and_line_without_traceback(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"id": "a", "category": "math", "prompt": "1+1?", "reference": {"scorer": "numeric", "value": 2}}\n'
        '{"id": "b", "category": "math", "prompt": "x", "reference": {"scorer": "numeric"}}\n'
    )
    result = altax("suite", "check", str(path))
    assert result.returncode == 2
    assert "bad.jsonl:2" in result.stderr and "value" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_debug_shows_the_traceback(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("not json\n")
    result = altax("--debug", "suite", "check", str(path))
    assert result.returncode != 0 and "Traceback" in result.stderr


@pytest.mark.parametrize(
    ("experiment", "message"),
    [
        ('reference = "nope"\n[[configs]]\nname = "a"\nmodel = "hf:x"\n', "reference 'nope' is not one of"),
        ('reference = "a"\n[[configs]]\nname = "a"\nmodel = "gpt:x"\n', "unknown model scheme 'gpt'"),
        (
            'reference = "a"\n[[configs]]\nname = "a"\nmodel = "builtin:nope"\n',
            "unknown builtin model 'nope'",
        ),
        (
            'reference = "a"\nsuite = "missing.jsonl"\n[[configs]]\nname = "a"\nmodel = "hf:x"\n',
            "suite file not found",
        ),
        (
            'reference = "a"\n[decoding.max_new_tokens]\ncod = 9\n[[configs]]\nname = "a"\nmodel = "hf:x"\n',
            "name no category of suite core: 'cod' (did you mean 'code'?)",
        ),
    ],
)
def test_run_rejects_bad_experiments_in_one_line(tmp_path, experiment, message):
    path = tmp_path / "e.toml"
    path.write_text(experiment)
    result = altax_here("run", "--config", str(path), "--results-dir", str(tmp_path / "r"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_kernel_is_refused_before_any_model_work(tmp_path):
    result = altax_here("run", "--kernel", "fastest", "--results-dir", str(tmp_path / "r"))
    assert result.returncode == 2 and "choose one of auto, dense, onednn" in result.stderr
    assert not (tmp_path / "r").exists()


def test_unwritable_cache_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {"ALTAX_CACHE_DIR": str(blocker / "cache")}
    result = altax_here("run", "--limit", "1", "--results-dir", str(tmp_path / "r"), env=env)
    assert result.returncode == 2
    assert "not writable" in result.stderr and "ALTAX_CACHE_DIR" in result.stderr


def test_show_without_a_store_says_what_to_do(tmp_path):
    result = altax("show", "--results-dir", str(tmp_path))
    assert result.returncode == 2 and "altax run" in result.stderr


def test_missing_extra_names_the_extra():
    specs.backend("fancy", requires=("alignment_tax_missing_module",), extra="fancy")(lambda spec: None)
    with pytest.raises(AltaxError, match=r"pip install 'alignment-tax\[fancy\]'"):
        specs.load_backend("fancy:model")


def test_compare_takes_the_executor_and_detector_of_run(tmp_path):
    common = ["compare", "--reference", "builtin:a", "--aligned", "builtin:b", "--results-dir", str(tmp_path)]
    unknown_executor = altax_here(*common, "--executor", "dask")
    assert unknown_executor.returncode == 2
    assert "unknown executor 'dask'" in unknown_executor.stderr
    unknown_detector = altax_here(*common, "--detector", "nope")
    assert unknown_detector.returncode == 2
    assert "unknown refusal detector 'nope'" in unknown_detector.stderr
