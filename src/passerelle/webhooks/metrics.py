"""Callback metrics: attempts by outcome, queue depth, age of the oldest pending event."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class CallbackMetrics:
    """The sender's counters and gauges."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "passerelle_callback_attempts",
            "Callback attempts by outcome (delivered, retry, gone, failed, refused)",
            ["outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "passerelle_callback_seconds",
            "Callback request to answer",
            buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0),
            registry=registry,
        )
        self.pending = Gauge(
            "passerelle_callback_queue_depth",
            "Callback events waiting to be sent",
            registry=registry,
        )
        self.oldest = Gauge(
            "passerelle_callback_oldest_pending_seconds",
            "Age of the oldest pending callback event (0 when none)",
            registry=registry,
        )
