"""In-memory twin of the delivery operations (see `sqlite_delivery.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from passerelle.core.deadline import is_overdue
from passerelle.core.routing import Route
from passerelle.core.states import RecipientState
from passerelle.core.transitions import (
    CallbackRow,
    Change,
    DeadlinePassed,
    Event,
    Failed,
    Finish,
    Ignored,
    LedgerRow,
    Note,
    Outcome,
    ReceiptArrived,
    Recipient,
    Requeue,
    Submit,
    SubmitAccepted,
    SubmitRefused,
    apply,
)
from passerelle.core.values import (
    Connector,
    DueRecipient,
    ReceiptMatch,
    RouteRow,
    ordered_rows,
)
from passerelle.exceptions import ConnectorInUse, NotFound, UnknownConnector


@dataclass
class OutboxRow:
    """One recipient's delivery fields."""

    id: int
    msgid: int
    account_id: int
    dest: str
    sender: str
    sender_type: int
    text: str
    flash: bool
    created_at: float
    unit_cost: int
    callback: bool = False  # its message asked for callback events
    state: RecipientState = RecipientState.QUEUED
    attempts: int = 0
    next_attempt_at: float = 0.0
    claimed_until: float | None = None
    reclaims: int = 0
    connector: str | None = None
    smsc_id: str | None = None
    submitted_at: float | None = None
    stat: str | None = None
    err: str | None = None
    updated_at: float | None = None


@dataclass
class _Pending:
    state: RecipientState
    stat: str
    err: str | None
    received_at: float


def _write(row: OutboxRow, change: Change) -> None:
    """Set `row`'s fields as `change` says (no refund, no event)."""
    for w in change.writes:
        if isinstance(w, Submit):
            row.state, row.connector, row.smsc_id = RecipientState.SUBMITTED, w.connector, w.smsc_id
            row.submitted_at = row.updated_at = w.at
            row.claimed_until, row.attempts = None, row.attempts + 1
        elif isinstance(w, Requeue):
            row.state, row.next_attempt_at, row.err = RecipientState.QUEUED, w.next_at, w.err
            row.claimed_until, row.attempts = None, row.attempts + 1
        elif isinstance(w, Finish):
            row.state, row.err, row.updated_at = w.state, w.err, w.at
            if w.stat is not None:
                row.stat = w.stat
            if w.release:
                row.claimed_until = None
        elif isinstance(w, Note):
            row.stat = w.stat


