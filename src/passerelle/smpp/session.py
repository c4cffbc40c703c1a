"""Sans-IO SMPP session of an ESME (our side of a link): sequences, window, timers.

Feed it what the socket read (`receive`), ask it to send (`bind`, `submit`,
`respond`, `unbind`), call `tick` when `next_deadline` passes, and write out whatever
`outgoing` returns. It never blocks and never reads a clock: every call takes `now`.
What happened comes back as events:

- `Bound` / `BindFailed`: the answer to our bind;
- `Answered(token, pdu)`: the response (or generic_nack) to a submit we sent;
- `TimedOut(token)`: no response to that submit within `response_timeout`;
- `Incoming(pdu)`: a deliver_sm or data_sm to handle; answer it with `respond` (after
  the receipt is committed, so an unanswered one is resent by the operator);
- `PeerUnbound`: the operator unbound (already answered); `Unbound`: our unbind was
  answered; `Dead(reason)`: the link cannot go on (enquire_link unanswered, framing
  lost): close the connection.

The window bounds outstanding submit_sm: `submit` refuses when it is full.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from passerelle.exceptions import PduError
from passerelle.exceptions import WindowFull as WindowFull  # defined in the error tree
from passerelle.smpp.frame import HEADER, decode, encode
from passerelle.smpp.frame import FrameReader as _FrameReader
from passerelle.smpp.pdu import (
    Bind,
    BindKind,
    BindResp,
    CommandId,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)

MAX_SEQUENCE = 0x7FFFFFFF


class State(enum.Enum):
    """Where the session stands."""

    OPEN = "open"
    BINDING = "binding"
    BOUND = "bound"
    UNBINDING = "unbinding"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Bound:
    pdu: BindResp


@dataclass(frozen=True, slots=True)
class BindFailed:
    status: int


@dataclass(frozen=True, slots=True)
class Answered:
    token: object
    pdu: SubmitSmResp | GenericNack


@dataclass(frozen=True, slots=True)
class TimedOut:
    token: object


@dataclass(frozen=True, slots=True)
class Incoming:
    pdu: DeliverSm | DataSm


@dataclass(frozen=True, slots=True)
class PeerUnbound:
    pass


@dataclass(frozen=True, slots=True)
class Unbound:
    pass


@dataclass(frozen=True, slots=True)
class Dead:
    reason: str


Event = Bound | BindFailed | Answered | TimedOut | Incoming | PeerUnbound | Unbound | Dead


@dataclass(slots=True)
class _Pending:
    command_id: int
    deadline: float
    token: object


class Session:
    """One ESME session's protocol state (no I/O)."""

    def __init__(
        self, window: int, response_timeout: float, enquire_interval: float, now: float
    ) -> None:
        self.window = window
        self.response_timeout = response_timeout
        self.enquire_interval = enquire_interval
        self.state = State.OPEN
        self._sequence = 0
        self._pending: dict[int, _Pending] = {}
        self._submits = 0
        self._out: list[bytes] = []
        self._reader = _FrameReader()
        self._last_heard = now

    # --- sending ----------------------------------------------------------------------

    def _next(self) -> int:
        self._sequence = self._sequence % MAX_SEQUENCE + 1
        return self._sequence

    def _request(self, command_id: int, body: bytes, token: object, now: float) -> int:
        seq = self._next()
        self._out.append(HEADER.pack(16 + len(body), command_id, 0, seq) + body)
        self._pending[seq] = _Pending(command_id, now + self.response_timeout, token)
        return seq

    def bind(
        self, kind: BindKind, system_id: str, password: str, system_type: str, now: float
    ) -> None:
        """Send a bind of `kind`."""
        pdu = Bind(0, 0, kind, system_id, password, system_type)
        self._request(pdu.command_id, pdu.encode_body(), None, now)
        self.state = State.BINDING

    @property
    def in_flight(self) -> int:
        """Outstanding submit_sm."""
        return self._submits

    @property
    def can_submit(self) -> bool:
        """True when bound with room in the window."""
        return self.state is State.BOUND and self._submits < self.window

    def submit(self, pdu: SubmitSm, token: object, now: float) -> int:
        """Send a submit_sm (its `sequence` is replaced); its sequence number."""
        if not self.can_submit:
            raise WindowFull(f"{self._submits} of {self.window} in flight, state {self.state}")
        self._submits += 1
        return self._request(CommandId.SUBMIT_SM, pdu.encode_body(), token, now)

    def respond(self, pdu: DeliverSmResp | DataSmResp | GenericNack) -> None:
        """Answer an incoming request (pdu.sequence is the request's)."""
        self._out.append(encode(pdu))

    def unbind(self, now: float) -> None:
        """Start a graceful unbind."""
        if self.state in (State.BOUND, State.BINDING):
            self._request(CommandId.UNBIND, b"", None, now)
            self.state = State.UNBINDING

    def outgoing(self) -> bytes:
        """Bytes to write to the connection now (drained)."""
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data

    # --- receiving ----------------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> list[Event]:
        """Feed octets read from the connection; the events they cause."""
        self._last_heard = now
        self._reader.feed(data)
        events: list[Event] = []
        try:
            for frame in self._reader:
                try:
                    pdu = decode(frame)
                except PduError as error:
                    if error.sequence is not None and not (error.command_id or 0) & 0x80000000:
                        self._out.append(encode(GenericNack(error.sequence, error.status)))
                    continue
                self._handle(pdu, events)
        except PduError as error:  # framing lost: nothing after this can be trusted
            self.state = State.CLOSED
            events.append(Dead(f"framing error: {error}"))
        return events

    def _handle(self, pdu: Pdu, events: list[Event]) -> None:
        if isinstance(pdu, SubmitSmResp | GenericNack):
            pending = self._pending.pop(pdu.sequence, None)
            if pending is None:
                return  # late answer to a timed-out request, or a stray nack
            if pending.command_id == CommandId.SUBMIT_SM:
                self._submits -= 1
                events.append(Answered(pending.token, pdu))
            elif isinstance(pdu, GenericNack) and pending.command_id in _BINDS:
                self.state = State.CLOSED
                events.append(BindFailed(pdu.command_status))
        elif isinstance(pdu, DeliverSm | DataSm):
            events.append(Incoming(pdu))
        elif isinstance(pdu, BindResp):
            self._pending.pop(pdu.sequence, None)
            if pdu.command_status == 0:
                self.state = State.BOUND
                events.append(Bound(pdu))
            else:
                self.state = State.CLOSED
                events.append(BindFailed(pdu.command_status))
        elif isinstance(pdu, EnquireLink):
            self._out.append(encode(EnquireLinkResp(pdu.sequence)))
        elif isinstance(pdu, EnquireLinkResp):
            self._pending.pop(pdu.sequence, None)
        elif isinstance(pdu, Unbind):
            self._out.append(encode(UnbindResp(pdu.sequence)))
            self.state = State.CLOSED
            events.append(PeerUnbound())
        elif isinstance(pdu, UnbindResp):
            self._pending.pop(pdu.sequence, None)
            self.state = State.CLOSED
            events.append(Unbound())
        else:  # a request we do not serve as an ESME (bind, submit_sm, ...)
            self._out.append(encode(GenericNack(pdu.sequence, 0x03)))

    # --- timers ------------------------------------------------------------------------

    def next_deadline(self) -> float:
        """When `tick` has something to do at the latest."""
        deadline = self._last_heard + self.enquire_interval
        if self._pending:
            first = next(iter(self._pending.values()))
            deadline = min(deadline, first.deadline)
        return deadline

    def tick(self, now: float) -> list[Event]:
        """Expire unanswered requests and keep the link alive with enquire_link."""
        events: list[Event] = []
        expired = []
        for seq, pending in self._pending.items():
            if pending.deadline > now:
                break  # deadlines are in sending order
            expired.append(seq)
        for seq in expired:
            pending = self._pending.pop(seq)
            if pending.command_id == CommandId.SUBMIT_SM:
                self._submits -= 1
                events.append(TimedOut(pending.token))
            elif pending.command_id == CommandId.ENQUIRE_LINK:
                self.state = State.CLOSED
                events.append(Dead("enquire_link unanswered"))
            elif pending.command_id in _BINDS:
                self.state = State.CLOSED
                events.append(BindFailed(-1))
            elif pending.command_id == CommandId.UNBIND:
                self.state = State.CLOSED
                events.append(Unbound())
        if self.state is State.BOUND and now - self._last_heard >= self.enquire_interval:
            self._request(CommandId.ENQUIRE_LINK, b"", None, now)
            self._last_heard = now
        return events

    def abandon(self) -> list[object]:
        """The connection is gone: tokens of every unanswered submit (outcome unknown)."""
        tokens = [p.token for p in self._pending.values() if p.command_id == CommandId.SUBMIT_SM]
        self._pending.clear()
        self._submits = 0
        self.state = State.CLOSED
        return tokens


_BINDS = frozenset(
    {CommandId.BIND_TRANSCEIVER, CommandId.BIND_TRANSMITTER, CommandId.BIND_RECEIVER}
)
