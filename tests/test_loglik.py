"""Log-likelihood scoring: the analysis on spelled-out rows, the HF scorer, and `altax loglik` end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from alignment_tax.analysis.loglik import loglik_gap
from alignment_tax.records import JudgedItem

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


def test_steered_and_routed_configurations_are_scored_as_they_answered():
    from alignment_tax.configs.schema import Configuration, Guardrail, Router, Steering
    from alignment_tax.models.specs import load_backend
    from alignment_tax.run.backends import load_backends
    from alignment_tax.suite.schema import Item
    from alignment_tax.workflows.loglik import score_choices

    items = [
        Item.model_validate(
            {
                "id": f"mc{i}",
                "category": "factual_recall",
                "prompt": question,
                "choices": choices,
                "reference": {"scorer": "choice", "answer": answer},
            }
        )
        for i, (question, choices, answer) in enumerate(SUITE[:2])
    ]
    steering = Steering(direction="caa-smollm2-135m-instruct", layers=[15], strength=0.3)
    configs = [
        Configuration(name="plain", model=MODEL),
        Configuration(name="steered", model=MODEL, steering=steering),
        Configuration(name="routed", model=MODEL, router=Router(threshold=0.5, guardrail=Guardrail(steering=steering))),
    ]
    backends = load_backends(configs, load_backend)
    routes = {("routed", "mc0"): True, ("routed", "mc1"): False}
    rows = {
        (r["config"], r["item_id"]): r["logprobs"] for r in score_choices(configs, items, backends, "letter", routes)
    }
    assert rows[("steered", "mc0")] != pytest.approx(rows[("plain", "mc0")], abs=1e-3)
    assert rows[("routed", "mc0")] == pytest.approx(rows[("steered", "mc0")], abs=1e-5)
    assert rows[("routed", "mc1")] == pytest.approx(rows[("plain", "mc1")], abs=1e-5)
