"""Each simulator failure mode → the documented delivery behaviour (real loopback SMPP).

The gateway side is the real store (SQLite file), supervisor, links, dispatcher and
receipt handler; the operator side is the built-in simulator in one of its modes.
Retry delays are shortened by the policy given to the dispatcher, never by sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from passerelle.core.message import SendRequest
from passerelle.core.retry import RetryPolicy
from passerelle.core.routing import Route
from passerelle.core.states import RecipientState as S
from passerelle.core.values import Account, Connector, RecipientStatus
from passerelle.delivery.dispatcher import Dispatcher
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.delivery.receipts import ReceiptHandler
from passerelle.delivery.supervisor import Supervisor
from passerelle.service import Gateway
from passerelle.service_workers import Operations
from passerelle.simulator import IdFormat, Mode, Simulator, SimulatorConfig
from passerelle.store.sqlite import SqliteStore
from tests.support import PASSWORD, make_settings, sqlite_store

FAST = RetryPolicy(base=0.05, factor=2, max_delay=0.2, max_attempts=50)


@dataclass
class Rig:
    """A gateway's delivery side and the simulators it talks to."""

    store: SqliteStore
    gateway: Gateway
    supervisor: Supervisor
    dispatcher: Dispatcher
    receipts: ReceiptHandler
    metrics: DeliveryMetrics
    account: Account
    simulators: dict[str, Simulator]

    async def operator(self, name: str, id_mode: str = "as-is", **options: Any) -> Simulator:
        """Start a simulator and register it as connector `name`."""
        sim = Simulator(SimulatorConfig(port=0, delay=0.0, **options))
        port = await sim.start()
        self.simulators[name] = sim
        await self.store.add_connector(
            Connector(name, "127.0.0.1", port, "gw", "pw", id_mode=id_mode, window=10)
        )
        return sim

    async def go(self) -> None:
        """Apply the connectors and start dispatching."""
        await self.supervisor.refresh()
        for link in self.supervisor.links.values():
            await link.wait_bound(2)
        self.dispatcher.start()

    async def send(self, *dests: str) -> int:
        request = SendRequest(",".join(dests), "Shop", "Bonjour")
        msgid = await self.gateway.send(self.account, request)
        self.dispatcher.notify()
        return msgid

    async def settle(
        self, msgid: int, done: Callable[[list[RecipientStatus]], bool], within: float = 10.0
    ) -> list[RecipientStatus]:
        """Poll the message's recipients until `done` (bounded)."""
        states: list[RecipientStatus] = []
        for _ in range(int(within / 0.05)):
            states = await self.store.message_states(self.account.id, msgid)
            if done(states):
                return states
            await asyncio.sleep(0.05)
        return states


def all_final(states: list[RecipientStatus]) -> bool:
    return bool(states) and all(s.state.final for s in states)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A delivery rig on a fresh SQLite file, with a 100-credit account."""
    store = await sqlite_store(tmp_path / "modes.db")
    settings = make_settings(
        builtin_simulator=False, connector_refresh_s=60, smpp_response_timeout_s=0.5
    )
    metrics = DeliveryMetrics(CollectorRegistry())
    service = Operations(store)
    receipts = ReceiptHandler(service, metrics)
    supervisor = Supervisor(service, settings, metrics, receipts)
    dispatcher = Dispatcher(service, supervisor, metrics, policy=FAST, poll=0.05, lease=5)
    gateway = Gateway(store, settings)
    account = await gateway.create_account("alice", "a@x.fr", PASSWORD, credits=100)
    r = Rig(store, gateway, supervisor, dispatcher, receipts, metrics, account, {})
    yield r
    await dispatcher.stop(1)
    await supervisor.stop()
    await receipts.drain()
    for sim in r.simulators.values():
        await sim.stop()
    gateway.close()
    await store.close()


async def test_normal_delivery_and_undelivered_mix(rig: Rig) -> None:
    """With deliver_ratio 0.5 (by sequence), half end delivered and half undelivered."""
    await rig.operator("op", deliver_ratio=0.5)
    await rig.go()
    msgid = await rig.send(*(f"3361234{i:04d}" for i in range(10)))
    states = await rig.settle(msgid, all_final)
    assert sorted(s.state for s in states).count(S.DELIVERED) == 5
    assert sorted(s.state for s in states).count(S.UNDELIVERED) == 5
    assert await rig.store.balance(rig.account.id) == 90  # no refund once accepted


@pytest.mark.parametrize(
    ("modes", "extra"),
    [
        ({Mode.THROTTLE}, {"every": 2}),
        ({Mode.QUEUE_FULL}, {"every": 2}),
        ({Mode.GENERIC_NACK}, {"every": 3}),
        ({Mode.DISCONNECT_ON_SUBMIT}, {"every": 4}),
        ({Mode.RECEIPT_BEFORE_RESP}, {}),
        ({Mode.TEXT_ONLY_RECEIPTS}, {}),
        ({Mode.MALFORMED_PDU}, {"every": 3}),
    ],
    ids=lambda v: "-".join(m.value for m in v) if isinstance(v, set) else "",
)
async def test_temporary_troubles_end_delivered(
    rig: Rig, modes: set[Mode], extra: dict[str, Any]
) -> None:
    """Throttling, full queues, nacks, disconnects, early or text-only receipts and
    garbage frames are survived: every recipient ends delivered, nothing refunded."""
    await rig.operator("op", modes=frozenset(modes), **extra)
    await rig.go()
    msgid = await rig.send(*(f"3361234{i:04d}" for i in range(8)))
    states = await rig.settle(msgid, all_final, within=20)
    assert [s.state for s in states] == [S.DELIVERED] * 8
    assert await rig.store.balance(rig.account.id) == 92


async def test_no_answer_times_out_and_retries(rig: Rig) -> None:
    """An operator that never answers: the submit times out and the recipient is retried."""
    await rig.operator("op", modes=frozenset({Mode.NO_ANSWER}))
    await rig.go()
    msgid = await rig.send("33612345678")

    async def attempts() -> int:
        row = (
            rig.store._read()
            .execute("SELECT attempts, state FROM recipients WHERE msgid = ?", (msgid,))
            .fetchone()
        )
        return int(row[0]) if row[1] == int(S.QUEUED) else -1

    for _ in range(100):
        if await attempts() >= 2:
            break
        await asyncio.sleep(0.05)
    assert await attempts() >= 2


@pytest.mark.parametrize(
    ("id_format", "id_mode"),
    [
        (IdFormat.HEX_RESP, "dec-to-hex"),
        (IdFormat.HEX_RECEIPT, "hex-to-dec"),
        (IdFormat.HEX, "as-is"),
    ],
)
async def test_id_bases_are_normalised(rig: Rig, id_format: IdFormat, id_mode: str) -> None:
    """Receipt ids in another base than submit_sm_resp match with the connector's id mode."""
    await rig.operator("op", id_mode=id_mode, id_format=id_format, id_start=0xABCDEF)
    await rig.go()
    msgid = await rig.send("33612345678", "33612345679")
    states = await rig.settle(msgid, all_final)
    assert [s.state for s in states] == [S.DELIVERED, S.DELIVERED]


