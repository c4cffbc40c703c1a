"""SQLite callback events: the outbox the webhook sender drains, and its attempt log.

Events are inserted inside the transaction that records a recipient's final state,
when `core.transitions` says so (only for messages sent with callback=1): see
`sqlite_changes.persist`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import Any

from passerelle.core.values import (
    CallbackAttempt,
    CallbackEvent,
    CallbackJob,
    CallbackOutcome,
    CallbackResult,
    CallbackState,
)
from passerelle.store.writer import Writer

PENDING = int(CallbackState.PENDING)
PARK_S = 60.0  # pending events of accounts without a callback URL are looked at this often


def wake_callbacks(conn: sqlite3.Connection, login: str, now: float) -> None:
    """Make an account's pending, unclaimed events due now (its callback URL was set)."""
    conn.execute(
        "UPDATE callback_events SET next_attempt_at = ?"
        " WHERE state = ? AND next_attempt_at > ?"
        " AND (claimed_until IS NULL OR claimed_until <= ?)"
        " AND account_id = (SELECT id FROM accounts WHERE login = ?)",
        (now, PENDING, now, now, login),
    )


class CallbackOps:
    """Callback half of the SQLite store (a mixin of `SqliteStore`)."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def _measure(self, sql: str, args: tuple[object, ...]) -> tuple[Any, ...]:
        raise NotImplementedError

    async def wait_for_callbacks(self, seconds: float) -> bool:
        await asyncio.sleep(seconds)  # one process: the sender polls
        return False

    async def claim_callbacks(self, now: float, lease: float, limit: int) -> list[CallbackJob]:
        select = (
            "SELECT e.id, a.login, a.callback_url, a.callback_method, a.callback_secret,"
            " e.msgid, e.dest, e.statut, e.stat, e.err, e.occurred_at, e.created_at,"
            " e.attempts FROM callback_events e JOIN accounts a ON a.id = e.account_id"
            " WHERE e.state = ? AND e.next_attempt_at <= ? ORDER BY e.next_attempt_at LIMIT ?"
        )

        def op(conn: sqlite3.Connection) -> list[CallbackJob]:
            rows = conn.execute(select, (PENDING, now, limit)).fetchall()
            if any(not row[2] for row in rows):
                # events of accounts without a callback URL: parked in one pass, so that
                # claims do not scan them again and again (`update_account` wakes them)
                conn.execute(
                    "UPDATE callback_events SET next_attempt_at = ?"
                    " WHERE state = ? AND next_attempt_at <= ? AND account_id IN"
                    " (SELECT id FROM accounts WHERE coalesce(callback_url, '') = '')",
                    (now + PARK_S, PENDING, now),
                )
                rows = conn.execute(select, (PENDING, now, limit)).fetchall()
            # the claim moves the next attempt to the end of the lease: claims skip the
            # event until then, and take it again if it was not finished by then
            until = now + lease
            conn.executemany(
                "UPDATE callback_events SET claimed_until = ?, next_attempt_at = ? WHERE id = ?",
                [(until, until, row[0]) for row in rows],
            )
            return [CallbackJob(*(*row, until)) for row in rows]

        jobs: list[CallbackJob] = await self._writer.submit(op)
        return jobs

    async def finish_callbacks(self, results: Sequence[CallbackResult]) -> None:
        attempts = [
            (
                r.event_id,
                r.attempt.at,
                r.attempt.status,
                r.attempt.latency_ms,
                r.attempt.error,
                r.event_id,
            )
            for r in results
        ]
        outcomes = [
            (
                int(r.outcome.state),
                r.attempt.status,
                r.attempt.error,
                r.next_at,
                r.attempt.at if r.outcome is CallbackOutcome.DELIVERED else None,
                r.event_id,
                PENDING,
                r.claim,
            )
            for r in results
        ]

        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                # an event purged meanwhile keeps no orphan attempt
                "INSERT INTO callback_attempts (event_id, at, status, latency_ms, error)"
                " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM callback_events WHERE id = ?)",
                attempts,
            )
            conn.executemany(
                "UPDATE callback_events SET state = ?, attempts = attempts + 1,"
                " claimed_until = NULL, last_status = ?, last_error = ?,"
                " next_attempt_at = coalesce(?, next_attempt_at),"
                " delivered_at = coalesce(?, delivered_at)"
                " WHERE id = ? AND state = ? AND claimed_until = ?",
                outcomes,
            )

        await self._writer.submit(op)

    async def expire_callbacks(self, created_before: float, now: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE callback_events SET state = ?, claimed_until = NULL,"
                " last_error = coalesce(last_error, 'no callback URL') || ' (expired)'"
                " WHERE state = ? AND created_at < ?"
                " AND (claimed_until IS NULL OR claimed_until <= ?)",
                (int(CallbackState.FAILED), PENDING, created_before, now),
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
        count, oldest = await self._measure(
            "SELECT count(*), min(created_at) FROM callback_events WHERE state = ?", (PENDING,)
        )
        return int(count), oldest
