"""The delivery families relayed from the delivery process to the API's /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from passerelle.delivery.metrics import FAMILIES, DeliveryMetrics, Relayed


def child_exposition() -> str:
    """What a delivery process's /metrics shows after one submit on a bound link."""
    registry = CollectorRegistry()
    metrics = DeliveryMetrics(registry)
    metrics.watch_links(lambda: [("sim", 3, True)])
    metrics.submits.labels("ok").inc()
    metrics.queue_depth.set(7)
    return generate_latest(registry).decode()


def test_families_name_every_delivery_metric() -> None:
    """FAMILIES lists exactly the families DeliveryMetrics and its links gauge export."""
    registry = CollectorRegistry()
    DeliveryMetrics(registry).watch_links(lambda: [])
    assert {family.name for family in registry.collect()} == FAMILIES


def test_relayed_shows_the_child_figures_and_nothing_else() -> None:
    """Relayed re-exports the child's delivery families, values and labels kept."""
    relayed = Relayed()
    registry = CollectorRegistry()
    registry.register(relayed)
    relayed.update(child_exposition() + "# TYPE unrelated_total counter\nunrelated_total 5.0\n")
    text = generate_latest(registry).decode()
    assert 'passerelle_submits_total{result="ok"} 1.0' in text
    assert 'passerelle_connector_window_in_use{connector="sim"} 3.0' in text
    assert "passerelle_queue_depth 7.0" in text
    assert "unrelated_total" not in text


def test_relayed_shows_nothing_when_the_child_did_not_answer() -> None:
    """No answer (None) or a garbled one: no delivery figures rather than stale ones."""
    relayed = Relayed()
    relayed.update(child_exposition())
    assert list(relayed.collect())
    relayed.update(None)
    assert list(relayed.collect()) == []
    relayed.update(child_exposition())
    relayed.update('passerelle_submits_total{result="ok" 1.0\n')
    assert list(relayed.collect()) == []
