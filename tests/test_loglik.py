"""Log-likelihood scoring: the analysis on spelled-out rows, the HF scorer, and `altax loglik` end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

import scripted_run
from alignment_tax.analysis.loglik import loglik_gap
from alignment_tax.records import JudgedItem
from scripted import ScriptedBackend

MODEL = "builtin:smollm2-135m-instruct"


def judged(config: str, outcomes: list[str]) -> list[JudgedItem]:
    return [
        JudgedItem(f"q{i}", "medical", "capability", None, config, outcome, outcome == "correct")
        for i, outcome in enumerate(outcomes)
    ]


def test_refusals_show_as_the_gap_and_the_estimate():
    rows = judged("ref", ["correct"] * 4 + ["incorrect"] * 2) + judged(
        "safe", ["refused", "refused", "correct", "correct", "incorrect", "refused"]
    )
    ll = {(c, f"q{i}"): i < 5 for c in ("ref", "safe") for i in range(6)}
    ref, safe = loglik_gap(ll, rows, "ref", n_boot=200)
    assert ref.config == "ref" and ref.refusal_estimate == 0 and ref.gap == pytest.approx(100 / 6)
    assert safe.n == 6 and safe.refusal_rate == pytest.approx(50)
    assert safe.generation_tax == pytest.approx(100 * 2 / 6) and safe.loglik_tax == 0
    assert safe.refusal_estimate == pytest.approx(safe.refusal_driven) == pytest.approx(100 * 2 / 6)
    low, high = safe.refusal_estimate_ci
    assert low <= safe.refusal_estimate <= high
    assert loglik_gap(ll, rows, "absent") == []


@pytest.mark.slow
def test_hf_loglikelihood_agrees_with_next_token_logprobs_and_batching():
    from alignment_tax.models.specs import load_backend

    backend = load_backend(MODEL)
    prompt = backend.render(
        [{"role": "user", "content": "Which is a colour? A. Red B. Seven. Answer with the letter."}]
    )
    first = backend.next_token_logprobs([prompt.prompt], ["A", "B"])[0]
    pairs = [(prompt.prompt, "A"), (prompt.prompt, "B"), ("Question: 2+2?\nAnswer:", " four, of course")]
    alone = [backend.loglikelihood([pair])[0] for pair in pairs]
    together = backend.loglikelihood(pairs)
    assert together[:2] == pytest.approx([first["A"], first["B"]], abs=1e-4)
    assert together == pytest.approx(alone, abs=1e-4)
    assert all(score < 0 and math.isfinite(score) for score in together)


SUITE = [
    ("What is frozen water called?", ["Ice", "Steam", "Sand", "Glass"], "A"),
    ("Which animal barks?", ["Cat", "Dog", "Fish", "Bird"], "B"),
    ("Which of these is a fruit?", ["Brick", "Chair", "Apple", "Spoon"], "C"),
    ("What colour is the clear daytime sky?", ["Green", "Purple", "Black", "Blue"], "D"),
]


@pytest.mark.slow
def test_altax_loglik_reports_both_accuracies(tmp_path):
    suite = tmp_path / "mc.jsonl"
    suite.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"mc{i}",
                    "category": "factual_recall",
                    "prompt": f"{q} Answer with the letter only.",
                    "choices": choices,
                    "reference": {"scorer": "choice", "answer": answer},
                }
            )
            + "\n"
            for i, (q, choices, answer) in enumerate(SUITE)
        )
    )
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(
        f'suite = "{suite}"\nreference = "plain"\n[decoding]\nmax_new_tokens = {{ factual_recall = 8 }}\n'
        f'[[configs]]\nname = "plain"\nmodel = "{MODEL}"\n'
        f'[[configs]]\nname = "refuser"\nmodel = "{MODEL}"\n'
        "system_prompt = \"You refuse every question by saying: I'm sorry, but I can't help with that.\"\n"
        '[[configs.few_shot]]\nuser = "What is 2+2?"\nassistant = "I\'m sorry, but I can\'t help with that."\n'
    )
    results = tmp_path / "r"
    altax = [sys.executable, "-m", "alignment_tax"]
    ran = subprocess.run([*altax, "run", "-c", str(experiment), "--results-dir", str(results)], capture_output=True)
    assert ran.returncode == 0, ran.stderr
    scored = subprocess.run([*altax, "loglik", "--results-dir", str(results)], capture_output=True, text=True)
    assert scored.returncode == 0, scored.stderr
    assert "Log-likelihood vs generation" in scored.stdout
    payload = json.loads(next(results.glob("*/loglik.json")).read_text())
    summary = {row["config"]: row for row in payload["summary"]}
    assert set(summary) == {"plain", "refuser"} and summary["plain"]["n"] == 4
    assert len(payload["items"]) == 8 and all(len(item["logprobs"]) == 4 for item in payload["items"])
    refuser = summary["refuser"]
    assert refuser["refusal_estimate"] == pytest.approx(refuser["generation_tax"] - refuser["loglik_tax"])


def mc_items(count: int) -> list[dict]:
    return [
        {
            "id": f"mc{i}",
            "category": "factual_recall",
            "prompt": question,
            "choices": choices,
            "reference": {"scorer": "choice", "answer": answer},
        }
        for i, (question, choices, answer) in enumerate(SUITE[:count])
    ]


class ChoosingBackend(ScriptedBackend):
    """The scripted model with log-likelihoods: it prefers the letter A, less so under a safety prompt."""

    scored: list[int] = []
    """How many continuations each call of any instance scored."""

    def loglikelihood(self, pairs):
        self.scored.append(len(pairs))
        return [(-1.0 if c == " A" else -2.0) - ("Be safe." in p) * len(c) / 4 for p, c in pairs]


def choosing(spec: str) -> ChoosingBackend:
    return ChoosingBackend(scripted_run.answer)


def unavailable(spec: str):
    raise AssertionError(f"{spec} was loaded: the stored scores should be read instead")


def test_log_likelihoods_are_stored_and_analysed_again_without_the_model(tmp_path):
    from alignment_tax.store import Store
    from alignment_tax.workflows.loglik import loglik_check

    settings, output = scripted_run.scripted_run(tmp_path, items=scripted_run.ITEMS + mc_items(4))
    run_id = output.run.run_id
    ChoosingBackend.scored.clear()
    options = {"n_boot": 200, "results_dir": settings.results_dir}
    with Store(settings.store_path) as store:
        first = loglik_check(store, run_id, "letter", settings.detector, load=choosing, **options)
        assert sum(ChoosingBackend.scored) == 3 * 4 * 4  # three configurations, four items, four choices
        again = loglik_check(store, "latest", "letter", settings.detector, load=unavailable, **options)
        with pytest.raises(AssertionError, match="was loaded"):  # texts are not stored yet: the model is needed
            loglik_check(store, run_id, "text", settings.detector, load=unavailable, **options)
    assert again.summary == first.summary and again.items == first.items and again.path == first.path
    assert {row["picked"] for row in first.items} == {0} and len(first.items) == 12  # A, the right answer of mc0
    assert [row.loglik_accuracy for row in first.summary] == [25.0] * 3
    assert json.loads(first.path.read_text())["summary"][0]["loglik_accuracy"] == 25.0


def test_steered_and_routed_configurations_are_scored_as_they_answered(tmp_path):
    from alignment_tax.configs.schema import Configuration, Decoding, Experiment, Guardrail, Router, Steering
    from alignment_tax.store import Store
    from alignment_tax.workflows.experiment import Settings, run_experiment
    from alignment_tax.workflows.loglik import loglik_check

    suite = tmp_path / "mc.jsonl"
    suite.write_text("".join(json.dumps(item) + "\n" for item in mc_items(2)))
    steering = Steering(direction="caa-smollm2-135m-instruct", layers=[15], strength=0.3)
    rail = Guardrail(steering=steering)
    experiment = Experiment(
        suite=str(suite),
        reference="plain",
        decoding=Decoding(max_new_tokens={"*": 1}),
        configs=[
            Configuration(name="plain", model=MODEL),
            Configuration(name="steered", model=MODEL, steering=steering),
            Configuration(name="always", model=MODEL, router=Router(threshold=0.0, guardrail=rail)),
            Configuration(name="never", model=MODEL, router=Router(threshold=1.0, guardrail=rail)),
        ],
    )
    settings = Settings(results_dir=tmp_path / "results", n_boot=50)
    run = run_experiment(experiment, settings).run
    with Store(settings.store_path) as store:
        output = loglik_check(store, run.run_id, "letter", settings.detector, results_dir=settings.results_dir)
    rows = {(r["config"], r["item_id"]): r["logprobs"] for r in output.items}
    assert rows[("steered", "mc0")] != pytest.approx(rows[("plain", "mc0")], abs=1e-3)
    for item in ("mc0", "mc1"):
        assert rows[("always", item)] == rows[("steered", item)] and rows[("never", item)] == rows[("plain", item)]
