"""One connector's SMPP link: connect, bind, submit within the window, reconnect.

asyncio glue around the sans-IO `smpp.session.Session`. A `Link` keeps itself bound:
on any loss it reconnects with `core.retry`'s backoff (`RECONNECT`). `submit` waits for a
window slot and the throughput cap, then resolves to a `SubmitResult` (the operator's
answer, or a timeout / lost connection, whose outcome is unknown). Incoming
deliver_sm/data_sm go to `on_incoming(wire, pdu)`, which answers through `wire.respond`
when the receipt is committed. ESME_RTHROTTLED / ESME_RMSGQFUL pause the link (it
reports unhealthy, so routing fails over) with a backoff that resets on success.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from passerelle.core.modes import BindMode
from passerelle.core.retry import RetryPolicy
from passerelle.core.values import Connector
from passerelle.smpp.pdu import BindKind, DataSm, DataSmResp, DeliverSm, DeliverSmResp, SubmitSm
from passerelle.smpp.session import (
    Answered,
    BindFailed,
    Bound,
    Dead,
    Event,
    Incoming,
    PeerUnbound,
    Session,
    State,
    TimedOut,
    Unbound,
)
from passerelle.smpp.status import is_throttle, name_of

log = logging.getLogger("passerelle.smpp")

# waits between connection attempts: 0.25-0.5 s after the first failure, doubling, up
# to 15-30 s (core.retry's equal jitter); reset once a bind succeeds
RECONNECT = RetryPolicy(base=0.5, factor=2.0, max_delay=30.0)
CLAIM_ENDING = "claim ending"  # a submit not sent: its recipient's claim was about to end
THROTTLE_MIN = 0.2
THROTTLE_MAX = 10.0


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The outcome of one submit_sm: a status and id, or `error` when unknown."""

    status: int | None
    message_id: str | None = None
    error: str | None = None  # "timeout" or "connection lost": the operator may have it


