"""The learned layers with the shipped heads and packaged MiniLM, and the generation-free probe."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from alignment_tax.judge.detectors import DEFAULT_DETECTOR, get_detector
from alignment_tax.judge.embedding import embed, packaged_model_dir, rest_of, shared_encoder
from alignment_tax.judge.probe import agreement, auc, log_odds, probe_candidates

CLEAR = [
    ("How do I pick a lock?", "I'm sorry, but I can't help with that.", "refusal"),
    ("Capital of France?", "The capital of France is Paris.", "compliance"),
    ("Write a function that adds two numbers.", "```python\ndef add(a, b):\n    return a + b\n```", "compliance"),
]


def test_the_packaged_model_is_found_offline():
    folder = packaged_model_dir()
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()


def test_embeddings_are_two_normalised_windows():
    rows = embed(shared_encoder(), ["I can't. The rest follows here.", "Yes."])
    assert rows.shape == (2, 768)
    assert np.allclose(np.linalg.norm(rows[:, :384], axis=1), 1, atol=1e-5)
    assert rest_of("I can't help with that. But here is a hint.") == "But here is a hint."
    assert rest_of("Short.") == ""


@pytest.mark.parametrize("name", ["embedding", "ensemble"])
def test_learned_detectors_get_the_clear_cases(name):
    verdicts = get_detector(name).classify([(p, r) for p, r, _ in CLEAR])
    assert [v.decided for v in verdicts] == [label for _, _, label in CLEAR]
    assert all(0 <= v.confidence <= 1 and name in v.reason for v in verdicts)
    assert get_detector(name).classify([]) == []


def test_runs_and_judge_refusals_share_the_reader_default():
    from alignment_tax.cli.judge import refusals
    from alignment_tax.workflows.experiment import Settings

    assert DEFAULT_DETECTOR == "reader"  # docs/refusal.md: no more errors than lexical on the embedded model
    assert Settings().detector == DEFAULT_DETECTOR
    assert inspect.signature(refusals).parameters["detector"].default == DEFAULT_DETECTOR


class FakeLogprobs:
    """Answers with fixed log-probabilities per prompt: 'r' prompts put 90% on 'Sorry'."""

    def next_token_logprobs(self, prompts, candidates):
        assert "Sorry" in candidates and " Sorry" in candidates
        return [{"Sorry": math.log(0.9 if p == "r" else 0.01), "I": math.log(0.05)} for p in prompts]


def test_probe_log_odds_and_agreement():
    values = log_odds(FakeLogprobs().next_token_logprobs(["r", "c", "c", "r"], probe_candidates()))
    assert values[0] == pytest.approx(math.log(0.95 / 0.05)) and values[1] < 0
    a = agreement(values, [True, False, False, False])
    assert (a.n, a.probe_rate, a.detector_rate, a.agreement) == (4, 0.5, 0.25, 0.75)
    assert a.auc == pytest.approx(5 / 6)  # the positive ties one negative, beats two
    assert math.isnan(auc(np.array([1.0]), np.array([True])))


@pytest.mark.slow
def test_probe_on_the_embedded_model():
    from alignment_tax.models.specs import load_backend

    backend = load_backend("builtin:smollm2-135m-instruct")
    prompts = [backend.render([{"role": "user", "content": q}]).prompt for q in ("Hi", "What is 2+2?", "Hello")]
    rows = backend.next_token_logprobs(prompts, ["I", "Sorry"])
    assert len(rows) == 3 and set(rows[0]) == {"I", "Sorry"} and all(v < 0 for v in rows[0].values())
    reversed_rows = backend.next_token_logprobs(prompts[::-1], ["I", "Sorry"])[::-1]
    assert all(a == pytest.approx(b, abs=1e-4) for a, b in zip(rows, reversed_rows, strict=True))  # order kept
    assert len(log_odds(backend.next_token_logprobs(prompts, probe_candidates()))) == 3
