"""Configurations, fingerprints, experiment files and prompt rendering."""

import json
from importlib.resources import files
from pathlib import Path

import pytest

from alignment_tax.configs.experiment import default_experiment, load_experiment, pair_experiment
from alignment_tax.configs.schema import Configuration, Decoding
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.prompting import build_messages
from alignment_tax.models.hf import render_plain
from alignment_tax.models.specs import parse_spec
from alignment_tax.suite.schema import Item

MODEL = "builtin:smollm2-135m-instruct"


def test_fingerprint_is_stable_and_ignores_the_name():
    a = Configuration(name="a", model=MODEL, system_prompt="Be safe.")
    b = Configuration(name="b", model=MODEL, system_prompt="Be safe.", description="same thing")
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() == "93cd08869fb01b5a"  # pinned: the same configuration hashes alike across processes
    assert a.fingerprint() != Configuration(name="a", model=MODEL, system_prompt="Be careful.").fingerprint()
    assert a.fingerprint() != Configuration(name="a", model=MODEL, framing={"suffix": "!"}).fingerprint()


def test_default_experiment_pairs_prompts_adapters_steering_and_routing():
    experiment = default_experiment()
    configs = {c.name: c for c in experiment.configs}
    assert list(configs) == [
        "reference",
        "safety-prompt",
        "medical-safety-prompt",
        "safety-lora",
        "medical-lora",
        "steered",
        "routed-steered",
        "routed-safety-prompt",
    ]
    assert experiment.reference == "reference" and configs["reference"].system_prompt is None
    assert "medical" in configs["medical-safety-prompt"].system_prompt
    assert configs["safety-lora"].model.endswith("+safety-lora") and configs["medical-lora"].model.endswith(
        "+medical-lora"
    )
    # the routed configurations switch on exactly the fixed guardrails, so they reuse those generations
    assert configs["routed-steered"].router.guardrail.steering == configs["steered"].steering
    assert configs["routed-safety-prompt"].router.guardrail.system_prompt == configs["safety-prompt"].system_prompt
    # the steered setting is the one the recorded sweep chose
    sweep = json.loads((files("alignment_tax.configs") / "choices" / "steering-sweep.json").read_text())
    chosen = next(point for point in sweep["points"] if point["name"] == sweep["chosen"])
    steering = configs["steered"].steering
    assert (steering.direction, steering.layers, steering.strength) == (
        sweep["direction"],
        [chosen["layer"]],
        chosen["strength"],
    )


def test_experiment_files_toml_and_yaml(tmp_path):
    toml = tmp_path / "e.toml"
    toml.write_text(
        'reference = "base"\nsuite = "core"\nlimit = 2\n'
        '[[configs]]\nname = "base"\nmodel = "hf:some/model"\n'
        '[[configs]]\nname = "shots"\nmodel = "hf:some/model"\n'
        '[[configs.few_shot]]\nuser = "Hi"\nassistant = "Hello"\n'
        '[configs.framing]\nprefix = "Task: "\n'
    )
    experiment = load_experiment(toml)
    assert experiment.configs[1].few_shot[0].assistant == "Hello"
    assert experiment.configs[1].framing.prefix == "Task: "
    yaml_file = tmp_path / "e.yaml"
    yaml_file.write_text("reference: base\nconfigs:\n  - {name: base, model: 'hf:x'}\n")
    assert load_experiment(yaml_file).configs[0].model == "hf:x"


def test_experiment_naming_no_reference_is_an_error(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text('reference = "missing"\n[[configs]]\nname = "a"\nmodel = "hf:x"\n')
    with pytest.raises(AltaxError, match="reference 'missing' is not one of the configurations"):
        load_experiment(path)
    path.write_text('reference = "a"\n[[configs]]\nname = "a"\nmodel = "hf:x"\nsystem_promt = "typo"\n')
    with pytest.raises(AltaxError, match="system_promt"):
        load_experiment(path)


def test_pair_experiment():
    experiment = pair_experiment("hf:a", "hf:b", "core")
    assert [(c.name, c.model) for c in experiment.configs] == [("reference", "hf:a"), ("aligned", "hf:b")]


def test_model_specs():
    spec = parse_spec("hf:org/model@v1.0")
    assert (spec.scheme, spec.target, spec.revision) == ("hf", "org/model", "v1.0")
    assert str(spec) == "hf:org/model@v1.0"
    for bad in ("gpt4", "nope:x", "hf:"):
        with pytest.raises(AltaxError):
            parse_spec(bad)


def test_messages_carry_system_prompt_few_shot_and_framing():
    item = Item(
        id="q",
        category="classification",
        prompt="Which?",
        choices=["cat", "dog"],
        reference={"scorer": "choice", "answer": "A"},
    )
    config = Configuration(
        name="c",
        model=MODEL,
        system_prompt="Be brief.",
        few_shot=[{"user": "Pick one", "assistant": "A"}],
        framing={"prefix": "Task: ", "suffix": "\nAnswer briefly."},
    )
    assert build_messages(config, item) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Task: Pick one\nAnswer briefly."},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": "Task: Which?\nA. cat\nB. dog\nAnswer briefly."},
    ]


def test_plain_format_for_models_without_a_chat_template():
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "1+1?"},
        {"role": "assistant", "content": "2"},
        {"role": "user", "content": "2+2?"},
    ]
    assert render_plain(messages) == "Be brief.\n\nQuestion: 1+1?\nAnswer: 2\n\nQuestion: 2+2?\nAnswer:"
    assert render_plain([{"role": "user", "content": "Hi"}]) == "Question: Hi\nAnswer:"


def test_decoding_caps_and_stop_strings_per_category():
    decoding = Decoding(max_new_tokens={"math": 8}, stop={"*": ["\n\n"], "code": ["```\n", "\n\n"]})
    assert decoding.max_tokens_for("math") == 8
    assert decoding.max_tokens_for("code") == 160
    assert decoding.stop_for("math") == ("\n\n",)
    assert decoding.stop_for("code") == ("\n\n", "```\n")


def test_decoding_names_the_keys_that_are_no_category():
    decoding = Decoding(max_new_tokens={"*": 32, "cod": 8, "legal": 64}, stop={"creative-writing": ["\n\n"]})
    assert decoding.unknown_categories(["math", "code"]) == ["cod", "creative-writing", "legal"]
    assert decoding.unknown_categories(["legal"]) == ["cod", "creative-writing"]


@pytest.mark.parametrize("path", sorted(Path(__file__).parents[1].joinpath("experiments").glob("*.toml")), ids=str)
def test_shipped_experiment_files_load(path):
    experiment = load_experiment(path)
    assert experiment.reference in {c.name for c in experiment.configs}


def test_experiment_with_overrides_and_validates_again():
    from alignment_tax.configs.experiment import experiment_with

    assert experiment_with(None) == default_experiment()
    assert experiment_with(None, limit=2, suite=None).limit == 2
    with pytest.raises(AltaxError, match="the default experiment"):
        experiment_with(None, limit=0)
