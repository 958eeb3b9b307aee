"""Risk routing and steered backends: which variant of a configuration answers each item, and on which backend."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from alignment_tax.configs.schema import Configuration, stable_hash
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.prompting import item_text
from alignment_tax.models.base import Backend
from alignment_tax.records import Route
from alignment_tax.suite.schema import Item


class RiskScorer(Protocol):
    """What routing needs of a risk classifier (``interventions.risk.RiskClassifier`` is one)."""

    fingerprint: str

    def scores(self, texts: Sequence[str]) -> list[float]:
        """P(harmful request) of each prompt, in [0, 1]."""
        ...


def plain(config: Configuration) -> Configuration:
    """The configuration without its router: what low-risk items get."""
    return config.model_copy(update={"router": None})


def guarded(config: Configuration) -> Configuration:
    """The configuration with its router's guardrail switched on (its system prompt and steering replace the
    configuration's own), without the router: what high-risk items get."""
    if config.router is None:
        raise ValueError(f"configuration {config.name!r} has no router")
    rail = config.router.guardrail
    update: dict = {"router": None}
    if rail.system_prompt is not None:
        update["system_prompt"] = rail.system_prompt
    if rail.steering is not None:
        update["steering"] = rail.steering
    return config.model_copy(update=update)


def variants(config: Configuration) -> list[Configuration]:
    """The unrouted configurations that answer for ``config``: itself, or its plain and guarded variants."""
    return [config] if config.router is None else [plain(config), guarded(config)]


def backend_key(config: Configuration) -> str:
    """The backend an unrouted configuration runs on: its model spec, with its steering when it has some."""
    if config.steering is None:
        return config.model
    return f"{config.model}#steer:{stable_hash(config.steering.model_dump())[:12]}"


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
        if key not in backends:
            backends[key] = SteeredBackend(backends[variant.model], variant.steering)
    return backends


def route_items(
    configs: Sequence[Configuration], items: Sequence[Item], classifiers: Mapping[str, RiskScorer]
) -> dict[tuple[str, str], Route]:
    """The routing decision of every (routed configuration, item): the guardrail is on when the classifier's
    risk score of the item's prompt text is at or above the router's threshold. Each text is scored once."""
    routed = [c for c in configs if c.router is not None]
    risks: dict[str, list[float]] = {}
    for name in dict.fromkeys(c.router.classifier for c in routed):
        if name not in classifiers:
            raise AltaxError(f"no risk classifier {name!r} was loaded for routing")
        risks[name] = [float(r) for r in classifiers[name].scores([item_text(item) for item in items])]
    out = {}
    for config in routed:
        for item, risk in zip(items, risks[config.router.classifier], strict=True):
            out[(config.name, item.id)] = Route(config.name, item.id, risk, risk >= config.router.threshold)
    return out


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


def load_classifiers(configs: Sequence[Configuration]) -> dict[str, RiskScorer]:
    """The risk classifiers the routed configurations name, each loaded once."""
    names = dict.fromkeys(c.router.classifier for c in configs if c.router is not None)
    if not names:
        return {}
    from alignment_tax.interventions.risk import load_risk_classifier

    return {name: load_risk_classifier(name) for name in names}
