"""Connector handover between delivery processes never has two binds up at once: a
process gives a connector back only once its link has stopped, and stops its links when
it cannot renew their leases. Two supervisors on one store, real SMPP links to a real
simulator on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from passerelle.core.values import Connector
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.delivery.receipts import ReceiptHandler
from passerelle.delivery.supervisor import Supervisor
from passerelle.service_workers import Operations
from passerelle.simulator import Simulator, SimulatorConfig
from passerelle.store.memory import MemoryStore
from tests.support import make_settings

# refreshes are called by the tests (no watch task runs): these set the lease and the
# margin before its end
SETTINGS = make_settings(builtin_simulator=False, connector_refresh_s=1.0, connector_lease_s=3.0)


def supervisor(store: MemoryStore) -> Supervisor:
    metrics = DeliveryMetrics(CollectorRegistry())
    service = Operations(store)
    return Supervisor(service, SETTINGS, metrics, ReceiptHandler(service, metrics))


@pytest.fixture
async def rig() -> AsyncIterator[tuple[MemoryStore, Simulator]]:
    """A store with two connectors to one simulator."""
    store = MemoryStore()
    await store.open()
    sim = Simulator(SimulatorConfig(port=0, delay=0.0))
    port = await sim.start()
    for name in ("op1", "op2"):
        await store.add_connector(Connector(name, "127.0.0.1", port, name, "pw", window=10))
    yield store, sim
    await sim.stop()
    await store.close()


def bound(s: Supervisor) -> set[str]:
    return {name for name, link in s.links.items() if link.bound}


async def wait_bound(s: Supervisor, names: set[str]) -> None:
    for _ in range(100):
        if bound(s) == names:
            return
        await asyncio.sleep(0.02)
    raise AssertionError((bound(s), names))


async def test_a_connector_is_given_back_only_after_its_link_stopped(
    rig: tuple[MemoryStore, Simulator],
) -> None:
    """The first process binds both; when a second appears, the first stops op2's link
    before op2 is free to claim, and the second binds it at its next refresh."""
    store, _ = rig
    first, second = supervisor(store), supervisor(store)
    try:
        await first.refresh()
        await wait_bound(first, {"op1", "op2"})
        await second.refresh()  # heartbeat: the deal now gives one connector to each
        assert second.links == {}  # both still held by the first
        await first.refresh()  # stops the link it no longer keeps, still holding its lease
        given = {"op1", "op2"} - set(first.links)
        assert len(given) == 1
        owners = await store.connector_owners()
        assert all(owners[name].owner == first.owner for name in given)
        await second.refresh()
        assert second.links == {}  # not free yet: never bound twice
        await first.refresh()  # now gives it back
        await second.refresh()
        await wait_bound(second, given)
        assert set(first.links) | set(second.links) == {"op1", "op2"}
        assert not set(first.links) & set(second.links)
    finally:
        await first.stop()
        await second.stop()


async def test_links_stop_when_their_leases_cannot_be_renewed(
    rig: tuple[MemoryStore, Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refreshes that fail (the database out of reach) leave the links up only until the
    leases are about to end; then every link of the process stops."""
    store, _ = rig
    one = supervisor(store)
    try:
        await one.refresh()
        await wait_bound(one, {"op1", "op2"})

        async def unreachable(*_: object) -> list[str]:
            raise OSError("database out of reach")

        monkeypatch.setattr(store, "heartbeat", unreachable)
        await one._stop_if_lapsing()
        assert set(one.links) == {"op1", "op2"}  # the leases still hold
        await asyncio.sleep(SETTINGS.connector_lease_s - SETTINGS.connector_refresh_s + 0.1)
        await one._stop_if_lapsing()
        assert one.links == {}
    finally:
        await one.stop()


async def test_the_owner_records_its_links_window_use(
    rig: tuple[MemoryStore, Simulator],
) -> None:
    """Once bound, the owner's next refresh records each link's window and in-flight count."""
    store, _ = rig
    s = supervisor(store)
    try:
        await s.refresh()
        await wait_bound(s, {"op1", "op2"})
        await s.refresh()
        owners = await store.connector_owners()
        assert {n: (o.bound, o.in_use, o.window) for n, o in owners.items()} == {
            "op1": (True, 0, 10),
            "op2": (True, 0, 10),
        }
        assert s.window_use() == {"op1": (0, 10), "op2": (0, 10)}
    finally:
        await s.stop()
