"""Hugging Face transformers backend: batched greedy generation with left padding, CUDA when present."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import Generation, GenerationRequest, Message, Rendered
from alignment_tax.models.specs import ModelSpec

PLAIN_FORMAT = "{system}\n\n{shots}Question: {prompt}\nAnswer:"
"""Prompt format for base models without a chat template (documented in docs/prompts.md).

Few-shot examples become ``Question: ...\\nAnswer: ...\\n\\n`` blocks; an absent system prompt and
its blank line are left out."""
PLAIN_STOP = ("\nQuestion:",)


def render_plain(messages: Sequence[Message]) -> str:
    """Render chat messages in the documented plain format for models without a chat template."""
    system = "\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [m for m in messages if m["role"] != "system"]
    shots = "".join(
        f"Question: {user['content']}\nAnswer: {answer['content']}\n\n"
        for user, answer in zip(turns[:-1:2], turns[1::2], strict=True)
    )
    text = PLAIN_FORMAT.format(system=system, shots=shots, prompt=turns[-1]["content"])
    return text if system else text.lstrip("\n")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _local_fingerprint(folder: Path) -> str:
    """Identity of a local model folder: its config and the names and sizes of its files."""
    files = sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file())
    config = (folder / "config.json").read_text() if (folder / "config.json").is_file() else ""
    return _sha(json.dumps([config, files]))


class HFBackend:
    """A causal LM from the hub or a local folder. The tokenizer loads at once, the weights on first use."""

    def __init__(self, spec: str, source: str, revision: str | None = None, fingerprint: str | None = None):
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self.spec = spec
        self._source, self._revision = source, revision
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
        except (OSError, ValueError) as error:
            raise AltaxError(f"cannot load model {spec!r}: {str(error).splitlines()[0]}") from None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._template = self.tokenizer.chat_template
        if fingerprint is None:
            folder = Path(source)
            fingerprint = f"hf:{_local_fingerprint(folder)}" if folder.is_dir() else f"hf:{source}@{revision or 'main'}"
        self.fingerprint = fingerprint
        self._model = None

    def render(self, messages: Sequence[Message]) -> Rendered:
        if self._template:
            prompt = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
            return Rendered(prompt, _sha(self._template))
        return Rendered(render_plain(messages), _sha(PLAIN_FORMAT), PLAIN_STOP)

    def prompt_length(self, prompt: str) -> int:
        return len(self.tokenizer(prompt, add_special_tokens=not self._template)["input_ids"])

    @property
    def model(self):
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM

            device = "cuda" if torch.cuda.is_available() else "cpu"
            dtype = torch.bfloat16 if device == "cuda" else torch.float32
            try:
                model = AutoModelForCausalLM.from_pretrained(self._source, revision=self._revision, dtype=dtype)
            except (OSError, ValueError) as error:
                raise AltaxError(f"cannot load weights of {self.spec!r}: {str(error).splitlines()[0]}") from None
            self._model = model.to(device).eval()
        return self._model

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        import torch

        first = requests[0]
        if any(
            (r.max_new_tokens, r.stop, r.temperature) != (first.max_new_tokens, first.stop, first.temperature)
            for r in requests
        ):
            raise ValueError("a batch must share max_new_tokens, stop strings and temperature")
        model = self.model
        encoded = self.tokenizer(
            [r.prompt for r in requests],
            return_tensors="pt",
            padding=True,
            add_special_tokens=not self._template,
        ).to(model.device)
        sampling = (
            {"do_sample": True, "temperature": first.temperature} if first.temperature > 0 else {"do_sample": False}
        )
        if first.temperature > 0:
            torch.manual_seed(first.seed)
        with torch.inference_mode():
            output = model.generate(
                **encoded,
                max_new_tokens=first.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                stop_strings=list(first.stop) or None,
                tokenizer=self.tokenizer if first.stop else None,
                top_p=None,
                top_k=None,
                **sampling,
            )
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        return [self._finish(row, first) for row in new_tokens]

    def _finish(self, tokens, request: GenerationRequest) -> Generation:
        ids = tokens.tolist()
        specials = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        n = next((i for i, t in enumerate(ids) if t in specials), len(ids))
        text = self.tokenizer.decode(ids[:n], skip_special_tokens=True)
        cut = min((text.find(s) for s in request.stop if s in text), default=-1)
        if cut >= 0:
            return Generation(text[:cut], "stop", n)
        return Generation(text, "stop" if n < len(ids) else "length", n)


def load_hf(spec: ModelSpec) -> HFBackend:
    """A backend for ``hf:HUB_ID_OR_PATH[@REVISION]``."""
    return HFBackend(str(spec), spec.target, spec.revision)
