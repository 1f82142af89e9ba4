"""Prometheus metrics, kept in a registry owned by the app (no process-global state)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.connections = Gauge(
            "tk9_connections", "Live viewer connections", ["transport"], registry=r
        )
        self.connections_total = Counter(
            "tk9_connections_opened", "Viewer connections accepted", ["transport"], registry=r
        )
        self.appended = Counter(
            "tk9_events_appended", "Events appended to the log", ["event_type"], registry=r
        )
        self.delivered = Counter(
            "tk9_events_delivered", "Events written to viewers", ["transport"], registry=r
        )
        self.resumes = Counter(
            "tk9_resumes", "Subscriptions resumed from a non-zero cursor", ["transport"], registry=r
        )
        self.resets = Counter(
            "tk9_resets", "Cursors answered with a reset", ["transport", "reason"], registry=r
        )
        self.delivery_lag = Histogram(
            "tk9_delivery_lag_seconds",
            "Time from sending an event to the client's cumulative ack for it",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.unacked = Gauge(
            "tk9_unacked_events",
            "Events delivered but not yet acked, summed over viewers",
            registry=r,
        )
        self.closes = Counter(
            "tk9_server_closes",
            "Connections closed by the server, by close code",
            ["code"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
