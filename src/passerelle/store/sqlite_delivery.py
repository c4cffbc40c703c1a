"""SQLite delivery operations: the outbox of recipients and receipts.

A mixin of `SqliteStore`: it uses the store's group-commit writer for every change
and its reader connection for reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from passerelle.core.states import RecipientState
from passerelle.core.transitions import (
    Event,
    Failed,
    Ignored,
    ReceiptArrived,
    SubmitAccepted,
    SubmitRefused,
    apply,
    bare,
)
from passerelle.core.values import DueRecipient, ReceiptMatch
from passerelle.store.sqlite_changes import SUBMIT, load, load_by_smsc_id, load_states, persist
from passerelle.store.writer import Writer

QUEUED = int(RecipientState.QUEUED)
SUBMITTED = int(RecipientState.SUBMITTED)
_EARLY = (
    "SELECT state, stat, err FROM pending_receipts"
    " WHERE connector = ? AND smsc_id = ? ORDER BY id DESC LIMIT 1"
)


def _early(
    conn: sqlite3.Connection, connector: str, smsc_id: str, now: float
) -> ReceiptArrived | None:
    """The receipt kept for (`connector`, `smsc_id`) before its submit was recorded."""
    r = conn.execute(_EARLY, (connector, smsc_id)).fetchone()
    return None if r is None else ReceiptArrived(RecipientState(r[0]), r[1], r[2], now)


def _submitted_many(
    conn: sqlite3.Connection, items: list[tuple[int, str, str, float]]
) -> list[tuple[bool, Any]]:
    """Record a run of submit_sm_resp: the states read in one statement, the plain
    submits written in one; those with a receipt kept early one by one (rare)."""
    kept = conn.execute("SELECT 1 FROM pending_receipts LIMIT 1").fetchone() is not None
    states = load_states(conn, [item[0] for item in items])
    plain: list[tuple[int, str, str, float, int]] = []
    for rid, connector, smsc_id, now in items:
        state = states.get(rid)
        if state is None:
            continue
        early = _early(conn, connector, smsc_id, now) if kept else None
        if early is not None:
            event = SubmitAccepted(connector, smsc_id, now, early)
            after = _submitted_early(conn, rid, RecipientState(state), event)
            if after is not None:
                states[rid] = after
            continue
        # no receipt kept: the outcome depends on the state alone (`reads_message`)
        change = apply(bare(state), SubmitAccepted(connector, smsc_id, now))
        if isinstance(change, Ignored):
            continue
        states[rid] = change.new  # a second submit of it in this run sees that
        plain.append((SUBMITTED, connector, smsc_id, now, rid))
    conn.executemany(SUBMIT, plain)
    return [(True, None)] * len(items)


def _submitted_early(
    conn: sqlite3.Connection, rid: int, state: RecipientState, event: SubmitAccepted
) -> int | None:
    """Record one submit_sm_resp with the receipt kept for its id, the recipient being in
    `state` (an earlier submit of the run may not be written yet); the state after it,
    None when nothing changed."""
    row = load(conn, rid)
    if row is None:
        return None
    change = apply(replace(row.recipient, state=state), event)
    if isinstance(change, Ignored):
        return None
    persist(conn, row, change)
    conn.execute(
        "DELETE FROM pending_receipts WHERE connector = ? AND smsc_id = ?",
        (event.connector, event.smsc_id),
    )
    return change.new


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
            rows = conn.execute(
                "SELECT r.id, r.msgid, r.dest, m.sender, m.sender_type, m.text, m.flash,"
                " r.attempts, m.created_at, r.claimed_until IS NOT NULL"
                " FROM recipients r JOIN messages m ON m.msgid = r.msgid"
                " WHERE r.state = ? AND r.next_attempt_at <= ?"
                " AND (r.claimed_until IS NULL OR r.claimed_until <= ?)"
                " ORDER BY r.next_attempt_at LIMIT ?",
                (QUEUED, now, now, limit),
            ).fetchall()
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
            _submitted_many, item, lambda conn: _submitted_many(conn, [item])[0][1]
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
        receipt = ReceiptArrived(state, stat, err, now)

        def op(conn: sqlite3.Connection) -> ReceiptMatch:
            row = load_by_smsc_id(conn, connector, smsc_id)
            if row is None:
                conn.execute(
                    "INSERT INTO pending_receipts (connector, smsc_id, state, stat, err,"
                    " received_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (connector, smsc_id, int(state), stat, err, now),
                )
                return ReceiptMatch.PENDING
            change = apply(row.recipient, receipt)
            if isinstance(change, Ignored):
                return ReceiptMatch.IGNORED
            persist(conn, row, change)
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
