"""PostgreSQL side of `core.transitions`: read what a transition needs, persist its change.

Run inside the transaction of the operation that asked for the transition. The reads
lock the recipients they return (`FOR UPDATE OF r`), so that two processes applying
events to one recipient (a receipt and the receipt deadline, say) take turns and
each sees the other's result. Nothing here decides: the writes, the refund and the
callback event are the `Change`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from passerelle.core.transitions import Change, Finish, Requeue, Submit, Write
from passerelle.store.sqlite_changes import (
    IS_QUEUED,
    PENDING_EVENT,
    QUEUED,
    SUBMITTED,
    Row,
    row_of,
)

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn

_COLUMNS = (
    "SELECT r.id, r.state, m.callback, m.cost / m.recipient_count, m.account_id, r.msgid,"
    " r.dest FROM recipients r JOIN messages m ON m.msgid = r.msgid"
)
_BY_ID = _COLUMNS + " WHERE r.id = $1 FOR NO KEY UPDATE OF r"
# in id order: two transactions locking overlapping sets never deadlock
_BY_IDS = _COLUMNS + " WHERE r.id = ANY($1::bigint[]) ORDER BY r.id FOR NO KEY UPDATE OF r"
_BY_SMSC_ID = (
    _COLUMNS + " WHERE r.smsc_id = $1 AND r.connector = $2 ORDER BY r.id DESC LIMIT 1"
    " FOR NO KEY UPDATE OF r"
)
# one (connector, operator id) at a time: a receipt and the submit_sm_resp of its
# message, recorded by two transactions at once, would each miss the other
_ID_LOCK = (
    "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(c || ' ' || s, 0)"
    " AS k FROM unnest($1::text[], $2::text[]) AS i(c, s)) AS keys ORDER BY k"
)

SUBMIT = (
    "UPDATE recipients SET state = $1, connector = $2, smsc_id = $3, submitted_at = $4,"
    " claimed_until = NULL, attempts = attempts + 1 WHERE id = $5"
)
_REQUEUE = (
    "UPDATE recipients SET state = $1, next_attempt_at = $2, err = $3, claimed_until = NULL,"
    " attempts = attempts + 1 WHERE id = $4"
)
_FINISH = (
    "UPDATE recipients SET state = $1, stat = coalesce($2, stat), err = $3, final_at = $4,"
    " claimed_until = CASE WHEN $5 THEN NULL ELSE claimed_until END WHERE id = $6"
)
_NOTE = "UPDATE recipients SET stat = $1 WHERE id = $2"
_CREDIT = "UPDATE accounts SET credits = credits + $1 WHERE id = $2"
_LEDGER = (
    "INSERT INTO ledger (account_id, at, delta, kind, actor, reason, msgid)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
)
CALLBACK_CHANNEL = "passerelle_callbacks"
_WAKE_SENDERS = f"SELECT pg_notify('{CALLBACK_CHANNEL}', '')"  # delivered at commit
_EVENT = (
    "INSERT INTO callback_events (account_id, msgid, dest, statut, stat, err, occurred_at,"
    " created_at, state, attempts, next_attempt_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, 0, $7)"
)

__all__ = ["IS_QUEUED", "QUEUED", "SUBMIT", "SUBMITTED", "Row"]


async def lock_ids(conn: Conn, pairs: Sequence[tuple[str, str]]) -> None:
    """Hold, until the transaction ends, the lock of each (connector, operator id)."""
    await conn.execute(_ID_LOCK, [c for c, _ in pairs], [s for _, s in pairs])


async def load(conn: Conn, recipient_id: int) -> Row | None:
    """The recipient with this id, locked, or None."""
    r = await conn.fetchrow(_BY_ID, recipient_id)
    return None if r is None else row_of(tuple(r))


async def load_many(conn: Conn, recipient_ids: Sequence[int]) -> dict[int, Row]:
    """The recipients with these ids, locked in id order, by id; missing ones are absent."""
    rows = await conn.fetch(_BY_IDS, list(recipient_ids))
    return {r[0]: row_of(tuple(r)) for r in rows}


async def load_by_smsc_id(conn: Conn, connector: str, smsc_id: str) -> Row | None:
    """The newest recipient that `connector` accepted with `smsc_id`, locked, or None."""
    r = await conn.fetchrow(_BY_SMSC_ID, smsc_id, connector)
    return None if r is None else row_of(tuple(r))


_BY_SMSC_IDS = (
    "SELECT k.c, k.s, x.id FROM unnest($1::text[], $2::text[]) AS k(c, s)"
    " CROSS JOIN LATERAL (SELECT r.id FROM recipients r WHERE r.smsc_id = k.s"
    " AND r.connector = k.c ORDER BY r.id DESC LIMIT 1) AS x"
)


async def load_ids_by_smsc_id(
    conn: Conn, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """The newest recipient id each (connector, operator id) was accepted for, where
    there is one (not locked: `lock_ids` holds the pairs, `load_many` locks the rows)."""
    rows = await conn.fetch(_BY_SMSC_IDS, [c for c, _ in pairs], [s for _, s in pairs])
    return {(r[0], r[1]): r[2] for r in rows}


def _args(row: Row, w: Write) -> tuple[str, tuple[Any, ...]]:
    """The statement of one write and its arguments."""
    if isinstance(w, Submit):
        return SUBMIT, (SUBMITTED, w.connector, w.smsc_id, w.at, row.id)
    if isinstance(w, Requeue):
        return _REQUEUE, (QUEUED, w.next_at, w.err, row.id)
    if isinstance(w, Finish):
        return _FINISH, (int(w.state), w.stat, w.err, w.at, w.release, row.id)
    return _NOTE, (w.stat, row.id)


async def persist_many(conn: Conn, changes: Sequence[tuple[Row, Change]]) -> None:
    """Write many changes with one pipelined statement per run of writes of one kind (in
    their order), then the refunds and the events."""
    group: list[tuple[Any, ...]] = []
    sql = ""
    for row, change in changes:
        for w in change.writes:
            kind, args = _args(row, w)
            if kind != sql and group:
                await conn.executemany(sql, group)
                group = []
            sql = kind
            group.append(args)
    if group:
        await conn.executemany(sql, group)
    refunds = [(row, change.ledger) for row, change in changes if change.ledger is not None]
    if refunds:
        await conn.executemany(_CREDIT, [(e.amount, row.account_id) for row, e in refunds])
        await conn.executemany(
            _LEDGER,
            [
                (row.account_id, e.at, e.amount, e.kind, e.actor, e.reason, row.msgid)
                for row, e in refunds
            ],
        )
    events = [(row, change.callback) for row, change in changes if change.callback is not None]
    if events:
        await conn.executemany(
            _EVENT,
            [
                (row.account_id, row.msgid, row.dest, e.statut, e.stat, e.err, e.at, PENDING_EVENT)
                for row, e in events
            ],
        )
        await conn.execute(_WAKE_SENDERS)


async def persist(conn: Conn, row: Row, change: Change) -> None:
    """Write `change` to `row`: the recipient's fields, then its refund and its event."""
    await persist_many(conn, [(row, change)])
