"""Plan a run: one request per configuration and item, keyed by everything that determines its answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alignment_tax.configs.schema import Configuration, Decoding, stable_hash
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.prompting import build_messages
from alignment_tax.interventions.routing import RiskScorer, backend_key, guarded, plain, route_items
from alignment_tax.models.base import Backend, GenerationRequest
from alignment_tax.records import PlannedRequest, Route
from alignment_tax.suite.schema import Item


@dataclass(frozen=True)
class PlannedGeneration:
    """A request together with what the store keeps about it."""

    planned: PlannedRequest
    request: GenerationRequest
    model_spec: str
    model_fingerprint: str
    template_hash: str
    backend: str = ""
    """Key of the backend that generates it (``routing.backend_key``): the model spec, plus steering if any."""
    route: Route | None = None
    """For a routed configuration: the item's risk score and whether the guardrail was applied."""


def cache_key(
    model_fingerprint: str,
    prompt: str,
    max_new_tokens: int,
    stop: Sequence[str],
    decoding: Decoding,
    sample: int,
) -> str:
    """Hash of everything that determines a generation. Prompt-level interventions are inside ``prompt``."""
    return stable_hash(
        {
            "model": model_fingerprint,
            "prompt": prompt,
            "max_new_tokens": max_new_tokens,
            "stop": list(stop),
            "temperature": decoding.temperature,
            "seed": decoding.seed,
            "sample": sample,
        }
    )


def plan(
    configs: Sequence[Configuration],
    items: Sequence[Item],
    backends: Mapping[str, Backend],
    decoding: Decoding,
    classifiers: Mapping[str, RiskScorer] | None = None,
) -> list[PlannedGeneration]:
    """Every (configuration, item, sample) rendered with its model's template, in a fixed order.

    ``backends`` maps ``routing.backend_key`` (the model spec, or spec plus steering) to a backend. A routed
    configuration is resolved per item here: the item's risk under ``classifiers[router.classifier]`` picks the
    guarded or the plain variant, so it shares cache keys with fixed configurations that answer alike."""
    routes = route_items(configs, items, classifiers or {})
    planned = []
    for config in configs:
        for item in items:
            route = routes.get((config.name, item.id))
            effective = config if route is None else guarded(config) if route.guarded else plain(config)
            which = backend_key(effective)
            if which not in backends:
                raise AltaxError(f"no backend loaded for {which!r} (configuration {config.name!r})")
            backend = backends[which]
            rendered = backend.render(build_messages(effective, item))
            max_tokens = decoding.max_tokens_for(item.category)
            stop = tuple(dict.fromkeys(rendered.stop + decoding.stop_for(item.category)))
            for sample in range(decoding.samples):
                key = cache_key(backend.fingerprint, rendered.prompt, max_tokens, stop, decoding, sample)
                seed = decoding.sample_seed(sample)
                planned.append(
                    PlannedGeneration(
                        PlannedRequest(config.name, item.id, key, sample),
                        GenerationRequest(key, rendered.prompt, max_tokens, stop, decoding.temperature, seed),
                        config.model,
                        backend.fingerprint,
                        rendered.template_hash,
                        which,
                        route,
                    )
                )
    return planned
