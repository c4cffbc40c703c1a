"""SQLite callback events: the outbox the webhook sender drains, and its attempt log.

Events are inserted by `add_event` inside the transaction that records a recipient's
final state (see `sqlite_delivery.py`), only for messages sent with callback=1.
"""

from __future__ import annotations

import sqlite3

from passerelle.core.states import RecipientState, statut_of
from passerelle.store.base import (
    CallbackAttempt,
    CallbackEvent,
    CallbackJob,
    CallbackOutcome,
    CallbackState,
)
from passerelle.store.writer import Writer

PENDING = int(CallbackState.PENDING)


def add_event(
    conn: sqlite3.Connection,
    recipient_id: int,
    state: RecipientState,
    stat: str,
    err: str | None,
    now: float,
) -> None:
    """Queue a callback event for a recipient that just became final (if asked for)."""
    conn.execute(
        "INSERT INTO callback_events (account_id, msgid, dest, statut, stat, err, occurred_at,"
        " created_at, state, attempts, next_attempt_at)"
        " SELECT m.account_id, r.msgid, r.dest, ?, ?, ?, ?, ?, ?, 0, ?"
        " FROM recipients r JOIN messages m ON m.msgid = r.msgid"
        " WHERE r.id = ? AND m.callback",
        (statut_of(state), stat, err, now, now, PENDING, now, recipient_id),
    )


class CallbackOps:
    """Callback half of the SQLite store (a mixin of `SqliteStore`)."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def claim_callbacks(self, now: float, lease: float, limit: int) -> list[CallbackJob]:
        def op(conn: sqlite3.Connection) -> list[CallbackJob]:
            rows = conn.execute(
                "SELECT e.id, a.login, a.callback_url, a.callback_method, a.callback_secret,"
                " e.msgid, e.dest, e.statut, e.stat, e.err, e.occurred_at, e.created_at,"
                " e.attempts FROM callback_events e JOIN accounts a ON a.id = e.account_id"
                " WHERE e.state = ? AND e.next_attempt_at <= ?"
                " AND (e.claimed_until IS NULL OR e.claimed_until <= ?)"
                " AND a.callback_url IS NOT NULL AND a.callback_url != ''"
                " ORDER BY e.next_attempt_at LIMIT ?",
                (PENDING, now, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE callback_events SET claimed_until = ? WHERE id = ?",
                [(now + lease, row[0]) for row in rows],
            )
            return [CallbackJob(*row) for row in rows]

        jobs: list[CallbackJob] = await self._writer.submit(op)
        return jobs

    async def finish_callback(
        self,
        event_id: int,
        attempt: CallbackAttempt,
        outcome: CallbackOutcome,
        next_at: float | None,
    ) -> None:
        state = int(outcome.state)
        delivered_at = attempt.at if outcome is CallbackOutcome.DELIVERED else None

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO callback_attempts (event_id, at, status, latency_ms, error)"
                " VALUES (?, ?, ?, ?, ?)",
                (event_id, attempt.at, attempt.status, attempt.latency_ms, attempt.error),
            )
            conn.execute(
                "UPDATE callback_events SET state = ?, attempts = attempts + 1,"
                " claimed_until = NULL, last_status = ?, last_error = ?,"
                " next_attempt_at = coalesce(?, next_attempt_at),"
                " delivered_at = coalesce(?, delivered_at) WHERE id = ?",
                (state, attempt.status, attempt.error, next_at, delivered_at, event_id),
            )

        await self._writer.submit(op)

    async def expire_callbacks(self, created_before: float, now: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE callback_events SET state = ?, claimed_until = NULL,"
                " last_error = coalesce(last_error, 'no callback URL') || ' (expired)'"
                " WHERE state = ? AND created_at < ?",
                (int(CallbackState.FAILED), PENDING, created_before),
            ).rowcount

        expired: int = await self._writer.submit(op)
        return expired

    async def list_callbacks(
        self, login: str | None, failed_only: bool, limit: int
    ) -> list[CallbackEvent]:
        sql = (
            "SELECT e.id, a.login, e.msgid, e.dest, e.statut, e.stat, e.state, e.attempts,"
            " e.created_at, e.next_attempt_at, e.last_status, e.last_error, e.delivered_at"
            " FROM callback_events e JOIN accounts a ON a.id = e.account_id WHERE 1 = 1"
        )
        args: list[object] = []
        if login is not None:
            sql += " AND a.login = ?"
            args.append(login)
        if failed_only:
            sql += " AND (e.state IN (?, ?) OR (e.state = ? AND e.attempts > 0))"
            args += [int(CallbackState.FAILED), int(CallbackState.GONE), PENDING]
        rows = self._read().execute(sql + " ORDER BY e.id DESC LIMIT ?", (*args, limit))
        return [
            CallbackEvent(r[0], r[1], r[2], r[3], r[4], r[5], CallbackState(r[6]), *r[7:])
            for r in rows.fetchall()
        ]

    async def callback_attempts(self, event_id: int) -> list[CallbackAttempt]:
        rows = (
            self._read()
            .execute(
                "SELECT at, status, latency_ms, error FROM callback_attempts WHERE event_id = ?"
                " ORDER BY id",
                (event_id,),
            )
            .fetchall()
        )
        return [CallbackAttempt(*row) for row in rows]

    async def replay_callback(self, event_id: int, now: float) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            return (
                conn.execute(
                    "UPDATE callback_events SET state = ?, next_attempt_at = ?,"
                    " claimed_until = NULL"
                    " WHERE id = ?",
                    (PENDING, now, event_id),
                ).rowcount
                == 1
            )

        done: bool = await self._writer.submit(op)
        return done

    async def callback_backlog(self) -> tuple[int, float | None]:
        count, oldest = (
            self._read()
            .execute(
                "SELECT count(*), min(created_at) FROM callback_events WHERE state = ?", (PENDING,)
            )
            .fetchone()
        )
        return int(count), oldest
