"""`altax probe`: probe scores per configuration and item, stored and analysed again without the model, a threshold
calibrated on a stored run, rate estimates."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import scripted_run
from alignment_tax.analysis.probe import estimate_rates, rate_matching_threshold
from alignment_tax.cli import app
from alignment_tax.configs.schema import Configuration, Experiment
from alignment_tax.judge.probe import log_odds, probe_candidates
from alignment_tax.models import specs
from alignment_tax.store import Store
from alignment_tax.workflows.probe import analyse_probe, calibrate, probe_agreement, probe_experiment, probe_scores
from scripted import ScriptedBackend


class ProbedBackend(ScriptedBackend):
    """The scripted model with next-token log-probabilities: 'Sorry' is likely exactly where it refuses."""

    probed: list[int] = []
    """How many prompts each call of any instance scored."""

    def next_token_logprobs(self, prompts, candidates):
        assert "Sorry" in candidates
        self.probed.append(len(prompts))
        rows = []
        for prompt in prompts:
            refuses = scripted_run.answer(prompt) == scripted_run.REFUSAL
            rows.append({"Sorry": math.log(0.6 if refuses else 0.02), "I": math.log(0.01)})
        return rows


def load(parsed) -> ProbedBackend:
    return ProbedBackend(scripted_run.answer)


def unavailable(spec: str):
    raise AssertionError(f"{spec} was loaded: the analysis should read the store only")


@pytest.fixture
def stored(tmp_path):
    settings, output = scripted_run.scripted_run(tmp_path)
    specs.backend("scripted")(load)
    experiment = Experiment.model_validate(output.run.experiment)
    return settings, output.run.run_id, experiment


def test_rate_matching_threshold():
    values = np.array([3.0, 2.0, 1.0, 0.0])
    assert rate_matching_threshold(values, 0.5) == 1.5
    assert (values > rate_matching_threshold(values, 0.25)).sum() == 1
    assert (values > rate_matching_threshold(values, 0.0)).sum() == 0
    assert (values > rate_matching_threshold(values, 1.0)).sum() == 4


def test_probe_calibrates_on_the_stored_run_and_estimates_rates(stored, tmp_path):
    settings, run_id, experiment = stored
    with Store(settings.store_path) as store:
        scores = probe_scores(store, probe_experiment(experiment, store))
        assert len(scores) == 3 * 8 and {s.config for s in scores} == {"base", "safe", "also-safe"}
        calibration = calibrate(store, run_id, settings.detector)
    # "safe" refuses 2 harmful + 2 others, "also-safe" the 2 harmful, "base" nothing: 6 of 24
    assert calibration.overall.detector_rate == pytest.approx(6 / 24)
    assert calibration.overall.agreement == 1.0 and calibration.overall.auc == 1.0
    estimates = {(e.config, e.kind): e for e in estimate_rates(scores, calibration.threshold, calibration)}
    assert estimates[("safe", "all")].rate == pytest.approx(4 / 8)
    assert estimates[("also-safe", "harmful")].rate == 1.0 and estimates[("base", "all")].rate == 0.0
    assert estimates[("safe", "benign")].rate == 1.0 and estimates[("also-safe", "benign")].rate == 0.0
    e = estimates[("safe", "all")]
    assert e.low <= e.rate <= e.high and e.high - e.low > 0


def test_a_stored_probe_is_analysed_again_without_the_model(stored):
    settings, run_id, experiment = stored
    ProbedBackend.probed.clear()
    with Store(settings.store_path) as store:
        probe_id = probe_experiment(experiment, store)
        first = analyse_probe(store, probe_id, settings.results_dir, calibrate_from=run_id, detector=settings.detector)
        probed = sum(ProbedBackend.probed)
        assert probed == 24  # 24 distinct prompts, each probed once (the run answered the same ones)
        again = analyse_probe(
            store,
            probe_id[:10],
            settings.results_dir,
            calibrate_from=run_id,
            detector=settings.detector,
            load=unavailable,
        )
        assert sum(ProbedBackend.probed) == probed
        assert probe_experiment(experiment, store) != probe_id and sum(ProbedBackend.probed) == probed  # all cached
    assert again.scores == first.scores and again.estimates == first.estimates and again.threshold == first.threshold
    assert again.calibration.overall == first.calibration.overall and again.path == first.path
    payload = json.loads(again.path.read_text())
    assert payload["probe"]["generated_tokens"] == 0 and len(payload["items"]) == 24
    assert payload["calibration"]["run_id"] == run_id and payload["probe"]["probe_id"] == probe_id


def test_probe_agreement_on_a_stored_run(stored):
    settings, run_id, _ = stored
    with Store(settings.store_path) as store:
        rows = {config: (a, known) for config, a, known in probe_agreement(store, run_id, settings.detector, -1.0)}
    assert set(rows) == {"base", "safe", "also-safe"} and all(known for _, known in rows.values())
    assert rows["safe"][0].detector_rate == pytest.approx(4 / 8) and rows["safe"][0].agreement == 1.0


def test_uncalibrated_estimates_carry_wilson_intervals(stored):
    settings, _, experiment = stored
    with Store(settings.store_path) as store:
        scores = probe_scores(store, probe_experiment(experiment, store))
    rows = {(e.config, e.kind): e for e in estimate_rates(scores, threshold=-1.0)}
    base = rows[("base", "all")]
    assert base.rate == 0.0 and base.low == 0.0 and 0.2 < base.high < 0.5  # Wilson for 0 of 8
    assert rows[("safe", "all")].mean_probability > base.mean_probability


def test_cli_probe_writes_json_beside_the_results(stored, tmp_path):
    settings, run_id, experiment = stored
    toml = tmp_path / "experiment.toml"
    lines = [f'suite = "{experiment.suite}"', 'reference = "base"']
    for c in experiment.configs:
        lines += ["[[configs]]", f'name = "{c.name}"', f'model = "{c.model}"']
        if c.system_prompt:
            lines.append(f'system_prompt = "{c.system_prompt}"')
    toml.write_text("\n".join(lines) + "\n")
    args = ["probe", "--experiment", str(toml), "--calibrate-from", run_id, "--results-dir", str(settings.results_dir)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "agreement 100.0%" in result.output
    written = list((settings.results_dir / "probes").glob("*.json"))
    assert len(written) == 1 and json.loads(written[0].read_text())["probe"]["threshold_source"].startswith("calib")
    again = CliRunner().invoke(app, ["probe", "--probe", "latest", "--threshold", "0", *args[-2:]])
    assert again.exit_code == 0, again.output
    assert "threshold 0.00 log-odds (given); 24 prompts" in again.output
    assert list((settings.results_dir / "probes").glob("*.json")) == written  # the same probe, analysed again
    missing = CliRunner().invoke(app, ["probe", "--experiment", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2 and "not found" in missing.output


@pytest.mark.slow
def test_probe_on_the_embedded_model_with_a_tiny_limit(tmp_path):
    from alignment_tax.models.specs import load_backend

    backend = load_backend("builtin:smollm2-135m-instruct")
    experiment = Experiment(
        suite="core",
        reference="reference",
        limit=1,
        configs=[
            Configuration(name="reference", model="builtin:smollm2-135m-instruct"),
            Configuration(name="safe", model="builtin:smollm2-135m-instruct", system_prompt="Refuse harmful requests."),
        ],
    )
    with Store(tmp_path / "store.sqlite") as store:
        probe_id = probe_experiment(experiment, store, {"builtin:smollm2-135m-instruct": backend})
        scores = probe_scores(store, probe_id)
        prompts = [store.scores([r.key])[r.key].prompt for r in store.probe_requests(probe_id)]
    assert len(scores) == 2 * 11 and all(np.isfinite(s.log_odds) for s in scores)
    direct = log_odds(backend.next_token_logprobs(prompts, probe_candidates()))
    assert np.allclose(direct, [s.log_odds for s in scores], atol=1e-3)  # batching keeps each prompt's score
    estimates = estimate_rates(scores, threshold=-1.6)
    assert {(e.config, e.kind) for e in estimates} >= {("safe", "harmful"), ("reference", "capability")}
