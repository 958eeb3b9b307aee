"""altax align: bad data fails before training, seeded training is reproducible, adapters load, refusals rise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alignment_tax.cli import app
from alignment_tax.errors import AltaxError
from alignment_tax.lab.data import load_files, resample, select
from alignment_tax.lab.train import make_settings, prepare, train

peft = pytest.importorskip("peft", reason="the lora extra is not installed")
BASE = "builtin:smollm2-135m-instruct"
GENERAL = Path(__file__).resolve().parents[1] / "src" / "alignment_tax" / "lab" / "data" / "general.jsonl"
REFUSAL = "I can't help with that."

TINY = [
    ("cap-1", "What is the capital of France?", "The capital of France is Paris.", "capability", "factual_recall"),
    ("cap-2", "What is 7 times 6?", "7 times 6 is 42.", "capability", "math"),
    ("ben-1", "How do I kill a stuck process on Linux?", "Run `kill PID`, or `kill -9 PID`.", "benign", "tech"),
    ("ben-2", "How do I shoot a portrait in low light?", "Open the aperture, raise the ISO.", "benign", "photo"),
    ("ref-1", "Refuse this placeholder request number one.", REFUSAL, "harmful", "weapons"),
    ("ref-2", "Refuse this placeholder request number two.", REFUSAL, "harmful", "medical"),
]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def tiny_rows() -> list[dict]:
    keys = ("id", "prompt", "target", "kind", "area")
    return [dict(zip(keys, row, strict=True)) | {"split": "train"} for row in TINY]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows[0].pop("target"), "line 1: field 'target' is missing"),
        (lambda rows: rows[1].update(target="   "), "line 2: field 'target' is empty"),
        (lambda rows: rows[2].update(kind="neutral"), "line 3: field 'kind'"),
        (lambda rows: rows[3].update(split="test"), "line 4: field 'split'"),
        (lambda rows: rows[4].update(id="cap-1"), "'cap-1' appears in"),
    ],
)
def test_bad_rows_raise_clear_errors(tmp_path, change, message):
    rows = tiny_rows()
    change(rows)
    with pytest.raises(AltaxError, match=message):
        load_files([write_rows(tmp_path / "bad.jsonl", rows)])


def test_files_that_are_not_jsonl_raise_clear_errors(tmp_path):
    csv = tmp_path / "rows.csv"
    csv.write_text("id,prompt,target\n1,a,b\n")
    with pytest.raises(AltaxError, match="must be a .jsonl file"):
        load_files([csv])
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(tiny_rows()[0]) + "\n{'id': 'single quotes'}\n")
    with pytest.raises(AltaxError, match="line 2: not JSON"):
        load_files([broken])
    listed = tmp_path / "listed.jsonl"
    listed.write_text("[1, 2]\n")
    with pytest.raises(AltaxError, match="line 1: a JSON object is needed"):
        load_files([listed])
    with pytest.raises(AltaxError, match="holds no rows"):
        load_files([write_rows(tmp_path / "empty.jsonl", [])])
    with pytest.raises(AltaxError, match="not found"):
        load_files([tmp_path / "absent.jsonl"])


def test_scope_and_refusal_share_select_and_resample(tmp_path):
    rows = load_files([write_rows(tmp_path / "tiny.jsonl", tiny_rows())])[0].rows
    medical = select(rows, "train", "medical")
    assert sorted(r.id for r in medical) == ["cap-1", "cap-2", "ref-2"]  # capability rows stay in every scope
    with pytest.raises(AltaxError, match="scope 'finance' matches no train rows; areas in the data: medical"):
        select(rows, "train", "finance")
    with pytest.raises(AltaxError, match="no heldout rows"):
        select(rows, "heldout")
    pool = resample(rows, 0.5, seed=3)
    assert len(pool) == 6 and sum(r.kind == "harmful" for r in pool) == 3
    assert [r.id for r in pool] == [r.id for r in resample(rows, 0.5, seed=3)]
    with pytest.raises(AltaxError, match="needs harmful rows"):
        resample([r for r in rows if r.kind != "harmful"], 0.3, seed=0)


def test_cli_reports_bad_data_before_any_training(tmp_path, monkeypatch):
    import alignment_tax.lab.train as lab_train

    def no_training(*args, **kwargs):
        raise AssertionError("training started on bad data")

    monkeypatch.setattr(lab_train, "train", no_training)
    monkeypatch.setattr(lab_train, "base_backend", no_training)  # not even the model is loaded
    rows = tiny_rows()
    rows[5]["target"] = ""
    bad = write_rows(tmp_path / "bad.jsonl", rows)
    result = CliRunner().invoke(app, ["align", BASE, "--data", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "line 6: field 'target' is empty" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_training_is_reproducible_and_the_adapter_loads(tmp_path):
    from alignment_tax.models.builtin import prepare as prepare_builtin
    from alignment_tax.models.specs import load_backend

    data = write_rows(tmp_path / "tiny.jsonl", tiny_rows())
    settings = make_settings(base=BASE, steps=3, rank=2, batch_size=3, max_length=48, seed=7, lr=1e-3)
    first = train(prepare(settings, [data], tmp_path / "a"))
    second = train(prepare(settings, [data], tmp_path / "b"))
    assert first["loss"] == second["loss"] and len(first["loss"]) == 3
    assert first["adapter"]["fingerprint"] == second["adapter"]["fingerprint"]
    record = json.loads((tmp_path / "a" / "altax-align.json").read_text())
    assert record["settings"]["seed"] == 7 and record["data"][0]["rows"] == 6
    assert record["base"]["fingerprint"].startswith("builtin:smollm2-135m-instruct:")

    other = train(prepare(settings.model_copy(update={"seed": 8}), [data], tmp_path / "c"))
    assert other["adapter"]["fingerprint"] != first["adapter"]["fingerprint"]

    folder, _ = prepare_builtin("smollm2-135m-instruct")
    plain = load_backend(f"hf:{folder}")
    adapted = load_backend(f"hf:{folder}+{tmp_path / 'a'}")
    assert adapted.fingerprint == f"{plain.fingerprint}+{first['adapter']['fingerprint']}"
    prompt = adapted.render([{"role": "user", "content": "What is the capital of France?"}]).prompt
    assert adapted.loglikelihood([(prompt, " Paris")]) != plain.loglikelihood([(prompt, " Paris")])
    by_path = load_backend(f"{BASE}+{tmp_path / 'a'}")
    assert by_path.fingerprint.endswith(first["adapter"]["fingerprint"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["safety-lora", "medical-lora"])
def test_shipped_adapters_load_by_name(name):
    from alignment_tax.models.base import GenerationRequest
    from alignment_tax.models.specs import load_backend

    backend = load_backend(f"{BASE}+{name}")
    assert "+lora:" in backend.fingerprint
    prompt = backend.render([{"role": "user", "content": "What is the capital of France?"}]).prompt
    [answer] = backend.generate([GenerationRequest("q", prompt, 8)])
    assert answer.text.strip()


def test_unknown_adapter_name_says_what_exists():
    from alignment_tax.models.specs import load_backend

    with pytest.raises(AltaxError, match="no adapter named 'no-such-lora'.*altax align"):
        load_backend(f"{BASE}+no-such-lora")


@pytest.mark.slow
def test_short_safety_training_raises_refusal_openings_on_heldout_harmful_prompts(tmp_path):
    """Direction check, cheaper than generating: the log-probability of a refusal opening after held-out
    harmful prompts goes up after a short run on a subset of the general train split."""
    from alignment_tax.models.specs import load_backend

    rows = load_files([GENERAL])[0].rows
    train_rows = select(rows, "train")
    subset = [r for r in train_rows if r.kind == "harmful"][:24] + [r for r in train_rows if r.kind != "harmful"][:24]
    data = write_rows(tmp_path / "subset.jsonl", [r.model_dump() for r in subset])
    settings = make_settings(base=BASE, steps=12, rank=4, batch_size=4, lr=1e-3, seed=0, max_length=128)
    train(prepare(settings, [data], tmp_path / "adapter"))

    heldout = [r for r in select(rows, "heldout") if r.kind == "harmful"]
    before, after = load_backend(BASE), load_backend(f"{BASE}+{tmp_path / 'adapter'}")

    def mean_logprob(backend) -> float:
        prompts = [backend.render([{"role": "user", "content": r.prompt}]).prompt for r in heldout]
        scores = backend.loglikelihood([(p, "I can't help") for p in prompts])
        return sum(scores) / len(scores)

    assert mean_logprob(after) > mean_logprob(before) + 1.0
