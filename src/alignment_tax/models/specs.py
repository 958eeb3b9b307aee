"""Model specs (``builtin:NAME``, ``hf:ID[@REVISION]``, ``openai:MODEL@URL``, ...) and the backend registry:
the scheme of a spec names the factory that loads its backend, imported only when used."""

from __future__ import annotations

from collections.abc import Callable

from alignment_tax.errors import AltaxError
from alignment_tax.models.base import Backend, ModelSpec
from alignment_tax.registry import Registry

BackendFactory = Callable[[ModelSpec], Backend]
BACKENDS: Registry[BackendFactory] = Registry("model scheme", "alignment_tax.backends")
"""The backend factories by scheme; other packages add theirs through the entry-point group
``alignment_tax.backends`` (docs/extending.md)."""
backend = BACKENDS.register
"""The decorator registering a backend factory: ``@backend("name")``."""


@backend("builtin", requires=("torch", "transformers"))
def _builtin(spec: ModelSpec) -> Backend:
    from alignment_tax.models.builtin import load_builtin

    return load_builtin(spec)


@backend("hf", requires=("torch", "transformers"))
def _hf(spec: ModelSpec) -> Backend:
    from alignment_tax.models.hf import load_hf

    return load_hf(spec)


@backend("openai", requires=("httpx",), extra="openai")
def _openai(spec: ModelSpec) -> Backend:
    from alignment_tax.models.openai_compat import load_openai

    return load_openai(spec)


@backend("llamacpp", requires=("llama_cpp",), extra="llamacpp")
def _llamacpp(spec: ModelSpec) -> Backend:
    from alignment_tax.models.llamacpp import load_llamacpp

    return load_llamacpp(spec)


def parse_spec(spec: str) -> ModelSpec:
    """Parse ``scheme:target[@revision]``; an unknown scheme raises an error listing the known ones."""
    scheme, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise AltaxError(f"model spec {spec!r} must look like SCHEME:TARGET, e.g. {_examples()}")
    if scheme not in BACKENDS:
        raise BACKENDS.unknown(scheme)
    target, _, revision = rest.partition("@")
    if not target:
        raise AltaxError(f"model spec {spec!r} names no model")
    return ModelSpec(scheme, target, revision or None)


def load_backend(spec: str) -> Backend:
    """The backend for ``spec``, from its scheme's factory (a missing optional dependency names its extra)."""
    parsed = parse_spec(spec)
    return BACKENDS.entry(parsed.scheme).factory(parsed)


def _examples() -> str:
    return "builtin:smollm2-135m-instruct or hf:HuggingFaceTB/SmolLM2-135M-Instruct"
