"""SQLite delivery operations: the outbox of recipients and receipts.

A mixin of `SqliteStore`: it uses the store's group-commit writer for every change
and its reader connection for reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from passerelle.core.states import RecipientState
from passerelle.store.sqlite_callbacks import add_event
from passerelle.store.values import DueRecipient, ReceiptMatch
from passerelle.store.writer import Writer

QUEUED = int(RecipientState.QUEUED)
SUBMITTED = int(RecipientState.SUBMITTED)
FAILED = int(RecipientState.FAILED)


def apply_receipt(
    conn: sqlite3.Connection,
    recipient_id: int,
    state: RecipientState,
    stat: str,
    err: str | None,
    now: float,
) -> None:
    """Record a receipt's state for a recipient in flight; a final one queues its event."""
    if state.final:
        conn.execute(
            "UPDATE recipients SET state = ?, stat = ?, err = ?, final_at = ? WHERE id = ?",
            (int(state), stat, err, now, recipient_id),
        )
        add_event(conn, recipient_id, state, stat, err, now)
    else:
        conn.execute("UPDATE recipients SET stat = ? WHERE id = ?", (stat, recipient_id))


_SUBMITTED_SQL = (
    "UPDATE recipients SET state = ?, connector = ?, smsc_id = ?, submitted_at = ?,"
    " claimed_until = NULL, attempts = attempts + 1 WHERE id = ? AND state = ?"
)


def _submitted_many(
    conn: sqlite3.Connection, items: list[tuple[int, str, str, float]]
) -> list[tuple[bool, Any]]:
    """Record a run of submit_sm_resp in one statement; apply receipts kept early."""
    conn.executemany(
        _SUBMITTED_SQL,
        [
            (SUBMITTED, connector, smsc_id, now, rid, QUEUED)
            for rid, connector, smsc_id, now in items
        ],
    )
    if conn.execute("SELECT 1 FROM pending_receipts LIMIT 1").fetchone() is not None:
        for recipient_id, connector, smsc_id, now in items:
            early = conn.execute(
                "SELECT id, state, stat, err FROM pending_receipts"
                " WHERE connector = ? AND smsc_id = ? ORDER BY id DESC LIMIT 1",
                (connector, smsc_id),
            ).fetchone()
            if early is not None:
                apply_receipt(conn, recipient_id, RecipientState(early[1]), early[2], early[3], now)
                conn.execute(
                    "DELETE FROM pending_receipts WHERE connector = ? AND smsc_id = ?",
                    (connector, smsc_id),
                )
    return [(True, None)] * len(items)


def _any_prefix(prefixes: Sequence[str]) -> str:
    """SQL true when `dest` starts with one of `prefixes` (see `_prefix_args`)."""
    return "(" + " OR ".join(["substr(dest, 1, ?) = ?"] * len(prefixes)) + ")"


def _prefix_args(prefixes: Sequence[str]) -> list[object]:
    return [arg for prefix in prefixes for arg in (len(prefix), prefix)]


