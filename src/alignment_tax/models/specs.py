"""Model specs (``builtin:NAME``, ``hf:ID[@REVISION]``, ``openai:MODEL@URL``) and lazy loading of their backends."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import Backend


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec: the scheme picks the backend, the target says which model."""

    scheme: str
    target: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}" + (f"@{self.revision}" if self.revision else "")


# scheme -> (module, loader function, pip extra that provides its dependencies)
_BACKENDS: dict[str, tuple[str, str, str | None]] = {
    "builtin": ("alignment_tax.models.builtin", "load_builtin", None),
    "hf": ("alignment_tax.models.hf", "load_hf", None),
    "openai": ("alignment_tax.models.openai_compat", "load_openai", "openai"),
    "llamacpp": ("alignment_tax.models.llamacpp", "load_llamacpp", "llamacpp"),
}


def parse_spec(spec: str) -> ModelSpec:
    """Parse ``scheme:target[@revision]``; unknown schemes raise an error listing the known ones."""
    scheme, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise AltaxError(f"model spec {spec!r} must look like SCHEME:TARGET, e.g. {_examples()}")
    if scheme not in _BACKENDS:
        raise AltaxError(f"unknown model scheme {scheme!r} in {spec!r}; known: {', '.join(sorted(_BACKENDS))}")
    target, _, revision = rest.partition("@")
    if not target:
        raise AltaxError(f"model spec {spec!r} names no model")
    return ModelSpec(scheme, target, revision or None)


def load_backend(spec: str) -> Backend:
    """Import the backend for ``spec`` only now, so optional dependencies load only when used."""
    parsed = parse_spec(spec)
    module_name, function, extra = _BACKENDS[parsed.scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        hint = f"pip install 'alignment-tax[{extra}]'" if extra else "reinstall alignment-tax"
        raise AltaxError(f"backend {parsed.scheme!r} needs {error.name}: {hint}") from None
    return getattr(module, function)(parsed)


def _examples() -> str:
    return "builtin:smollm2-135m-instruct or hf:HuggingFaceTB/SmolLM2-135M-Instruct"
