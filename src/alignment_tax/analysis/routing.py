"""How often each routed configuration switched its guardrail on, per item kind (harmful, benign, capability)."""

from __future__ import annotations

from collections.abc import Sequence

from alignment_tax.records import Route
from alignment_tax.suite.schema import Item

KINDS = ("harmful", "benign", "capability")


def route_summary(routes: Sequence[Route], items: Sequence[Item]) -> dict[str, dict[str, dict[str, float | int]]]:
    """Per routed configuration and item kind: items routed (``n``), guarded ones, their share in percent, and
    the mean risk score. Ideally the guardrail fires on harmful items and stays off on benign and capability ones."""
    kind = {item.id: item.kind for item in items}
    out: dict[str, dict[str, dict[str, float | int]]] = {}
    for config in dict.fromkeys(r.config for r in routes):
        mine = [r for r in routes if r.config == config and r.item_id in kind]
        out[config] = {}
        for k in KINDS:
            rows = [r for r in mine if kind[r.item_id] == k]
            if not rows:
                continue
            fired = sum(r.guarded for r in rows)
            out[config][k] = {
                "n": len(rows),
                "guarded": fired,
                "percent": 100 * fired / len(rows),
                "mean_risk": sum(r.risk for r in rows) / len(rows),
            }
    return out
