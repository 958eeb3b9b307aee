"""Adaptive stopping, K samples and workloads through the real pipeline and store (scripted backend)."""

import json
import zlib

import pytest

from alignment_tax.analysis.adaptive import draw_order, looks
from alignment_tax.analysis.aggregates import load_workload
from alignment_tax.configs.schema import Configuration, Decoding, Experiment
from alignment_tax.errors import AltaxError
from alignment_tax.models import specs
from alignment_tax.workflows.experiment import Settings, run_experiment
from scripted import ScriptedBackend

N_ITEMS = 400


def answer(prompt: str) -> str:
    """Right on every item for the reference; under "Be safe." wrong on about a fifth of the items."""
    number = int(prompt.split("What is ")[1].split("+")[0])
    wrong = "Be safe." in prompt and zlib.crc32(str(number).encode()) % 5 == 0
    return str(number + 1 + wrong)


def load_scripted(parsed) -> ScriptedBackend:
    return ScriptedBackend(answer)


def _experiment(tmp_path, **options) -> Experiment:
    specs.backend("scripted")(load_scripted)
    suite = tmp_path / "suite.jsonl"
    items = [
        {
            "id": f"q{i}",
            "category": ("math", "code")[i % 2],
            "prompt": f"What is {i}+1?",
            "reference": {"scorer": "numeric", "value": i + 1},
        }
        for i in range(N_ITEMS)
    ]
    suite.write_text("\n".join(json.dumps(item) for item in items) + "\n")
    configs = [
        Configuration(name="base", model="scripted:m"),
        Configuration(name="safe", model="scripted:m", system_prompt="Be safe."),
    ]
    return Experiment(suite=str(suite), reference="base", configs=configs, **options)


def test_target_ci_stops_early_at_a_look_and_records_why(tmp_path):
    experiment = _experiment(tmp_path, target_ci=6.0, chunk_size=40)
    output = run_experiment(experiment, Settings(results_dir=tmp_path / "r", n_boot=100))
    adaptive = output.results.adaptive
    assert adaptive.reached and adaptive.half_width <= 6.0
    assert adaptive.n_drawn in looks(N_ITEMS, 40) and adaptive.n_drawn < N_ITEMS
    assert output.results.configs["safe"].overall.n == adaptive.n_drawn
    tax = output.results.configs["safe"].overall.tax
    assert max(tax.tax - tax.tax_ci[0], tax.tax_ci[1] - tax.tax) == pytest.approx(adaptive.half_width)
    order = draw_order([("math", "code")[i % 2] for i in range(N_ITEMS)], 0)
    drawn = {f"q{i}" for i in order[: adaptive.n_drawn]}
    payload = json.loads(output.results_path.read_text())
    assert payload["results"]["adaptive"]["n_drawn"] == len(drawn)


def test_unreachable_target_exhausts_the_suite(tmp_path):
    experiment = _experiment(tmp_path, target_ci=0.5, chunk_size=150)
    adaptive = run_experiment(experiment, Settings(results_dir=tmp_path / "r", n_boot=50)).results.adaptive
    assert not adaptive.reached and adaptive.n_drawn == adaptive.n_available == N_ITEMS


def test_k_samples_are_planned_and_averaged(tmp_path):
    decoding = Decoding(temperature=0.7, samples=3)
    experiment = _experiment(tmp_path, decoding=decoding, limit=10)
    results = run_experiment(experiment, Settings(results_dir=tmp_path / "r", n_boot=50)).results
    assert results.samples == 3 and results.configs["safe"].overall.tax.pairs == 20 * 9


def test_samples_need_temperature():
    with pytest.raises(ValueError, match="temperature"):
        Decoding(samples=2)
    assert Decoding(temperature=1, samples=2).sample_seed(0) == 0 != Decoding(temperature=1).sample_seed(1)


def test_workload_files(tmp_path):
    toml = tmp_path / "w.toml"
    toml.write_text("math = 3\ncode = 1\n")
    assert load_workload(toml).weights(["math", "code"]) == {"math": 0.75, "code": 0.25}
    js = tmp_path / "w.json"
    js.write_text('{"math": "lots"}')
    with pytest.raises(AltaxError, match="math"):
        load_workload(js)
    js.write_text("[1, 2]")
    with pytest.raises(AltaxError, match="mapping of category"):
        load_workload(js)
    with pytest.raises(AltaxError, match="not found"):
        load_workload(tmp_path / "missing.json")
    toml.write_bytes(b"\xef\xbb\xbfmath = 1\n")  # a byte-order mark is fine
    assert load_workload(toml).weights(["math"]) == {"math": 1.0}
    js.write_text("[" * 100_000)
    with pytest.raises(AltaxError, match="nested too deeply|not valid JSON"):
        load_workload(js)
    toml.write_text("a = " + "[" * 100_000)
    with pytest.raises(AltaxError, match="nested too deeply|not valid TOML"):
        load_workload(toml)
    js.write_bytes(b'{"math": "\xff"}')
    with pytest.raises(AltaxError, match="not UTF-8"):
        load_workload(js)


def test_draw_order_is_seeded_and_spreads_categories():
    categories = ["a"] * 30 + ["b"] * 10
    order = draw_order(categories, 3)
    assert order == draw_order(categories, 3) != draw_order(categories, 4)
    assert sorted(order) == list(range(40))
    first = [categories[i] for i in order[:8]]
    assert first.count("b") == 2  # every prefix holds each category in proportion