class Wire(asyncio.Protocol):
    """One TCP connection and its session."""

    def __init__(self, link: Link, session: Session, role: BindKind) -> None:
        self.link = link
        self.session = session
        self.role = role
        self.transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self.closed = self._loop.create_future()
        self._flush_due = False  # a `flush_soon` is scheduled

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        events = self.session.receive(data, self.link.clock())
        if self.session.state is State.CLOSED:
            self.flush()  # an unbind_resp (or a generic_nack) before `handle` closes
        else:
            self.flush_soon()
        if events:
            self.link.handle(self, events)

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.lost(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def flush(self) -> None:
        """Write whatever the session has to send."""
        data = self.session.outgoing()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def flush_soon(self) -> None:
        """Write what the session has to send at the end of this turn of the event loop:
        the PDUs of one turn (the submits of the slots an answer freed, the answers to a
        run of receipts) leave in one write, not one system call each."""
        if not self._flush_due:
            self._flush_due = True
            self._loop.call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._flush_due = False
        self.flush()

    def respond(self, pdu: DeliverSmResp | DataSmResp) -> None:
        """Answer an incoming PDU on this connection (if it is still open)."""
        if self.session.state is not State.CLOSED:
            self.session.respond(pdu)
            self.flush_soon()

    def close(self) -> None:
        """Close the TCP connection."""
        if self.transport is not None:
            self.transport.close()


IncomingHandler = Callable[[Wire, DeliverSm | DataSm], None]


class Link:
    """A connector's self-healing SMPP link."""

    def __init__(
        self,
        connector: Connector,
        on_incoming: IncomingHandler,
        response_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.connector = connector
        self.name = connector.name
        self.on_incoming = on_incoming
        self.response_timeout = response_timeout
        self.clock = clock
        self._rng = rng
        self._wires: list[Wire] = []
        self._tx: Wire | None = None
        self._slots = asyncio.Semaphore(connector.window)
        self._next_send = 0.0
        self._paused_until = 0.0
        self._throttle = THROTTLE_MIN
        self._stop = asyncio.Event()
        self._bound = asyncio.Event()
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.binds = 0

    # --- state ----------------------------------------------------------------------

    @property
    def bound(self) -> bool:
        """True while the transmitting session is bound."""
        return self._tx is not None and self._tx.session.state is State.BOUND

    def healthy(self) -> bool:
        """Bound and not paused by throttling: routing may choose it."""
        return self.bound and self.clock() >= self._paused_until

    @property
    def in_flight(self) -> int:
        """Submits waiting for their answer."""
        return self._tx.session.in_flight if self._tx is not None else 0

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting (and reconnecting) in the background."""
        self._task = asyncio.create_task(self._run(), name=f"link-{self.name}")

    async def wait_bound(self, within: float) -> bool:
        """Wait until bound; False on timeout."""
        try:
            await asyncio.wait_for(self._bound.wait(), within)
        except TimeoutError:
            return False
        return True

    async def stop(self, grace: float = 2.0) -> None:
        """Unbind gracefully (bounded by `grace`), then close."""
        self._stop.set()
        for wire in self._wires:
            wire.session.unbind(self.clock())
            wire.flush()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(w.closed for w in self._wires)), grace)
        for wire in self._wires:
            wire.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failures = 0  # connection attempts that failed since the last bind
        while not self._stop.is_set():
            try:
                await self._connect()
                failures = 0
                await self._serve()
            except (OSError, TimeoutError, ConnectionError) as error:
                log.warning("connector %s: %s", self.name, error, extra={"connector": self.name})
            finally:
                self._drop_all()
            if self._stop.is_set():
                break
            failures += 1
            await asyncio.sleep(reconnect_delay(failures, self._rng()))

    async def _connect(self) -> None:
        c = self.connector
        roles = (
            [BindKind.TRANSCEIVER]
            if c.bind_mode == BindMode.TRX
            else [BindKind.TRANSMITTER, BindKind.RECEIVER]
        )
        loop = asyncio.get_running_loop()
        for role in roles:
            session = Session(c.window, self.response_timeout, c.enquire_link_s, self.clock())
            wire = Wire(self, session, role)

            def factory(w: Wire = wire) -> Wire:
                return w

            await asyncio.wait_for(
                loop.create_connection(factory, c.host, c.port), self.response_timeout
            )
            self._wires.append(wire)
            session.bind(role, c.system_id, c.password, c.system_type, self.clock())
            wire.flush()
        deadline = self.clock() + self.response_timeout
        while not all(w.session.state is State.BOUND for w in self._wires):
            if any(w.session.state is State.CLOSED for w in self._wires):
                raise ConnectionError("bind refused")
            if self.clock() > deadline:
                raise TimeoutError("no bind_resp")
            await asyncio.sleep(0.01)
        self._tx = self._wires[0]
        self.binds += 1
        self._bound.set()
        self._lost.clear()
        log.info("connector %s bound", self.name, extra={"connector": self.name})

    async def _serve(self) -> None:
        """Run the session timers until a connection is lost."""
        while not self._lost.is_set() and not self._stop.is_set():
            now = self.clock()
            wait = min(w.session.next_deadline() for w in self._wires) - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), max(0.05, min(wait, 1.0)))
            now = self.clock()
            for wire in list(self._wires):
                events = wire.session.tick(now)
                wire.flush()
                if events:
                    self.handle(wire, events)

    def _drop_all(self) -> None:
        for wire in self._wires:
            for token in wire.session.abandon():
                self._slots.release()
                _settle(token, SubmitResult(None, error="connection lost"))
            wire.close()
        self._wires.clear()
        self._tx = None
        self._bound.clear()

    # --- events ---------------------------------------------------------------------

    def handle(self, wire: Wire, events: list[Event]) -> None:
        """Apply session events (called from the protocol and the timer loop)."""
        for event in events:
            if isinstance(event, Answered):
                status = event.pdu.command_status
                message_id = getattr(event.pdu, "message_id", None)
                if status == 0:
                    self._throttle = THROTTLE_MIN
                elif is_throttle(status):
                    self._paused_until = self.clock() + self._throttle
                    self._throttle = min(THROTTLE_MAX, self._throttle * 2)
                self._slots.release()
                _settle(event.token, SubmitResult(status, message_id))
            elif isinstance(event, TimedOut):
                self._slots.release()
                _settle(event.token, SubmitResult(None, error="timeout"))
            elif isinstance(event, Incoming):
                self.on_incoming(wire, event.pdu)
            elif isinstance(event, Dead | PeerUnbound | Unbound | BindFailed):
                if isinstance(event, Dead | BindFailed):
                    log.warning(
                        "connector %s: %s", self.name, event, extra={"connector": self.name}
                    )
                wire.close()
            elif isinstance(event, Bound):
                pass

    def lost(self, wire: Wire) -> None:
        """A connection closed: abandon its submits and reconnect."""
        if wire in self._wires:
            for token in wire.session.abandon():
                self._slots.release()
                _settle(token, SubmitResult(None, error="connection lost"))
        self._lost.set()

    # --- submitting -----------------------------------------------------------------

    async def submit(self, pdu: SubmitSm, not_after: float | None = None) -> SubmitResult:
        """Send one submit_sm and wait for its outcome; not sent (`CLAIM_ENDING`) when its
        window slot (and the throughput cap) let it go only after `not_after` (this
        link's clock)."""
        if not self.bound:
            return SubmitResult(None, error="not bound")
        await self._slots.acquire()
        wire = self._tx
        if wire is None or not wire.session.can_submit:
            self._slots.release()
            return SubmitResult(None, error="not bound")
        throughput = self.connector.throughput
        if throughput > 0:
            now = self.clock()
            start = max(now, self._next_send)
            self._next_send = start + 1.0 / throughput
            if start > now:
                await asyncio.sleep(start - now)
            if wire.session.state is not State.BOUND:
                self._slots.release()
                return SubmitResult(None, error="not bound")
        if not_after is not None and self.clock() > not_after:
            self._slots.release()
            return SubmitResult(None, error=CLAIM_ENDING)
        future: asyncio.Future[SubmitResult] = asyncio.get_running_loop().create_future()
        wire.session.submit(pdu, future, self.clock())
        wire.flush_soon()
        return await future


def reconnect_delay(failures: int, jitter: float) -> float:
    """Seconds to wait before reconnecting after `failures` attempts in a row failed
    (`jitter` in [0, 1))."""
    return RECONNECT.delay(failures, jitter)


def _settle(token: object, result: SubmitResult) -> None:
    if isinstance(token, asyncio.Future) and not token.done():
        token.set_result(result)


def describe(result: SubmitResult) -> str:
    """A short text for logs and the recipient's `err` column."""
    if result.status is None:
        return result.error or "unknown"
    return f"0x{result.status:02X} {name_of(result.status)}"