class DeliveryOps:
    """Delivery half of the SQLite store."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def _measure(self, sql: str, args: tuple[object, ...]) -> tuple[Any, ...]:
        raise NotImplementedError

    async def claim_due(self, now: float, lease: float, limit: int) -> list[DueRecipient]:
        def op(conn: sqlite3.Connection) -> list[DueRecipient]:
            rows = conn.execute(
                "SELECT r.id, r.msgid, r.dest, m.sender, m.sender_type, m.text, m.flash,"
                " r.attempts, m.created_at, r.claimed_until IS NOT NULL"
                " FROM recipients r JOIN messages m ON m.msgid = r.msgid"
                " WHERE r.state = ? AND r.next_attempt_at <= ?"
                " AND (r.claimed_until IS NULL OR r.claimed_until <= ?)"
                " ORDER BY r.next_attempt_at LIMIT ?",
                (QUEUED, now, now, limit),
            ).fetchall()
            if rows:
                conn.executemany(
                    "UPDATE recipients SET reclaims = reclaims + (claimed_until IS NOT NULL),"
                    " claimed_until = ? WHERE id = ?",
                    [(now + lease, row[0]) for row in rows],
                )
            return [
                DueRecipient(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], bool(r[9]))
                for r in rows
            ]

        due: list[DueRecipient] = await self._writer.submit(op)
        return due

    async def mark_submitted(
        self, recipient_id: int, connector: str, smsc_id: str, now: float
    ) -> None:
        item = (recipient_id, connector, smsc_id, now)
        await self._writer.submit_batched(
            _submitted_many, item, lambda conn: _submitted_many(conn, [item])[0][1]
        )

    async def mark_retry(self, recipient_id: int, next_at: float, err: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE recipients SET state = ?, next_attempt_at = ?, err = ?,"
                " claimed_until = NULL, attempts = attempts + 1 WHERE id = ? AND state IN (?, ?)",
                (QUEUED, next_at, err, recipient_id, QUEUED, SUBMITTED),
            )

        await self._writer.submit(op)

    async def mark_failed(self, recipient_id: int, err: str, now: float, refund: bool) -> None:
        def op(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE recipients SET state = ?, err = ?, final_at = ?, claimed_until = NULL"
                " WHERE id = ? AND state IN (?, ?)",
                (FAILED, err, now, recipient_id, QUEUED, SUBMITTED),
            )
            if cur.rowcount != 1:
                return
            add_event(conn, recipient_id, RecipientState.FAILED, "FAILED", err[:16], now)
            if not refund:
                return
            row = conn.execute(
                "SELECT m.account_id, m.msgid, m.cost / m.recipient_count FROM recipients r"
                " JOIN messages m ON m.msgid = r.msgid WHERE r.id = ?",
                (recipient_id,),
            ).fetchone()
            account_id, msgid, amount = row
            conn.execute(
                "UPDATE accounts SET credits = credits + ? WHERE id = ?", (amount, account_id)
            )
            conn.execute(
                "INSERT INTO ledger (account_id, at, delta, kind, actor, reason, msgid)"
                " VALUES (?, ?, ?, 'refund', 'dispatcher', ?, ?)",
                (account_id, now, amount, f"not delivered to any operator: {err}", msgid),
            )

        await self._writer.submit(op)

    async def release(self, recipient_ids: Sequence[int], not_before: float | None = None) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE recipients SET claimed_until = NULL, next_attempt_at ="
                " max(next_attempt_at, coalesce(?, 0)) WHERE id = ? AND state = ?",
                [(not_before, rid, QUEUED) for rid in recipient_ids],
            )

        await self._writer.submit(op)

    async def record_receipt(
        self,
        connector: str,
        smsc_id: str,
        state: RecipientState,
        stat: str,
        err: str | None,
        now: float,
    ) -> ReceiptMatch:
        def op(conn: sqlite3.Connection) -> ReceiptMatch:
            row = conn.execute(
                "SELECT id, state FROM recipients WHERE smsc_id = ? AND connector = ?"
                " ORDER BY id DESC LIMIT 1",
                (smsc_id, connector),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO pending_receipts (connector, smsc_id, state, stat, err,"
                    " received_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (connector, smsc_id, int(state), stat, err, now),
                )
                return ReceiptMatch.PENDING
            if RecipientState(row[1]).final:
                return ReceiptMatch.IGNORED
            apply_receipt(conn, row[0], state, stat, err, now)
            return ReceiptMatch.APPLIED

        match: ReceiptMatch = await self._writer.submit(op)
        return match

    async def queue_depth(self) -> int:
        (count,) = await self._measure("SELECT count(*) FROM recipients WHERE state = ?", (QUEUED,))
        return int(count)

    async def count_queued(self, starting: Sequence[str], not_starting: Sequence[str]) -> int:
        if not starting or "" in not_starting:
            return 0
        sql = "SELECT count(*) FROM recipients WHERE state = ? AND " + _any_prefix(starting)  # noqa: S608
        args: list[object] = [QUEUED, *_prefix_args(starting)]
        if not_starting:
            sql += " AND NOT " + _any_prefix(not_starting)
            args += _prefix_args(not_starting)
        (count,) = await self._measure(sql, tuple(args))
        return int(count)

    async def delivery_counts(self) -> dict[RecipientState, int]:
        rows: list[Any] = (
            self._read().execute("SELECT state, count(*) FROM recipients GROUP BY state").fetchall()
        )
        return {RecipientState(state): count for state, count in rows}
