"""Delivery metrics (README): submits, latency, receipts, queue depth, window use.

When the delivery runs in a child process (`sidecar.py`), the API process shows the
child's figures for these families (`Relayed`), read from its /metrics at each scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

FAMILIES = frozenset(
    {
        "passerelle_connector_window_in_use",
        "passerelle_connector_bound",
        "passerelle_submits",
        "passerelle_dispatch_claims",
        "passerelle_dispatch_claimed",
        "passerelle_submit_seconds",
        "passerelle_receipts",
        "passerelle_incoming_other",
        "passerelle_possible_duplicates",
        "passerelle_receipt_deadline_expired",
        "passerelle_config_refreshes",
        "passerelle_routes",
        "passerelle_queue_depth",
        "passerelle_unroutable_recipients",
    }
)
"""The metric families of the delivery (`DeliveryMetrics` and the links' gauges)."""


class _LinksCollector(Collector):
    def __init__(self, read: Callable[[], list[tuple[str, int, bool]]]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        window = GaugeMetricFamily(
            "passerelle_connector_window_in_use",
            "Outstanding submit_sm per connector",
            labels=["connector"],
        )
        bound = GaugeMetricFamily(
            "passerelle_connector_bound", "1 when the connector is bound", labels=["connector"]
        )
        for name, in_flight, is_bound in self._read():
            window.add_metric([name], in_flight)
            bound.add_metric([name], int(is_bound))
        yield window
        yield bound


class DeliveryMetrics:
    """Counters and gauges of the dispatcher and the receipt handler."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.submits = Counter(
            "passerelle_submits",
            "submit_sm by result (ok, temporary, permanent, timeout, lost, no_route, gave_up)",
            ["result"],
            registry=registry,
        )
        self.claims = Counter(
            "passerelle_dispatch_claims",
            "Claims of due recipients made by the dispatcher (one store transaction each)",
            registry=registry,
        )
        self.claimed = Counter(
            "passerelle_dispatch_claimed",
            "Recipients taken by the dispatcher's claims",
            registry=registry,
        )
        self.submit_latency = Histogram(
            "passerelle_submit_seconds",
            "submit_sm to submit_sm_resp",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 2.0, 10.0),
            registry=registry,
        )
        self.receipts = Counter(
            "passerelle_receipts",
            "Receipts by operator state and what recording did",
            ["stat", "match"],
            registry=registry,
        )
        self.incoming = Counter(
            "passerelle_incoming_other",
            "Incoming PDUs that are not readable receipts",
            ["kind"],
            registry=registry,
        )
        self.resends = Counter(
            "passerelle_possible_duplicates",
            "Submits of a recipient whose previous claim ended without an outcome "
            "(a crash between submit_sm and recording its answer): the operator may get it twice",
            registry=registry,
        )
        self.expired = Counter(
            "passerelle_receipt_deadline_expired",
            "Submitted recipients made final (EXPIRED, no-receipt) because no receipt came"
            " before PASSERELLE_RECEIPT_DEADLINE_S",
            registry=registry,
        )
        self.refreshes = Counter(
            "passerelle_config_refreshes",
            "Times the connectors and routes were re-read and applied",
            registry=registry,
        )
        self.routes = Gauge(
            "passerelle_routes",
            "Routing rules in force (1 implicit rule when none is stored)",
            registry=registry,
        )
        self.queue_depth = Gauge(
            "passerelle_queue_depth", "Recipients waiting to be submitted", registry=registry
        )
        self.unroutable = Gauge(
            "passerelle_unroutable_recipients",
            "Queued recipients whose matching rules name no bound connector (not stored, "
            "disabled or unbound): they wait; counted at each refresh",
            registry=registry,
        )

    def watch_links(self, read: Callable[[], list[tuple[str, int, bool]]]) -> None:
        """Export (name, in_flight, bound) of every link."""
        self.registry.register(_LinksCollector(read))


class Relayed(Collector):
    """The delivery families as the delivery process last exported them (none until
    `update` is given its /metrics text, and none again when it did not answer)."""

    def __init__(self) -> None:
        self._families: list[Metric] = []

    def update(self, exposition: str | None) -> None:
        """Keep the `FAMILIES` of a Prometheus text exposition (None: keep nothing)."""
        if exposition is None:
            self._families = []
            return
        try:
            parsed = list(text_string_to_metric_families(exposition))
        except ValueError:  # a truncated answer: no figures rather than wrong ones
            parsed = []
        self._families = [family for family in parsed if family.name in FAMILIES]

    def collect(self) -> Iterable[Metric]:
        return list(self._families)
