"""Activation steering at run time: hooks on decoder layers, and a backend that applies them around each call."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from alignment_tax.configs.schema import Steering, stable_hash
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.directions import Direction, decoder_layers, load_direction
from alignment_tax.models.base import Generation, GenerationRequest, Message, Rendered, TextSink


def check_compatible(direction: Direction, steering: Steering, model_fingerprint: str) -> None:
    """Raise when ``direction`` was extracted on another model or lacks a steered layer."""
    if direction.model_fingerprint != model_fingerprint:
        raise AltaxError(
            f"direction {direction.name!r} was extracted on {direction.model_fingerprint}, not on "
            f"{model_fingerprint}; extract one for this model with `altax steer extract --model SPEC`"
        )
    outside = [layer for layer in steering.layers if layer >= direction.n_layers]
    if outside:
        last = direction.n_layers - 1
        raise AltaxError(f"steering layers {outside} do not exist: direction {direction.name!r} has layers 0..{last}")


def _edit(hidden, steering: Steering, unit, norm: float):
    if steering.mode == "ablate":
        return hidden - (hidden @ unit)[..., None] * unit
    return hidden + (steering.strength * norm) * unit


@contextlib.contextmanager
def steering_hooks(model, direction: Direction, steering: Steering) -> Iterator[None]:
    """While open, each steered layer's output gets ``strength * typical_norm * unit`` added (``add``) or its
    component along the unit direction removed (``ablate``), at every position. The hooks go on exit."""
    layers = decoder_layers(model)
    handles = []
    try:
        for index in steering.layers:
            unit = direction.vectors[index].to(device=model.device, dtype=model.dtype)
            norm = direction.norms[index]

            def hook(module, args, output, unit=unit, norm=norm):
                if isinstance(output, tuple):
                    return (_edit(output[0], steering, unit, norm), *output[1:])
                return _edit(output, steering, unit, norm)

            handles.append(layers[index].register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


def steering_fingerprint(base_fingerprint: str, direction: Direction, steering: Steering) -> str:
    """The steered model's identity: the base model's plus a hash of what is added where."""
    payload = {
        "direction": direction.content_hash,
        "layers": steering.layers,
        "strength": steering.strength,
        "mode": steering.mode,
    }
    return f"{base_fingerprint}+steer:{stable_hash(payload)[:16]}"


class SteeredBackend:
    """A transformers backend seen through steering: the same loaded weights (no copy), with the hooks put on
    around every generate / next_token_logprobs / loglikelihood / token_logprobs call and taken off after it."""

    def __init__(self, base, steering: Steering, direction: Direction | None = None):
        if not hasattr(base, "model") or not hasattr(base, "tokenizer"):
            raise AltaxError(
                f"steering needs a model loaded with transformers (builtin: or hf: specs), not {base.spec!r}"
            )
        direction = direction or load_direction(steering.direction)
        check_compatible(direction, steering, base.fingerprint)
        self.base, self.steering, self.direction = base, steering, direction
        self.spec = base.spec
        self.fingerprint = steering_fingerprint(base.fingerprint, direction, steering)

    @property
    def tokenizer(self):
        return self.base.tokenizer

    def render(self, messages: Sequence[Message]) -> Rendered:
        return self.base.render(messages)

    def prompt_length(self, prompt: str) -> int:
        return self.base.prompt_length(prompt)

    @property
    def context_length(self) -> int | None:
        return getattr(self.base, "context_length", None)

    def applied(self) -> contextlib.AbstractContextManager[None]:
        """The steering hooks on the shared model, for one call."""
        return steering_hooks(self.base.model, self.direction, self.steering)

    def generate(self, requests: Sequence[GenerationRequest], rows: int | None = None) -> list[Generation]:
        with self.applied():
            return self.base.generate(requests, rows)

    def generate_streaming(
        self, requests: Sequence[GenerationRequest], on_text: TextSink, rows: int | None = None
    ) -> list[Generation]:
        with self.applied():
            return self.base.generate_streaming(requests, on_text, rows)

    def next_token_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str], batch_size: int = 16
    ) -> list[dict[str, float]]:
        with self.applied():
            return self.base.next_token_logprobs(prompts, candidates, batch_size)

    def loglikelihood(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        with self.applied():
            return self.base.loglikelihood(pairs)

    def token_logprobs(self, text: str) -> list[tuple[str, int, float | None]]:
        with self.applied():
            return self.base.token_logprobs(text)
