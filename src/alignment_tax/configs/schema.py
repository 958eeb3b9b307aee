"""Configuration and experiment schemas, with stable fingerprints."""

from __future__ import annotations

import hashlib
import json
import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alignment_tax.suite.schema import CAPABILITY_CATEGORIES

_STRICT = ConfigDict(extra="forbid", frozen=True)


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

    ``stop`` maps a category to its stop strings; the key ``"*"`` applies to every category."""

    model_config = _STRICT
    temperature: float = Field(default=0.0, ge=0.0)
    seed: int = 0
    max_new_tokens: dict[str, int] = Field(default_factory=dict)
    stop: dict[str, list[str]] = Field(default_factory=dict)
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
        """The length cap for one category: the override if given, else the built-in default."""
        return self.max_new_tokens.get(category, DEFAULT_MAX_NEW_TOKENS.get(category, 64))

    def stop_for(self, category: str) -> tuple[str, ...]:
        """Stop strings for one category: those for every category, then its own."""
        return tuple(dict.fromkeys([*self.stop.get("*", []), *self.stop.get(category, [])]))


DEFAULT_MAX_NEW_TOKENS = {c: 48 for c in CAPABILITY_CATEGORIES} | {
    "code": 160,
    "creative_writing": 96,
    "harmful": 48,
    "benign": 64,
}


class Configuration(BaseModel):
    """One way of answering: a model plus interventions. ``name`` is a label, not part of the fingerprint."""

    model_config = _STRICT
    name: str = Field(pattern=r"^[A-Za-z0-9_.+-]+$")
    model: str
    system_prompt: str | None = None
    few_shot: list[FewShotExample] = Field(default_factory=list)
    framing: Framing = Field(default_factory=Framing)
    description: str = ""

    def fingerprint(self) -> str:
        """Stable hash of everything that changes answers (model spec and interventions)."""
        return stable_hash(self.model_dump(exclude={"name", "description"}))[:16]


class Experiment(BaseModel):
    """An experiment file: configurations, the reference among them, the suite and decoding."""

    model_config = _STRICT
    suite: str = "core"
    reference: str
    configs: list[Configuration] = Field(min_length=1)
    decoding: Decoding = Field(default_factory=Decoding)
    limit: int | None = Field(default=None, ge=1)
    """Keep at most this many items per category (a quick look; the first ones in suite order)."""
    target_ci: float | None = Field(default=None, gt=0)
    """Adaptive run: draw items in chunks until every tax CI half-width is at most this many points."""
    chunk_size: int = Field(default=50, ge=1)
    """Items drawn per look of an adaptive run."""
    draw_seed: int = 0
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
