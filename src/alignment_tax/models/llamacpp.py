"""llama.cpp backend for GGUF files (``llamacpp:PATH.gguf``): the model runs in a child process, so a crash
in llama.cpp's native code fails the run with a clear error instead of killing it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import Generation, GenerationRequest, Message, ModelSpec, Rendered
from alignment_tax.models.child import ChildProcess

CRASH_HINT = (
    "That is a crash inside llama-cpp-python, not in altax. On Intel CPUs with AMX, llama.cpp built with native "
    "flags crashes: reinstall it with the flags in docs/backends.md (`make test` does). Answers already stored "
    "are kept: rerun the same command to resume."
)


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


class LlamaCppBackend:
    """A GGUF model in llama.cpp, in a child process (``models/llamacpp_model.py`` does the work there);
    requests run one after another. The fingerprint is a hash of the GGUF file."""

    def __init__(self, spec: str, path: Path, n_ctx: int = 4096):
        self.spec, self.fingerprint = spec, f"llamacpp:{_file_sha(path)}"
        self.context_length = n_ctx
        """llama.cpp's context window: a prompt and its answer must fit in it."""
        self.child = ChildProcess(spec, "alignment_tax.models.llamacpp_model:LlamaCppModel", (path, n_ctx), CRASH_HINT)

    def render(self, messages: Sequence[Message]) -> Rendered:
        return self.child.call("render", messages)

    def prompt_length(self, prompt: str) -> int:
        return self.child.call("prompt_length", prompt)

    def loglikelihood(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Summed log-probability of each continuation after its rendered prompt."""
        return self.child.call("loglikelihood", pairs)

    def next_token_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str], batch_size: int = 16
    ) -> list[dict[str, float]]:
        """Log-probabilities of each candidate's first token at the first answer position of each prompt."""
        return self.child.call("next_token_logprobs", prompts, candidates, batch_size)

    def generate(self, requests: Sequence[GenerationRequest], rows: int | None = None) -> list[Generation]:
        return self.child.call("generate", requests, rows)


def load_llamacpp(spec: ModelSpec) -> LlamaCppBackend:
    """A backend for ``llamacpp:PATH.gguf``."""
    path = Path(spec.target).expanduser()
    if not path.is_file() or path.suffix != ".gguf":
        raise AltaxError(f"{spec}: {path} is not a .gguf file")
    return LlamaCppBackend(str(spec), path)
