"""Risk routing: which variant of a configuration (plain or guarded) answers each item, and the key of the backend
that variant runs on (run/backends.py loads it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from alignment_tax.configs.schema import Configuration, stable_hash
from alignment_tax.errors import AltaxError
from alignment_tax.interventions.prompting import item_text
from alignment_tax.records import Route
from alignment_tax.suite.schema import Item


class RiskScorer(Protocol):
    """What routing needs of a risk classifier (``interventions.risk.RiskClassifier`` is one)."""

    @property
    def fingerprint(self) -> str:
        """Identifies the classifier's weights and calibration."""
        ...

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


def route_items(
    configs: Sequence[Configuration], items: Sequence[Item], classifiers: Mapping[str, RiskScorer]
) -> dict[tuple[str, str], Route]:
    """The routing decision of every (routed configuration, item): the guardrail is on when the classifier's
    risk score of the item's prompt text is at or above the router's threshold. Each text is scored once."""
    routers = {c.name: c.router for c in configs if c.router is not None}
    risks: dict[str, list[float]] = {}
    for name in dict.fromkeys(router.classifier for router in routers.values()):
        if name not in classifiers:
            raise AltaxError(f"no risk classifier {name!r} was loaded for routing")
        risks[name] = [float(r) for r in classifiers[name].scores([item_text(item) for item in items])]
    out = {}
    for config, router in routers.items():
        for item, risk in zip(items, risks[router.classifier], strict=True):
            out[(config, item.id)] = Route(config, item.id, risk, risk >= router.threshold)
    return out
