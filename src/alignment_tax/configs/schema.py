"""Configuration and experiment schemas, with stable fingerprints."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alignment_tax.suite.schema import CAPABILITY_CATEGORIES

_STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
Seed = Annotated[int, Field(ge=0, lt=2**32)]
"""Seeds every backend takes (llama.cpp's are 32-bit)."""


def stable_hash(payload: object) -> str:
    """SHA-256 of the canonical JSON of ``payload``."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class FewShotExample(BaseModel):
    """A user turn and the assistant answer shown before the item."""

    model_config = _STRICT
    user: str
    assistant: str


class Framing(BaseModel):
    """Task framing: text put before and after every prompt."""

    model_config = _STRICT
    prefix: str = ""
    suffix: str = ""


class Decoding(BaseModel):
    """How text is generated: greedy by default, with per-category length caps and stop strings.

    ``max_new_tokens`` and ``stop`` map a category to its length cap and stop strings; the key ``"*"`` applies to
    every category (a category's own cap overrides it)."""

    model_config = _STRICT
    temperature: float = Field(default=0.0, ge=0.0)
    seed: Seed = 0
    max_new_tokens: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    stop: dict[str, list[Annotated[str, Field(min_length=1)]]] = Field(default_factory=dict)
    samples: int = Field(default=1, ge=1)
    """K answers per item and configuration (sampled, so temperature must be above 0); analysis averages them."""

    @model_validator(mode="after")
    def _sampling_needs_temperature(self) -> Decoding:
        if self.samples > 1 and self.temperature <= 0:
            raise ValueError("samples > 1 needs temperature > 0 (greedy decoding gives the same answer K times)")
        return self

    def sample_seed(self, sample: int) -> int:
        """The generation seed of one sample: ``seed`` for sample 0, a stable derived seed for the others."""
        return self.seed if sample == 0 else int(stable_hash([self.seed, sample])[:8], 16)

    def max_tokens_for(self, category: str) -> int:
        """The length cap for one category: its own if given, else the one for ``"*"``, else the built-in default."""
        caps = self.max_new_tokens
        return caps.get(category, caps.get("*", DEFAULT_MAX_NEW_TOKENS.get(category, 64)))

    def stop_for(self, category: str) -> tuple[str, ...]:
        """Stop strings for one category: those for every category, then its own."""
        return tuple(dict.fromkeys([*self.stop.get("*", []), *self.stop.get(category, [])]))

    def unknown_categories(self, categories: Iterable[str]) -> list[str]:
        """Keys of ``max_new_tokens`` and ``stop`` that name no category: neither one of ``categories`` (a suite's)
        nor a built-in one. Such a key would silently change nothing (a misspelt ``"cod"``)."""
        known = {"*", *CAPABILITY_CATEGORIES, *DEFAULT_MAX_NEW_TOKENS, *categories}
        return sorted({*self.max_new_tokens, *self.stop} - known)


DEFAULT_MAX_NEW_TOKENS = {c: 48 for c in CAPABILITY_CATEGORIES} | {
    "code": 160,
    "creative_writing": 96,
    "harmful": 48,
    "benign": 64,
}


class Steering(BaseModel):
    """Activation steering: a stored direction added to (``add``) or projected out of (``ablate``) the residual
    stream after the given decoder layers. ``strength`` is relative to each layer's typical residual norm
    (0.25 adds a quarter of it; negative pushes the other way); ``ablate`` ignores it."""

    model_config = _STRICT
    direction: str = Field(pattern=r"^[A-Za-z0-9_.+-]+$")
    layers: list[int] = Field(min_length=1)
    strength: float = 0.0
    mode: Literal["add", "ablate"] = "add"

    @field_validator("layers")
    @classmethod
    def _layers_distinct(cls, layers: list[int]) -> list[int]:
        if any(layer < 0 for layer in layers):
            raise ValueError("layers are decoder layer indices, 0 or more")
        if len(set(layers)) != len(layers):
            raise ValueError("layers must not repeat")
        return sorted(layers)


class Guardrail(BaseModel):
    """What a router switches on for risky prompts: a system prompt (replacing the configuration's), steering
    (replacing the configuration's), or both."""

    model_config = _STRICT
    system_prompt: str | None = None
    steering: Steering | None = None

    @model_validator(mode="after")
    def _something_set(self) -> Guardrail:
        if self.system_prompt is None and self.steering is None:
            raise ValueError("a guardrail needs a system_prompt, a steering section, or both")
        return self


class Router(BaseModel):
    """Risk routing: items whose prompt the risk classifier scores at or above ``threshold`` are answered with the
    guardrail applied, the others without it. Routing is decided once per item when the run is planned."""

    model_config = _STRICT
    classifier: str = "default"
    threshold: float = Field(ge=0.0, le=1.0)
    guardrail: Guardrail


class Configuration(BaseModel):
    """One way of answering: a model plus interventions. ``name`` is a label, not part of the fingerprint."""

    model_config = _STRICT
    name: str = Field(pattern=r"^[A-Za-z0-9_.+-]+$")
    model: str
    system_prompt: str | None = None
    few_shot: list[FewShotExample] = Field(default_factory=list)
    framing: Framing = Field(default_factory=Framing)
    steering: Steering | None = None
    router: Router | None = None
    description: str = ""

    def fingerprint(self) -> str:
        """Stable hash of everything that changes answers (model spec and interventions). Steering and router
        enter only when set, so configurations without them keep the fingerprints they always had."""
        payload = self.model_dump(exclude={"name", "description"})
        for optional in ("steering", "router"):
            if payload[optional] is None:
                del payload[optional]
        return stable_hash(payload)[:16]


class Experiment(BaseModel):
    """An experiment file: configurations, the reference among them, the suite and decoding."""

    model_config = _STRICT
    suite: str = "core"
    reference: str
    configs: list[Configuration] = Field(min_length=1)
    decoding: Decoding = Field(default_factory=Decoding)
    limit: int | None = Field(default=None, ge=1)
    """Keep at most this many items per category (a quick look; the first ones in suite order)."""
    sample: int | None = Field(default=None, ge=1)
    """Keep this many items in all, a stratified sample over categories drawn with ``draw_seed``."""
    target_ci: float | None = Field(default=None, gt=0)
    """Adaptive run: draw items in chunks until every tax CI half-width is at most this many points."""
    chunk_size: int = Field(default=50, ge=1)
    """Items drawn per look of an adaptive run."""
    draw_seed: Seed = 0
    """Seed of the order in which an adaptive run draws items."""

    @model_validator(mode="after")
    def _reference_named(self) -> Experiment:
        names = [c.name for c in self.configs]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"configuration names must be unique; repeated: {', '.join(duplicated)}")
        if self.reference not in names:
            raise ValueError(f"reference {self.reference!r} is not one of the configurations ({', '.join(names)})")
        return self


def slug(text: str) -> str:
    """A file-system-safe name for ``text``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"
