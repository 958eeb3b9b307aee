"""Mitigation levers (system prompts, few-shot sets, framings) and the candidate configurations built from them.

A space is a TOML file of three kinds of table: ``[[system_prompt]]`` (``name``, ``text``), ``[[few_shot]]``
(``name``, ``examples``: user/assistant pairs) and ``[[framing]]`` (``name``, ``prefix``, ``suffix``). The bundled
library is ``mitigations.toml`` beside this module; ``--space`` adds a user's own levers to it."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import combinations, product
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alignment_tax.configs.schema import Configuration, FewShotExample, Framing
from alignment_tax.errors import AltaxError
from alignment_tax.jsonl import field_error, read_text

LeverKind = Literal["system_prompt", "few_shot", "framing"]
KINDS: tuple[LeverKind, ...] = ("system_prompt", "few_shot", "framing")
_STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
_NAME = Field(pattern=r"^[A-Za-z0-9_.-]+$")


class SystemPromptLever(BaseModel):
    """A system prompt; it replaces the base configuration's."""

    model_config = _STRICT
    name: str = _NAME
    text: str = Field(min_length=1)


class FewShotLever(BaseModel):
    """A few-shot set; its examples follow the base configuration's."""

    model_config = _STRICT
    name: str = _NAME
    examples: list[FewShotExample] = Field(min_length=1)


class FramingLever(BaseModel):
    """A task framing; it replaces the base configuration's."""

    model_config = _STRICT
    name: str = _NAME
    prefix: str = ""
    suffix: str = ""

    @model_validator(mode="after")
    def _something_set(self) -> FramingLever:
        if not self.prefix and not self.suffix:
            raise ValueError("a framing needs a prefix, a suffix or both")
        return self


Lever = SystemPromptLever | FewShotLever | FramingLever


class Space(BaseModel):
    """A set of levers of each kind; lever names are unique across the space."""

    model_config = _STRICT
    system_prompt: list[SystemPromptLever] = Field(default_factory=list)
    few_shot: list[FewShotLever] = Field(default_factory=list)
    framing: list[FramingLever] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> Space:
        names = [lever.name for kind in KINDS for lever in self.levers(kind)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"lever names must be unique across the space; repeated: {', '.join(repeated)}")
        return self

    def levers(self, kind: LeverKind) -> Sequence[Lever]:
        return getattr(self, kind)

    def kinds(self) -> dict[str, LeverKind]:
        """Each lever's kind, by name."""
        return {lever.name: kind for kind in KINDS for lever in self.levers(kind)}

    def joined(self, other: Space) -> Space:
        """This space's levers followed by ``other``'s, kind by kind (names must stay unique)."""
        try:
            return Space.model_validate({kind: [*self.levers(kind), *other.levers(kind)] for kind in KINDS})
        except ValidationError as error:
            raise field_error("the bundled library with your --space", error) from None


def parse_space(text: str, source: str) -> Space:
    """A space from TOML text; errors name ``source`` and the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AltaxError(f"{source}: not valid TOML: {error}") from None
    try:
        return Space.model_validate(data)
    except ValidationError as error:
        raise field_error(source, error) from None


def bundled_space() -> Space:
    """The project's own library of levers."""
    text = resources.files("alignment_tax.configs").joinpath("mitigations.toml").read_text(encoding="utf-8")
    return parse_space(text, "mitigations.toml")


def load_space(path: str | Path | None) -> Space:
    """The bundled library, followed by the levers of the TOML file ``path`` when given."""
    bundled = bundled_space()
    if path is None:
        return bundled
    if Path(path).suffix != ".toml":
        raise AltaxError(f"{path}: a mitigation space is a .toml file")
    return bundled.joined(parse_space(read_text(path, "mitigation space"), str(path)))


@dataclass(frozen=True)
class Candidate:
    """One candidate: the base configuration with one lever, or two of different kinds, applied."""

    levers: tuple[str, ...]
    config: Configuration


def apply(base: Configuration, levers: Sequence[Lever]) -> Configuration:
    """``base`` with the levers applied; the name joins the lever names with ``+``."""
    update: dict[str, object] = {"name": "+".join(lever.name for lever in levers)}
    for lever in levers:
        if isinstance(lever, SystemPromptLever):
            update["system_prompt"] = lever.text
        elif isinstance(lever, FewShotLever):
            update["few_shot"] = [*base.few_shot, *lever.examples]
        else:
            update["framing"] = Framing(prefix=lever.prefix, suffix=lever.suffix)
    update["description"] = f"{base.name} with " + ", ".join(lever.name for lever in levers)
    return Configuration.model_validate(base.model_dump() | update)


def candidates(base: Configuration, space: Space, budget: int | None = None) -> list[Candidate]:
    """Every lever alone (system prompts, then few-shot sets, then framings, each in space order), then every
    pair of levers of two different kinds (system prompt with few-shot, system prompt with framing, few-shot with
    framing, each pair in space order); the first ``budget`` of them when given."""
    singles = [(lever,) for kind in KINDS for lever in space.levers(kind)]
    pairs = [pair for a, b in combinations(KINDS, 2) for pair in product(space.levers(a), space.levers(b))]
    chosen = [*singles, *pairs][:budget]
    return [Candidate(tuple(lever.name for lever in levers), apply(base, levers)) for levers in chosen]