@dataclass
class MemoryDelivery:
    """Delivery half of the in-memory store."""

    connectors: dict[str, Connector] = field(default_factory=dict)
    routes: dict[int, Route] = field(default_factory=dict)
    outbox: dict[int, OutboxRow] = field(default_factory=dict)
    pending: dict[tuple[str, str], _Pending] = field(default_factory=dict)
    last_recipient_id: int = 0

    def _credit(self, row: OutboxRow, entry: LedgerRow) -> None:
        raise NotImplementedError

    def _event(self, row: OutboxRow, event: CallbackRow) -> None:
        raise NotImplementedError

    def _persist(self, row: OutboxRow, outcome: Outcome) -> bool:
        """Store `outcome`'s change to `row`; False when it was ignored."""
        if isinstance(outcome, Ignored):
            return False
        _write(row, outcome)
        if outcome.ledger is not None:
            self._credit(row, outcome.ledger)
        if outcome.callback is not None:
            self._event(row, outcome.callback)
        return True

    def _transition(self, recipient_id: int, event: Event, claim: float | None = None) -> None:
        row = self.outbox.get(recipient_id)
        if row is not None and (claim is None or row.claimed_until == claim):
            self._persist(row, apply(_recipient(row), event))

    async def add_connector(self, connector: Connector) -> None:
        self.connectors[connector.name] = connector

    async def list_connectors(self) -> list[Connector]:
        return [self.connectors[n] for n in sorted(self.connectors)]

    async def remove_connector(self, name: str, with_routes: bool = False) -> list[RouteRow]:
        if name not in self.connectors:
            raise NotFound(f"no connector named {name!r}")
        naming = [row for row in await self.list_routes() if name in row.route.connectors]
        if naming and not with_routes:
            raise ConnectorInUse(name, [row.describe() for row in naming])
        for row in naming:
            del self.routes[row.id]
        del self.connectors[name]
        return naming

    async def add_route(self, route: Route, at: float) -> int:
        missing = [n for n in route.connectors if n not in self.connectors]
        if missing:
            raise UnknownConnector(missing)
        route_id = max(self.routes, default=0) + 1
        self.routes[route_id] = route
        return route_id

    async def list_routes(self) -> list[RouteRow]:
        return ordered_rows(self.routes)

    async def remove_route(self, route_id: int) -> bool:
        return self.routes.pop(route_id, None) is not None

    async def claim_due(self, now: float, lease: float, limit: int) -> list[DueRecipient]:
        due = [
            r
            for r in self.outbox.values()
            if r.state is RecipientState.QUEUED
            and r.next_attempt_at <= now
            and (r.claimed_until is None or r.claimed_until <= now)
        ]
        due.sort(key=lambda r: r.next_attempt_at)
        out = []
        for r in due[:limit]:
            reclaimed = r.claimed_until is not None
            r.reclaims += int(reclaimed)
            r.claimed_until = now + lease
            out.append(
                DueRecipient(
                    r.id,
                    r.msgid,
                    r.dest,
                    r.sender,
                    r.sender_type,
                    r.text,
                    r.flash,
                    r.attempts,
                    r.created_at,
                    reclaimed,
                    r.claimed_until,
                )
            )
        return out

    async def mark_submitted(
        self, recipient_id: int, connector: str, smsc_id: str, now: float
    ) -> None:
        row = self.outbox.get(recipient_id)
        if row is None:
            return
        kept = self.pending.get((connector, smsc_id))
        early = None if kept is None else ReceiptArrived(kept.state, kept.stat, kept.err, now)
        change = apply(_recipient(row), SubmitAccepted(connector, smsc_id, now, early))
        if self._persist(row, change) and early is not None:
            del self.pending[(connector, smsc_id)]

    async def mark_retry(
        self, recipient_id: int, next_at: float, err: str, claim: float | None = None
    ) -> None:
        self._transition(recipient_id, SubmitRefused(err, next_at), claim)

    async def mark_failed(
        self, recipient_id: int, err: str, now: float, refund: bool, claim: float | None = None
    ) -> None:
        self._transition(recipient_id, Failed(err, now, refund), claim)

    async def release(
        self,
        recipient_ids: Sequence[int],
        not_before: float | None = None,
        claim: float | None = None,
    ) -> None:
        for rid in recipient_ids:
            row = self.outbox.get(rid)
            held = claim is None or (row is not None and row.claimed_until == claim)
            if row is not None and row.state is RecipientState.QUEUED and held:
                row.claimed_until = None
                if not_before is not None:
                    row.next_attempt_at = max(row.next_attempt_at, not_before)

    async def record_receipt(
        self,
        connector: str,
        smsc_id: str,
        state: RecipientState,
        stat: str,
        err: str | None,
        now: float,
    ) -> ReceiptMatch:
        matches = [
            r for r in self.outbox.values() if r.smsc_id == smsc_id and r.connector == connector
        ]
        if not matches:
            self.pending[(connector, smsc_id)] = _Pending(state, stat, err, now)
            return ReceiptMatch.PENDING
        row = max(matches, key=lambda r: r.id)
        change = apply(_recipient(row), ReceiptArrived(state, stat, err, now))
        return ReceiptMatch.APPLIED if self._persist(row, change) else ReceiptMatch.IGNORED

    async def expire_overdue(self, now: float, deadline: float, limit: int) -> int:
        overdue = sorted(
            (r for r in self.outbox.values() if is_overdue(r.state, r.submitted_at, now, deadline)),
            key=lambda r: (r.submitted_at, r.id),
        )[:limit]
        for row in overdue:
            self._persist(row, apply(_recipient(row), DeadlinePassed(now)))
        return len(overdue)

    async def queue_depth(self) -> int:
        return sum(1 for r in self.outbox.values() if r.state is RecipientState.QUEUED)

    async def count_queued(self, starting: Sequence[str], not_starting: Sequence[str]) -> int:
        return sum(
            1
            for r in self.outbox.values()
            if r.state is RecipientState.QUEUED
            and r.dest.startswith(tuple(starting))
            and not r.dest.startswith(tuple(not_starting))
        )

    async def delivery_counts(self) -> dict[RecipientState, int]:
        counts: dict[RecipientState, int] = {}
        for r in self.outbox.values():
            counts[r.state] = counts.get(r.state, 0) + 1
        return counts


def _recipient(row: OutboxRow) -> Recipient:
    return Recipient(row.state, row.callback, row.unit_cost)
