"""Prometheus metrics of one application instance (own registry, no global state)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class _WriterCollector(Collector):
    def __init__(self, read: Callable[[], tuple[int, int]]) -> None:
        self._read = read

    def collect(self) -> Iterable[CounterMetricFamily]:
        batches, operations = self._read()
        yield CounterMetricFamily(
            "passerelle_store_commits", "Group-commit transactions committed", value=batches
        )
        yield CounterMetricFamily(
            "passerelle_store_operations",
            "Write operations applied by the writer",
            value=operations,
        )


class _ValueCollector(Collector):
    """One counter read from a callable at each scrape."""

    def __init__(self, name: str, documentation: str, read: Callable[[], int]) -> None:
        self._name = name
        self._documentation = documentation
        self._read = read

    def collect(self) -> Iterable[CounterMetricFamily]:
        yield CounterMetricFamily(self._name, self._documentation, value=self._read())


class Metrics:
    """The counters and histograms the API updates."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call] # no *_created series: they double the output for nothing
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "passerelle_legacy_requests",
            "Legacy API requests by action and answer code (ok = success)",
            ["action", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "passerelle_legacy_request_seconds",
            "Legacy API request latency, from the request to the answer",
            ["action"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0),
            registry=self.registry,
        )
        # labelled children, looked up once per label set (labels() costs microseconds)
        self._counts: dict[tuple[str, str], Counter] = {}
        self._latencies: dict[str, Histogram] = {}

    def observe_request(self, action: str, code: str, seconds: float) -> None:
        """Count one legacy request under (action, code) and record its latency."""
        count = self._counts.get((action, code))
        if count is None:
            count = self._counts[(action, code)] = self.requests.labels(action, code)
        count.inc()
        latency = self._latencies.get(action)
        if latency is None:
            latency = self._latencies[action] = self.latency.labels(action)
        latency.observe(seconds)

    def watch_writer(self, read: Callable[[], tuple[int, int]]) -> None:
        """Export the writer's commit and operation counters."""
        self.registry.register(_WriterCollector(read))

    def watch_counter(self, name: str, documentation: str, read: Callable[[], int]) -> None:
        """Export a counter kept elsewhere (read at each scrape)."""
        self.registry.register(_ValueCollector(name, documentation, read))
