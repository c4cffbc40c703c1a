"""Delivery cross-checked against an independent SMSC: the `smpp34` package's server.

Our own link, dispatcher and receipt handler talk to a server we did not write, over
loopback: bind, submit_sm, and receipts both with TLVs and as text only.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import smpp34
from prometheus_client import CollectorRegistry

from passerelle.core.message import SendRequest
from passerelle.core.states import RecipientState
from passerelle.core.values import Connector
from passerelle.delivery.dispatcher import Dispatcher
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.delivery.receipts import ReceiptHandler
from passerelle.delivery.supervisor import Supervisor
from passerelle.service import Gateway
from passerelle.service_workers import Operations
from passerelle.store.sqlite import SqliteStore
from tests.support import PASSWORD, make_settings, sqlite_store


def free_port() -> int:
    """A loopback port free right now (smpp34's server cannot report the one it bound)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Smsc:
    """The smpp34 server and what it received."""

    port: int
    tlv_receipts: bool
    submits: list[tuple[str, str, int, int, int]] = field(default_factory=list)


async def serve(server: smpp34.Server, smsc: Smsc) -> None:
    esmes: dict[str, smpp34.Esme] = {}
    counter = 0
    tasks = set()
    while True:
        event = await server.next()
        if isinstance(event, smpp34.Esme):
            esmes[event.session_id] = event
        elif isinstance(event, smpp34.SubmitSmEvent):
            counter += 1
            message_id = f"{counter:08X}"
            smsc.submits.append(
                (
                    event.destination_addr,
                    event.source_addr,
                    event.source_addr_ton,
                    event.registered_delivery,
                    event.data_coding,
                )
            )
            event.accept(message_id)
            esme = esmes[event.session_id]
            stat = "UNDELIV" if event.destination_addr.endswith("9") else "DELIVRD"
            text = (
                f"id:{message_id} sub:001 dlvrd:001 submit date:2611251200 "
                f"done date:2611251201 stat:{stat} err:000 text:hello"
            ).encode()
            tlvs = []
            if smsc.tlv_receipts:
                tlvs = [
                    smpp34.Tlv(0x001E, message_id.encode() + b"\0"),
                    smpp34.Tlv(0x0427, bytes([2 if stat == "DELIVRD" else 5])),
                ]
            task = asyncio.ensure_future(
                esme.deliver_sm(
                    event.source_addr,
                    text,
                    source_addr=event.destination_addr,
                    esm_class=0x04,
                    tlvs=tlvs,
                )
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)


@pytest.fixture(params=[True, False], ids=["tlv-receipts", "text-receipts"])
async def smsc(request: pytest.FixtureRequest) -> AsyncIterator[Smsc]:
    """An smpp34 SMSC on loopback that accepts every submit and sends a receipt."""
    port = free_port()
    server = smpp34.Server("127.0.0.1", port)
    await server.start()
    state = Smsc(port, request.param)
    task = asyncio.create_task(serve(server, state))
    yield state
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    await server.stop()


async def test_submit_and_receipts_through_smpp34(smsc: Smsc, tmp_path: Path) -> None:
    """20 messages reach the smpp34 SMSC; receipts (TLV or text) end them delivered/undelivered."""
    store: SqliteStore = await sqlite_store(tmp_path / "d.db")
    settings = make_settings(builtin_simulator=False, connector_refresh_s=60)
    metrics = DeliveryMetrics(CollectorRegistry())
    service = Operations(store)
    receipts = ReceiptHandler(service, metrics)
    supervisor = Supervisor(service, settings, metrics, receipts)
    dispatcher = Dispatcher(service, supervisor, metrics, poll=0.05)
    gateway = Gateway(store, settings)
    try:
        await store.add_connector(
            Connector("smpp34", "127.0.0.1", smsc.port, "esme", "pw", id_mode="as-is")
        )
        await supervisor.start()
        assert await supervisor.links["smpp34"].wait_bound(5)
        dispatcher.start()
        account = await gateway.create_account("alice", "a@x.fr", PASSWORD, credits=100)
        dests = [f"3361234{i:04d}" for i in range(20)]
        request = SendRequest(",".join(dests), "33611112222", "Été", sender_type="1")
        msgid = await gateway.send(account, request)
        dispatcher.notify()
        for _ in range(200):
            states = await store.message_states(account.id, msgid)
            if all(s.state.final for s in states):
                break
            await asyncio.sleep(0.05)
        by_dest = {s.dest: s.state for s in states}
        assert all(
            by_dest[d]
            is (RecipientState.UNDELIVERED if d.endswith("9") else RecipientState.DELIVERED)
            for d in dests
        ), by_dest
        assert sorted(s[0] for s in smsc.submits) == dests
        assert {s[1:] for s in smsc.submits} == {("33611112222", 1, 1, 0)}
    finally:
        await dispatcher.stop()
        await supervisor.stop()
        await receipts.drain()
        gateway.close()
        await store.close()
