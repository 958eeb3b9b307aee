"""The gateway's Prometheus metrics: requests, refusals and guardrail use by route, risk and latency histograms,
routing time and queue depth, in one registry per gateway."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

RISK_BUCKETS = tuple(i / 10 for i in range(1, 11))
"""Risk scores are probabilities: tenths."""
ROUTING_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
"""Routing (risk scoring) takes milliseconds; the target is under 10 ms."""


def route_label(risk: float | None, guarded: bool) -> str:
    """How a request was answered: ``unrouted`` (its configuration has no router), ``guarded`` or ``plain``."""
    if risk is None:
        return "unrouted"
    return "guarded" if guarded else "plain"


class GatewayMetrics:
    """The counters and histograms one gateway updates, rendered in Prometheus' text format by ``render``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        by_route = ["config", "route"]
        self.requests = Counter(
            "altax_gateway_requests",
            "Requests by configuration, route (guarded, plain, unrouted) and status (ok, error, timeout, rejected).",
            [*by_route, "status"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "altax_gateway_refusals",
            "Answers the refusal detector labelled a refusal (label refusal or partial), by route.",
            [*by_route, "label"],
            registry=self.registry,
        )
        self.risk = Histogram(
            "altax_gateway_risk_score",
            "The router's risk score of each routed prompt.",
            ["config"],
            buckets=RISK_BUCKETS,
            registry=self.registry,
        )
        self.latency = Histogram(
            "altax_gateway_latency_seconds",
            "Seconds from a request's arrival to its answer, by route.",
            by_route,
            registry=self.registry,
        )
        self.routing = Histogram(
            "altax_gateway_routing_seconds",
            "Seconds spent scoring a prompt's risk (waiting for the scorer included).",
            ["config"],
            buckets=ROUTING_BUCKETS,
            registry=self.registry,
        )
        self.queue = Gauge(
            "altax_gateway_queue_depth", "Requests admitted and not yet answered.", registry=self.registry
        )

    def observe(self, config: str, risk: float | None, guarded: bool, status: str, latency_s: float) -> None:
        """Count one finished request."""
        route = route_label(risk, guarded)
        self.requests.labels(config, route, status).inc()
        if status == "ok":
            self.latency.labels(config, route).observe(latency_s)
        if risk is not None:
            self.risk.labels(config).observe(risk)

    def refusal(self, config: str, risk: float | None, guarded: bool, label: str) -> None:
        """Count an answer judged a refusal or a partial refusal."""
        if label in ("refusal", "partial"):
            self.refusals.labels(config, route_label(risk, guarded), label).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
