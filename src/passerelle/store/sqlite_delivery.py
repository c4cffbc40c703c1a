"""SQLite delivery operations: the outbox of recipients and receipts.

A mixin of `SqliteStore`: it uses the store's group-commit writer for every change
and its reader connection for reads. Submit results and receipts are written in runs
(`sqlite_runs`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from passerelle.core.states import RecipientState
from passerelle.core.transitions import Event, Failed, Ignored, SubmitRefused, apply
from passerelle.core.values import DueRecipient, ReceiptMatch
from passerelle.store.sqlite_changes import IS_QUEUED, load, persist
from passerelle.store.sqlite_runs import receipt_one, receipts_many, submitted_many, submitted_one
from passerelle.store.writer import Writer

QUEUED = int(RecipientState.QUEUED)
# the due recipients no claim holds, oldest first, on the partial index of queued ones
CLAIM = (
    "SELECT r.id, r.msgid, r.dest, m.sender, m.sender_type, m.text, m.flash,"  # noqa: S608
    " r.attempts, m.created_at, r.claimed_until IS NOT NULL"
    " FROM recipients r JOIN messages m ON m.msgid = r.msgid"
    f" WHERE r.{IS_QUEUED} AND r.next_attempt_at <= ?"
    " AND (r.claimed_until IS NULL OR r.claimed_until <= ?)"
    " ORDER BY r.next_attempt_at LIMIT ?"
)


def _holds(conn: sqlite3.Connection, recipient_id: int, claim: float) -> bool:
    """True while the claim that ends at `claim` still holds the recipient."""
    row = conn.execute("SELECT claimed_until FROM recipients WHERE id = ?", (recipient_id,))
    found = row.fetchone()
    return found is not None and found[0] == claim


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
            rows = conn.execute(CLAIM, (now, now, limit)).fetchall()
            until = now + lease
            if rows:
                conn.executemany(
                    "UPDATE recipients SET reclaims = reclaims + (claimed_until IS NOT NULL),"
                    " claimed_until = ? WHERE id = ?",
                    [(until, row[0]) for row in rows],
                )
            until = now + lease
            return [
                DueRecipient(
                    r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], bool(r[9]), until
                )
                for r in rows
            ]

        due: list[DueRecipient] = await self._writer.submit(op)
        return due

    async def mark_submitted(
        self, recipient_id: int, connector: str, smsc_id: str, now: float
    ) -> None:
        item = (recipient_id, connector, smsc_id, now)
        await self._writer.submit_batched(
            submitted_many, item, lambda conn: submitted_one(conn, item)
        )

    async def _transition(
        self, recipient_id: int, event: Event, claim: float | None = None
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            if claim is not None and not _holds(conn, recipient_id, claim):
                return  # another claim took it since: that worker decides
            row = load(conn, recipient_id)
            if row is None:
                return
            change = apply(row.recipient, event)
            if not isinstance(change, Ignored):
                persist(conn, row, change)

        await self._writer.submit(op)

    async def mark_retry(
        self, recipient_id: int, next_at: float, err: str, claim: float | None = None
    ) -> None:
        await self._transition(recipient_id, SubmitRefused(err, next_at), claim)

    async def mark_failed(
        self, recipient_id: int, err: str, now: float, refund: bool, claim: float | None = None
    ) -> None:
        await self._transition(recipient_id, Failed(err, now, refund), claim)

    async def release(
        self,
        recipient_ids: Sequence[int],
        not_before: float | None = None,
        claim: float | None = None,
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE recipients SET claimed_until = NULL, next_attempt_at ="
                " max(next_attempt_at, coalesce(?, 0)) WHERE id = ? AND state = ?"
                " AND (? IS NULL OR claimed_until = ?)",
                [(not_before, rid, QUEUED, claim, claim) for rid in recipient_ids],
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
        item = (connector, smsc_id, state, stat, err, now)
        match: ReceiptMatch = await self._writer.submit_batched(
            receipts_many, item, lambda conn: receipt_one(conn, item)
        )
        return match

    async def queue_depth(self) -> int:
        sql = f"SELECT count(*) FROM recipients WHERE {IS_QUEUED}"  # noqa: S608
        (count,) = await self._measure(sql, ())
        return int(count)

    async def count_queued(self, starting: Sequence[str], not_starting: Sequence[str]) -> int:
        if not starting or "" in not_starting:
            return 0
        sql = f"SELECT count(*) FROM recipients WHERE {IS_QUEUED} AND " + _any_prefix(starting)  # noqa: S608
        args: list[object] = [*_prefix_args(starting)]
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
