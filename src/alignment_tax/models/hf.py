"""Hugging Face transformers backend: batched greedy generation with left padding, CUDA when present."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import (
    Generation,
    GenerationRequest,
    Message,
    ModelSpec,
    Rendered,
    TextSink,
    first_tokens,
    group_by_prompt,
)
from alignment_tax.models.decoding import Decoded, cache_kwargs, decode
from alignment_tax.models.lora import adapter_fingerprint, attach, split_adapter
from alignment_tax.models.streaming import TextPieces

if TYPE_CHECKING:
    from alignment_tax.models.kernels import KernelChoice

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


def _context_length(source: str, revision: str | None) -> int | None:
    """Tokens the model's config says it attends to (``max_position_embeddings``, or GPT-2's ``n_positions``)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(source, revision=revision)
    except (OSError, ValueError):
        return None
    found = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    return found if isinstance(found, int) else None


class HFBackend:
    """A causal LM from the hub or a local folder. The tokenizer loads at once, the weights on first use."""

    def __init__(
        self,
        spec: str,
        source: str,
        revision: str | None = None,
        fingerprint: str | None = None,
        adapter: str | None = None,
    ):
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        self.spec = spec
        self._source, self._revision, self._adapter = source, revision, adapter
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
        except (OSError, ValueError) as error:
            raise AltaxError(f"cannot load model {spec!r}: {str(error).splitlines()[0]}") from None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._template = self.tokenizer.chat_template
        self.context_length = _context_length(source, revision)
        """Tokens the model attends to (prompt and answer), from its config; None when it does not say."""
        if fingerprint is None:
            folder = Path(source)
            fingerprint = f"hf:{_local_fingerprint(folder)}" if folder.is_dir() else f"hf:{source}@{revision or 'main'}"
        self.fingerprint = f"{fingerprint}+{adapter_fingerprint(adapter)}" if adapter else fingerprint
        self._model = None
        self.kernel: KernelChoice | None = None
        """The linear-layer kernel the weights run with, once loaded (``models/kernels.py``)."""

    def render(self, messages: Sequence[Message]) -> Rendered:
        if self._template:
            prompt = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
            assert isinstance(prompt, str)  # tokenize=False gives the text
            return Rendered(prompt, _sha(self._template))
        return Rendered(render_plain(messages), _sha(PLAIN_FORMAT), PLAIN_STOP)

    def prompt_length(self, prompt: str) -> int:
        return len(self.tokenizer(prompt, add_special_tokens=not self._template)["input_ids"])

    @property
    def model(self):
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM

            from alignment_tax.models.kernels import choose_kernel

            device = "cuda" if torch.cuda.is_available() else "cpu"
            dtype = torch.bfloat16 if device == "cuda" else torch.float32
            try:
                model = AutoModelForCausalLM.from_pretrained(self._source, revision=self._revision, dtype=dtype)
            except (OSError, ValueError) as error:
                raise AltaxError(f"cannot load weights of {self.spec!r}: {str(error).splitlines()[0]}") from None
            if self._adapter:
                model = attach(model, self._adapter, self.spec)
            model = model.to(device).eval()
            self.kernel = choose_kernel(model)
            self._model = model
        return self._model

    def trainable_model(self):
        """The model with plain ``nn.Linear`` layers again (for training); inference then runs unpacked."""
        from alignment_tax.models.packed import unpack

        unpack(self.model)
        return self.model

    def generate(self, requests: Sequence[GenerationRequest], rows: int | None = None) -> list[Generation]:
        """Greedy (or seeded) completions, at most ``rows`` sequences in the model at once, refilled as rows
        finish (``models.decoding.decode``); the requests are taken in the order given. They must share stop
        strings and temperature (the first one's seed is used); each keeps its own length cap."""
        return self._generate(requests, rows, None)

    def generate_streaming(
        self, requests: Sequence[GenerationRequest], on_text: TextSink, rows: int | None = None
    ) -> list[Generation]:
        """``generate``, handing each answer's text to ``on_text`` as its tokens come (the same answers)."""
        return self._generate(requests, rows, on_text)

    def _generate(
        self, requests: Sequence[GenerationRequest], rows: int | None, on_text: TextSink | None
    ) -> list[Generation]:
        first = requests[0]
        if any((r.stop, r.temperature) != (first.stop, first.temperature) for r in requests):
            raise ValueError("a batch must share stop strings and temperature")
        model = self.model
        prompts = self.tokenizer([r.prompt for r in requests], add_special_tokens=not self._template)["input_ids"]
        window = max((len(s) for s in first.stop), default=0) + 8
        pieces = [TextPieces(first.stop) for _ in requests] if on_text is not None else []

        def is_stopped(tokens: list[int]) -> bool:
            tail = self.tokenizer.decode(tokens[-window:], skip_special_tokens=True)
            return any(s in tail for s in first.stop)

        def on_token(index: int, tokens: list[int]) -> None:
            assert on_text is not None
            piece = pieces[index].update(self._decode(tokens, skip_special_tokens=True))
            if piece:
                on_text(index, piece)

        decoded = decode(
            model,
            prompts,
            pad_id=self.tokenizer.pad_token_id,
            rows=rows,
            max_new_tokens=[r.max_new_tokens for r in requests],
            eos_ids=self._eos_ids(),
            is_stopped=is_stopped if first.stop else None,
            temperature=first.temperature,
            seed=first.seed,
            on_token=on_token if on_text is not None else None,
        )
        out = [self._finish(d, first) for d in decoded]
        if on_text is not None:
            for index, answer in enumerate(out):
                if piece := pieces[index].finish(answer.text):
                    on_text(index, piece)
        return out

    def _eos_ids(self) -> set[int]:
        configured = self.model.generation_config.eos_token_id
        configured = configured if isinstance(configured, list) else [configured]
        return {i for i in [self.tokenizer.eos_token_id, *configured] if i is not None}

    def next_token_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str], batch_size: int = 16
    ) -> list[dict[str, float]]:
        """Log-probabilities at the first answer position of each rendered prompt, one forward pass and
        no generation: for each distinct first token of the ``candidates``, keyed by that token's text."""
        import torch

        first_ids = first_tokens(
            candidates, lambda text: self.tokenizer(text, add_special_tokens=False)["input_ids"], self._decode
        )
        columns = torch.tensor(list(first_ids))
        model = self.model
        out: list[dict[str, float]] = [{} for _ in prompts]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # batches of like length pad little
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            encoded = self.tokenizer(
                [prompts[i] for i in chosen],
                return_tensors="pt",
                padding=True,
                add_special_tokens=not self._template,
            ).to(model.device)
            with torch.inference_mode():
                logits = model(**encoded).logits[:, -1, :].float()
            rows = torch.log_softmax(logits, dim=-1)[:, columns.to(model.device)].cpu()
            for i, row in zip(chosen, rows, strict=True):
                out[i] = dict(zip(first_ids.values(), row.tolist(), strict=True))
        return out

    def loglikelihood(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Sum of the log-probabilities of each continuation's tokens after its rendered prompt. Prompt and
        continuation are tokenized apart and joined, so the continuation is scored exactly as written; each
        distinct prompt is computed once and its cache shared by all of its continuations."""
        import torch
        from transformers import DynamicCache

        model, out = self.model, [0.0] * len(pairs)
        for prompt, members in group_by_prompt(pairs).items():
            context = self.tokenizer(prompt, add_special_tokens=not self._template)["input_ids"]
            targets = [self.tokenizer(pairs[i][1], add_special_tokens=False)["input_ids"] for i in members]
            if not all(targets):
                raise ValueError(f"empty continuation after {prompt[-40:]!r}")
            width = max(len(t) for t in targets)
            ids = torch.tensor([t + [self.tokenizer.pad_token_id] * (width - len(t)) for t in targets])
            cache = DynamicCache(config=model.config)
            with torch.inference_mode():
                first = model(
                    input_ids=torch.tensor([context], device=model.device), **cache_kwargs(model, cache)
                ).logits
                cache.batch_repeat_interleave(len(members))
                positions = torch.arange(len(context), len(context) + width)[None].expand(len(members), -1)
                rest = model(
                    input_ids=ids.to(model.device),
                    **cache_kwargs(model, cache),
                    position_ids=positions.to(model.device),
                ).logits
            logits = torch.cat([first[:, -1:].expand(len(members), -1, -1), rest[:, :-1]], dim=1).float()
            scores = torch.log_softmax(logits, dim=-1).gather(-1, ids[..., None].to(model.device))[..., 0].cpu()
            for row, (i, target) in enumerate(zip(members, targets, strict=True)):
                out[i] = float(scores[row, : len(target)].sum())
        return out

    def token_logprobs(self, text: str) -> list[tuple[str, int, float | None]]:
        """Each token of ``text`` as (token text, character offset, log-probability given the tokens before
        it; None for the first): what an OpenAI-style server returns for ``echo`` with ``logprobs``."""
        import torch

        encoded = self.tokenizer(text, add_special_tokens=not self._template, return_offsets_mapping=True)
        ids = encoded["input_ids"]
        with torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([ids], device=self.model.device)).logits[0, :-1].float()
        scores = torch.log_softmax(logits, dim=-1).gather(-1, torch.tensor(ids[1:], device=logits.device)[:, None])
        values = [None, *scores[:, 0].cpu().tolist()]
        tokens = self.tokenizer.convert_ids_to_tokens(ids)
        return [(t, start, v) for t, (start, _), v in zip(tokens, encoded["offset_mapping"], values, strict=True)]

    def _decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        """The text of one sequence of token ids."""
        text = self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        assert isinstance(text, str)  # one sequence gives one text
        return text

    def _finish(self, decoded: Decoded, request: GenerationRequest) -> Generation:
        text = self._decode(decoded.tokens, skip_special_tokens=True)
        cut = min((text.find(s) for s in request.stop if s in text), default=-1)
        if cut >= 0:
            text = text[:cut]
        return Generation(text, "stop" if decoded.stopped else "length", len(decoded.tokens))


def load_hf(spec: ModelSpec) -> HFBackend:
    """A backend for ``hf:HUB_ID_OR_PATH[+ADAPTER][@REVISION]`` (the revision is the base model's)."""
    base, adapter = split_adapter(spec.target)
    return HFBackend(str(spec), base, spec.revision, adapter=adapter)
