"""llama.cpp in-process backend for GGUF files (llama-cpp-python), rendered with the file's own chat template."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import Generation, GenerationRequest, Message, Rendered
from alignment_tax.models.hf import PLAIN_FORMAT, PLAIN_STOP, render_plain
from alignment_tax.models.specs import ModelSpec


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


class LlamaCppBackend:
    """A GGUF model loaded by llama.cpp in this process; requests run one after another (llama.cpp batches
    the tokens of one prompt, not several prompts). The fingerprint is a hash of the GGUF file."""

    def __init__(self, spec: str, path: Path, n_ctx: int = 4096):
        self.spec, self.fingerprint = spec, f"llamacpp:{_file_sha(path)}"
        try:
            self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_gpu_layers=-1, verbose=False)
        except ValueError as error:
            raise AltaxError(f"llama.cpp cannot load {path}: {error}") from None
        self._template = self.llm.metadata.get("tokenizer.chat_template")
        self._formatter = None
        if self._template:
            eos, bos = (self._token_text(t) for t in (self.llm.token_eos(), self.llm.token_bos()))
            self._formatter = Jinja2ChatFormatter(self._template, eos_token=eos, bos_token=bos)

    def _token_text(self, token: int) -> str:
        return self.llm.detokenize([token], special=True).decode(errors="replace") if token >= 0 else ""

    def render(self, messages: Sequence[Message]) -> Rendered:
        if self._formatter is not None:
            return Rendered(self._formatter(messages=list(messages)).prompt, _sha(self._template.encode()))
        return Rendered(render_plain(messages), _sha(PLAIN_FORMAT.encode()), PLAIN_STOP)

    def prompt_length(self, prompt: str) -> int:
        return len(self.llm.tokenize(prompt.encode(), add_bos=False, special=True))

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        out = []
        for request in requests:
            answer = self.llm.create_completion(
                request.prompt,
                max_tokens=request.max_new_tokens,
                temperature=request.temperature,
                seed=request.seed,
                stop=list(request.stop) or None,
            )
            choice = answer["choices"][0]
            tokens = answer.get("usage", {}).get("completion_tokens", 0)
            out.append(Generation(choice["text"], choice.get("finish_reason") or "stop", tokens))
        return out


def load_llamacpp(spec: ModelSpec) -> LlamaCppBackend:
    """A backend for ``llamacpp:PATH.gguf``."""
    path = Path(spec.target).expanduser()
    if not path.is_file() or path.suffix != ".gguf":
        raise AltaxError(f"{spec}: {path} is not a .gguf file")
    return LlamaCppBackend(str(spec), path)
