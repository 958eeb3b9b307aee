"""hf:BASE+ADAPTER with PEFT LoRA adapters made here on the embedded model: zero B matches the base."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import GenerationRequest
from alignment_tax.models.builtin import prepare
from alignment_tax.models.specs import load_backend

peft = pytest.importorskip("peft", reason="the lora extra is not installed")
pytestmark = pytest.mark.slow
PROMPTS = ["Question: What is the capital of France?\nAnswer:", "Question: Name a primary colour.\nAnswer:"]


def make_adapter(base: Path, target: Path, zero_b: bool) -> Path:
    """A rank-4 LoRA on the attention projections, randomly initialised with a fixed seed."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = peft.LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    lora = peft.get_peft_model(model, config)
    if zero_b:
        for name, parameter in lora.named_parameters():
            if "lora_B" in name:
                parameter.data.zero_()
    lora.save_pretrained(target)
    return target


def answers(backend) -> list[str]:
    requests = [GenerationRequest(str(i), p, 8, ("\nQuestion:",)) for i, p in enumerate(PROMPTS)]
    return [g.text for g in backend.generate(requests)]


def test_lora_adapter_loads_changes_outputs_and_zero_b_matches_the_base(tmp_path):
    base, _ = prepare("smollm2-135m-instruct")
    zero = make_adapter(base, tmp_path / "zero", zero_b=True)
    random = make_adapter(base, tmp_path / "random", zero_b=False)
    plain = load_backend(f"hf:{base}")
    with_zero = load_backend(f"hf:{base}+{zero}")
    with_random = load_backend(f"hf:{base}+{random}")

    fingerprints = {plain.fingerprint, with_zero.fingerprint, with_random.fingerprint}
    assert len(fingerprints) == 3
    assert with_zero.fingerprint.startswith(plain.fingerprint + "+lora:")
    assert load_backend(f"hf:{base}+{zero}").fingerprint == with_zero.fingerprint

    reference = answers(plain)
    assert answers(with_zero) == reference
    assert answers(with_random) != reference


def test_adapter_errors_say_what_to_do(tmp_path):
    base, _ = prepare("smollm2-135m-instruct")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AltaxError, match="no adapter_config.json"):
        load_backend(f"hf:{base}+{tmp_path / 'empty'}")
    with pytest.raises(AltaxError, match="BASE\\+ADAPTER"):
        load_backend(f"hf:{base}+")
