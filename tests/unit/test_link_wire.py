"""The SMPP link's wire: what it writes, and when."""

from __future__ import annotations

import asyncio

from passerelle.core.values import Connector
from passerelle.delivery.link import Link, Wire
from passerelle.smpp.frame import encode
from passerelle.smpp.pdu import BindKind, Unbind, UnbindResp
from passerelle.smpp.session import Session, State


class FakeTransport:
    def __init__(self) -> None:
        self.written = b""
        self.closing = False

    def write(self, data: bytes) -> None:
        assert not self.closing
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:  # a real transport still sends what was written before close()
        self.closing = True


async def test_an_operator_unbind_is_answered_before_the_close() -> None:
    """An operator's unbind gets its unbind_resp written before the connection closes."""
    link = Link(Connector("op", "127.0.0.1", 1, "x", "y", window=10), lambda w, p: None)
    session = Session(10, 10.0, 30.0, link.clock())
    session.state = State.BOUND
    wire = Wire(link, session, BindKind.TRANSCEIVER)
    transport = FakeTransport()
    wire.connection_made(transport)  # type: ignore[arg-type]
    link._wires.append(wire)
    wire.data_received(encode(Unbind(7)))
    for _ in range(5):
        await asyncio.sleep(0)
    assert transport.closing  # the link closed the connection
    assert transport.written == encode(UnbindResp(7)), transport.written
