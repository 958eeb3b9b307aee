"""What a run loads to answer: every backend its configurations need (steered ones sharing one loaded model),
their risk classifiers, and the model identity each configuration records in the store."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from alignment_tax.configs.schema import Configuration
from alignment_tax.interventions.routing import RiskScorer, backend_key, variants
from alignment_tax.models.base import Backend


def load_backends(configs: Sequence[Configuration], load: Callable[[str], Backend]) -> dict[str, Backend]:
    """Every backend the configurations need, by ``backend_key``: each model spec is loaded once with ``load``
    and every steering of it wraps that one loaded model (no copy of the weights)."""
    from alignment_tax.interventions.steering import SteeredBackend

    needed = [v for c in configs for v in variants(c)]
    backends: dict[str, Backend] = {}
    for spec in dict.fromkeys(v.model for v in needed):
        backends[spec] = load(spec)
    for variant in needed:
        key = backend_key(variant)
        if variant.steering is not None and key not in backends:  # unsteered variants run on the model's own
            backends[key] = SteeredBackend(backends[variant.model], variant.steering)
    return backends


def load_classifiers(configs: Sequence[Configuration]) -> dict[str, RiskScorer]:
    """The risk classifiers the routed configurations name, each loaded once."""
    names = dict.fromkeys(c.router.classifier for c in configs if c.router is not None)
    if not names:
        return {}
    from alignment_tax.interventions.risk import load_risk_classifier

    return {name: load_risk_classifier(name) for name in names}


def model_identity(
    config: Configuration, backends: Mapping[str, Backend], classifiers: Mapping[str, RiskScorer]
) -> str:
    """What answers for ``config`` in the store's run record: its backend's fingerprint, or for a routed
    configuration both variants' fingerprints with the classifier's fingerprint and the threshold."""
    if config.router is None:
        return backends[backend_key(config)].fingerprint
    low, high = (backends[backend_key(v)].fingerprint for v in variants(config))
    router = config.router
    return f"routed({low} | {high} if risk>={router.threshold:g} by {classifiers[router.classifier].fingerprint})"
