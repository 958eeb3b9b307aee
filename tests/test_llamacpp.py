"""llamacpp:PATH.gguf on the embedded model's GGUF; skipped where llama-cpp-python is not installed."""

from __future__ import annotations

import importlib.util

import pytest

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import GenerationRequest
from alignment_tax.models.builtin import locate_gguf
from alignment_tax.models.specs import load_backend

HAVE_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None


@pytest.mark.skipif(HAVE_LLAMA_CPP, reason="checks the message shown without the llamacpp extra")
def test_missing_extra_says_how_to_install():
    gguf, _ = locate_gguf("smollm2-135m-instruct")
    with pytest.raises(AltaxError, match=r"alignment-tax\[llamacpp\]"):
        load_backend(f"llamacpp:{gguf}")


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_LLAMA_CPP, reason="llama-cpp-python (the llamacpp extra) is not installed")
def test_gguf_answers_with_its_own_chat_template():
    gguf, _ = locate_gguf("smollm2-135m-instruct")
    backend = load_backend(f"llamacpp:{gguf}")
    rendered = backend.render([{"role": "user", "content": "What is the capital of France?"}])
    assert "<|im_start|>user\nWhat is the capital of France?" in rendered.prompt
    (answer,) = backend.generate([GenerationRequest("a", rendered.prompt, 16)])
    assert "Paris" in answer.text and answer.n_tokens > 0
    assert backend.fingerprint == load_backend(f"llamacpp:{gguf}").fingerprint
