"""A GGUF model in llama.cpp (llama-cpp-python), rendered with the file's own chat template; runs inside the
backend's child process (models/llamacpp.py), never in the altax process."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import Generation, GenerationRequest, Message, Rendered, first_tokens, group_by_prompt
from alignment_tax.models.hf import PLAIN_FORMAT, PLAIN_STOP, render_plain


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class LlamaCppModel:
    """A GGUF model loaded by llama.cpp; requests run one after another (llama.cpp batches the tokens of one
    prompt, not several prompts).

    Log-probabilities (``loglikelihood``, ``next_token_logprobs``) come from the logits llama.cpp keeps for
    the last evaluated token, so no ``logits_all`` buffer of context x vocabulary floats is needed."""

    def __init__(self, path: Path, n_ctx: int):
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
        if self._formatter is not None and self._template:
            chat = list(messages)  # llama.cpp types the messages as role-specific TypedDicts; ours are plain dicts
            return Rendered(self._formatter(messages=chat).prompt, _sha(self._template.encode()))  # type: ignore[arg-type]
        return Rendered(render_plain(messages), _sha(PLAIN_FORMAT.encode()), PLAIN_STOP)

    def _prompt_tokens(self, prompt: str) -> list[int]:
        return self.llm.tokenize(prompt.encode(), add_bos=False, special=True)

    def _text_tokens(self, text: str) -> list[int]:
        """Tokens of answer text, special-token markup read as plain text."""
        return self.llm.tokenize(text.encode(), add_bos=False, special=False)

    def prompt_length(self, prompt: str) -> int:
        return len(self._prompt_tokens(prompt))

    def _next_logprobs(self, tokens: Sequence[int]) -> np.ndarray:
        """Evaluate ``tokens`` after what is already evaluated; log-softmax of the next token's logits."""
        self.llm.eval(list(tokens))
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(self.llm.ctx, -1), shape=(self.llm.n_vocab(),))
        logits = logits.astype(np.float64)
        top = logits.max()
        return logits - top - np.log(np.exp(logits - top).sum())

    def loglikelihood(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Summed log-probability of each continuation after its rendered prompt. Prompt and continuation are
        tokenized apart and joined; each distinct prompt is evaluated once and its KV cache reused by all of
        its continuations (evaluation rolls back to the end of the prompt between them)."""
        out = [0.0] * len(pairs)
        for prompt, members in group_by_prompt(pairs).items():
            self.llm.reset()
            after_prompt = self._next_logprobs(self._prompt_tokens(prompt))
            end = self.llm.n_tokens
            for i in members:
                target = self._text_tokens(pairs[i][1])
                if not target:
                    raise ValueError(f"empty continuation after {prompt[-40:]!r}")
                self.llm.n_tokens = end  # the next eval drops the cache past the prompt
                logprobs, total = after_prompt, 0.0
                for position, token in enumerate(target):
                    total += float(logprobs[token])
                    if position + 1 < len(target):
                        logprobs = self._next_logprobs([token])
                out[i] = total
        return out

    def next_token_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str], batch_size: int = 16
    ) -> list[dict[str, float]]:
        """Log-probabilities at the first answer position of each rendered prompt, for each distinct first token
        of the ``candidates``, keyed by that token's text (``batch_size`` is accepted and unused)."""
        first = first_tokens(
            candidates, self._text_tokens, lambda ids: self.llm.detokenize(ids).decode(errors="replace")
        )
        out = []
        for prompt in prompts:
            self.llm.reset()
            logprobs = self._next_logprobs(self._prompt_tokens(prompt))
            out.append({text: float(logprobs[token]) for token, text in first.items()})
        return out

    def generate(self, requests: Sequence[GenerationRequest], rows: int | None = None) -> list[Generation]:
        out = []
        for request in requests:
            answer = self.llm.create_completion(
                request.prompt,
                max_tokens=request.max_new_tokens,
                temperature=request.temperature,
                seed=request.seed,
                stop=list(request.stop) or None,
            )
            assert isinstance(answer, dict)  # stream=False gives one response, not an iterator
            choice = answer["choices"][0]
            tokens = answer.get("usage", {}).get("completion_tokens", 0)
            out.append(Generation(choice["text"], choice.get("finish_reason") or "stop", tokens))
        return out
