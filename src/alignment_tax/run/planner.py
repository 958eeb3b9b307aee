"""Plan a run: one request per configuration and item, keyed by everything that determines its answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from alignment_tax.configs.schema import Configuration, Decoding, stable_hash
from alignment_tax.interventions.prompting import build_messages
from alignment_tax.models.base import Backend, GenerationRequest
from alignment_tax.store import PlannedRequest
from alignment_tax.suite.schema import Item


@dataclass(frozen=True)
class PlannedGeneration:
    """A request together with what the store keeps about it."""

    planned: PlannedRequest
    request: GenerationRequest
    model_spec: str
    model_fingerprint: str
    template_hash: str


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
) -> list[PlannedGeneration]:
    """Every (configuration, item, sample) rendered with its model's template, in a fixed order."""
    planned = []
    for config in configs:
        backend = backends[config.model]
        for item in items:
            rendered = backend.render(build_messages(config, item))
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
                    )
                )
    return planned