async def test_permanent_rejection_fails_and_refunds(rig: Rig) -> None:
    """A permanent error (ESME_RINVDSTADR) fails the recipient and refunds its credit."""
    await rig.operator("op", modes=frozenset({Mode.REJECT}))
    await rig.go()
    msgid = await rig.send("33612345678", "33612345679")
    states = await rig.settle(msgid, all_final)
    assert [s.state for s in states] == [S.FAILED, S.FAILED]
    assert await rig.store.balance(rig.account.id) == 100
    assert await rig.store.ledger_sum(rig.account.id) == 100


async def test_refused_bind_fails_over(rig: Rig) -> None:
    """A connector whose bind is refused is never chosen: the next one takes the traffic."""
    await rig.operator("a-refuses", modes=frozenset({Mode.REFUSE_BIND}))
    backup = await rig.operator("b-backup")
    await rig.store.add_route(Route(10, "33", ("a-refuses", "b-backup")), at=0)
    await rig.go()
    msgid = await rig.send("33612345678")
    states = await rig.settle(msgid, all_final)
    assert states[0].state is S.DELIVERED
    assert backup.stats.submits_accepted == 1
    assert rig.simulators["a-refuses"].stats.submits == 0


async def test_no_route_fails_and_refunds(rig: Rig) -> None:
    """A number no rule matches fails at once and is refunded."""
    await rig.operator("fr")
    await rig.store.add_route(Route(10, "33", ("fr",)), at=0)
    await rig.go()
    msgid = await rig.send("33612345678", "447700900123")
    states = await rig.settle(msgid, all_final)
    assert {s.dest: s.state for s in states} == {
        "33612345678": S.DELIVERED,
        "447700900123": S.FAILED,
    }
    assert await rig.store.balance(rig.account.id) == 99


async def test_nothing_up_waits_then_delivers(rig: Rig) -> None:
    """Routes match but no connector is bound: the message waits, then goes when one binds."""
    sim = await rig.operator("late")
    await sim.stop()
    await rig.go()
    msgid = await rig.send("33612345678")
    await asyncio.sleep(0.5)
    [state] = await rig.store.message_states(rig.account.id, msgid)
    assert state.state is S.QUEUED
    port = sim.port
    revived = Simulator(SimulatorConfig(port=port))
    await revived.start()
    rig.simulators["late"] = revived
    states = await rig.settle(msgid, all_final, within=15)
    assert states[0].state is S.DELIVERED


async def test_transmitter_plus_receiver_bind(rig: Rig) -> None:
    """A tx+rx connector submits on its transmitter and gets receipts on its receiver."""
    sim = Simulator(SimulatorConfig(port=0))
    port = await sim.start()
    rig.simulators["pair"] = sim
    await rig.store.add_connector(
        Connector("pair", "127.0.0.1", port, "gw", "pw", bind_mode="tx+rx")
    )
    await rig.go()
    msgid = await rig.send("33612345678", "33612345679")
    states = await rig.settle(msgid, all_final)
    assert [s.state for s in states] == [S.DELIVERED, S.DELIVERED]
    assert sim.stats.binds == 2


async def test_graceful_unbind_on_stop(rig: Rig) -> None:
    """Stopping the supervisor unbinds every link before closing it."""
    sim = await rig.operator("op")
    await rig.go()
    await rig.supervisor.stop()
    assert sim.stats.unbinds == 1
