"""One ESME connection to the simulator: an asyncio Protocol speaking SMPP 3.4.

The session does the protocol chores (bind state, enquire_link, unbind,
generic_nack for what it cannot read) and hands submits, binds and receipt
acknowledgements to its `Simulator`. Outgoing frames are queued and written in one
`transport.write` per batch: at the end of `data_received`, or at the next loop
iteration when they were queued from elsewhere (a receipt timer, another session).

Errors: a frame that decodes badly gets a generic_nack with the codec's status (none
for a bad response); a framing error (command_length under 16 or over 64 KiB) gets a
generic_nack and the connection is closed, as the stream cannot be resynchronised.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from passerelle.simulator.receipt import Pending
from passerelle.smpp.frame import HEADER, FrameReader, PduError, decode, encode
from passerelle.smpp.pdu import (
    Bind,
    BindKind,
    BindResp,
    CommandId,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    is_response,
)
from passerelle.smpp.status import Status
from passerelle.smpp.tlv import Tlv, TlvParam

if TYPE_CHECKING:
    from passerelle.simulator.server import Simulator

_MAX_SEQUENCE = 0x7FFFFFFF
_INTERFACE_VERSION = (TlvParam.of_int(Tlv.SC_INTERFACE_VERSION, 0x34, 1),)


class SmscSession(asyncio.Protocol):
    """The SMSC side of one connection."""

    def __init__(self, simulator: Simulator) -> None:
        self._sim = simulator
        self._reader = FrameReader()
        self._out: list[bytes] = []
        self._busy = False
        self._flush_soon = False
        self._sequence = 0
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.kind: BindKind | None = None
        self.system_id = ""
        self.receiving = False
        self.closed = False
        self.inflight: dict[int, Pending] = {}

    # -- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self._sim.opened(self)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        self._busy = True
        try:
            for frame in reader:
                if self.closed:
                    break
                self._handle(frame)
        except PduError as exc:
            self._sim.stats.pdu_errors += 1
            self.send(encode(GenericNack(exc.sequence or 0, exc.status)))
            self.close()
        finally:
            self._busy = False
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._out.clear()
        self._sim.closed(self)

    # -- output

    def send(self, frame: bytes) -> None:
        """Queue `frame`; it is written with the rest of the batch."""
        if self.closed:
            return
        self._out.append(frame)
        if not self._busy and not self._flush_soon:
            self._flush_soon = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write the queued frames, in one call."""
        self._flush_soon = False
        out = self._out
        if not out or self.transport is None or self.closed:
            return
        self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()

    def next_sequence(self) -> int:
        """A fresh sequence number for a request of ours."""
        self._sequence = self._sequence % _MAX_SEQUENCE + 1
        return self._sequence

    def close(self) -> None:
        """Write what is queued, then close (FIN)."""
        self.flush()
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection at once."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def unbind(self) -> None:
        """Ask the ESME to unbind (graceful stop); close when it is not bound."""
        if self.kind is None:
            self.close()
            return
        self.kind = None
        self.send(encode(Unbind(self.next_sequence())))
        self.flush()

    # -- PDUs

    def _handle(self, frame: bytes) -> None:
        _, command_id, status, sequence = HEADER.unpack_from(frame)
        if command_id == CommandId.DELIVER_SM_RESP:  # the busiest inbound PDU: header only
            self._sim.answered(self, sequence, status)
            return
        try:
            pdu = decode(frame)
        except PduError as exc:
            self._sim.stats.pdu_errors += 1
            if exc.command_id is None or not is_response(exc.command_id):
                self.send(encode(GenericNack(exc.sequence or 0, exc.status)))
            return
        if isinstance(pdu, SubmitSm):
            if self.kind is None or self.kind is BindKind.RECEIVER:
                self.send(encode(SubmitSmResp(pdu.sequence, Status.ESME_RINVBNDSTS)))
            else:
                self._sim.submit(self, pdu)
        elif isinstance(pdu, EnquireLink):
            self._sim.stats.enquire_links += 1
            self.send(encode(EnquireLinkResp(pdu.sequence)))
        elif isinstance(pdu, Bind):
            self._bind(pdu)
        elif isinstance(pdu, Unbind):
            self._sim.stats.unbinds += 1
            self.send(encode(UnbindResp(pdu.sequence)))
            self._sim.unbound(self)
            self.close()
        elif isinstance(pdu, UnbindResp):
            self.close()
        elif isinstance(pdu, GenericNack):
            self._sim.stats.generic_nacks_received += 1
            self._sim.answered(self, pdu.sequence, pdu.command_status or Status.ESME_RSYSERR)
        elif not is_response(pdu.command_id):
            self.send(encode(GenericNack(pdu.sequence, Status.ESME_RINVCMDID)))

    def _bind(self, pdu: Bind) -> None:
        if self.kind is not None:
            self.send(encode(BindResp(pdu.sequence, Status.ESME_RALYBND, pdu.kind)))
            return
        status = self._sim.authenticate(pdu)
        if status:
            self.send(encode(BindResp(pdu.sequence, status, pdu.kind)))
            return
        self.kind = pdu.kind
        self.system_id = pdu.system_id
        system = self._sim.config.smsc_system_id
        self.send(encode(BindResp(pdu.sequence, 0, pdu.kind, system, _INTERFACE_VERSION)))
        self._sim.bound(self)
