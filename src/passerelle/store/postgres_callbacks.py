"""PostgreSQL callback events: the outbox the webhook senders drain, and its attempt log.

A mixin of `PgStore`. Events are inserted by `postgres_changes.persist` in the
transaction that records a recipient's final state. Claims take due events with
`FOR UPDATE SKIP LOCKED` and move their next attempt to the end of the lease, so
several callback workers share the outbox and an event is sent by one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from passerelle.core.values import (
    CallbackAttempt,
    CallbackEvent,
    CallbackJob,
    CallbackOutcome,
    CallbackResult,
    CallbackState,
)
from passerelle.store.postgres_base import PgRole
from passerelle.store.sqlite_callbacks import PARK_S, PENDING

_CLAIM = (
    "WITH due AS (SELECT e.id, e.next_attempt_at AS due_at"
    " FROM callback_events e JOIN accounts a ON a.id = e.account_id"
    " WHERE e.state = $1 AND e.next_attempt_at <= $2 AND coalesce(a.callback_url, '') <> ''"
    " ORDER BY e.next_attempt_at LIMIT $4 FOR UPDATE OF e SKIP LOCKED)"
    " UPDATE callback_events e SET claimed_until = $3, next_attempt_at = $3"
    " FROM due, accounts a WHERE e.id = due.id AND a.id = e.account_id"
    " RETURNING e.id, a.login, a.callback_url, a.callback_method, a.callback_secret,"
    " e.msgid, e.dest, e.statut, e.stat, e.err, e.occurred_at, e.created_at, e.attempts,"
    " due.due_at"
)
# events of accounts without a callback URL are never claimed; once the claimable ones
# run short they are parked in one pass, so that claims do not scan them again and
# again (`update_account` wakes them when a URL is set)
_PARK = (
    "UPDATE callback_events SET next_attempt_at = $3"
    " WHERE state = $1 AND next_attempt_at <= $2 AND account_id IN"
    " (SELECT id FROM accounts WHERE coalesce(callback_url, '') = '')"
)
_ATTEMPTS = (
    # an event purged meanwhile keeps no orphan attempt
    "INSERT INTO callback_attempts (event_id, at, status, latency_ms, error)"
    " SELECT i, t, s, l, e FROM unnest($1::bigint[], $2::float8[], $3::int[], $4::float8[],"
    " $5::text[]) AS a(i, t, s, l, e) WHERE EXISTS (SELECT 1 FROM callback_events WHERE id = i)"
)
_FINISH = (
    "UPDATE callback_events SET state = $1, attempts = attempts + 1,"
    " claimed_until = NULL, last_status = $2, last_error = $3,"
    " next_attempt_at = coalesce($4, next_attempt_at),"
    " delivered_at = coalesce($5, delivered_at)"
    " WHERE id = $6 AND state = $7 AND claimed_until = $8"
)


class PgCallbacks(PgRole):
    """The callback role of the PostgreSQL store."""

    async def claim_callbacks(self, now: float, lease: float, limit: int) -> list[CallbackJob]:
        until = now + lease
        async with self._tx() as conn:
            rows = await conn.fetch(_CLAIM, PENDING, now, until, limit)
            if len(rows) < limit:
                await conn.execute(_PARK, PENDING, now, now + PARK_S)
        rows = sorted(rows, key=lambda r: (r[13], r[0]))  # the oldest due first
        return [
            CallbackJob(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                r[9],
                r[10],
                r[11],
                r[12],
                until,
            )
            for r in rows
        ]

    async def finish_callbacks(self, results: Sequence[CallbackResult]) -> None:
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
            for r in sorted(results, key=lambda r: r.event_id)  # locks in id order
        ]
        async with self._tx() as conn:
            await conn.execute(
                _ATTEMPTS,
                [r.event_id for r in results],
                [r.attempt.at for r in results],
                [r.attempt.status for r in results],
                [r.attempt.latency_ms for r in results],
                [r.attempt.error for r in results],
            )
            await conn.executemany(_FINISH, outcomes)

    async def expire_callbacks(self, created_before: float, now: float) -> int:
        status = await self._pool.execute(
            "UPDATE callback_events SET state = $1, claimed_until = NULL,"
            " last_error = coalesce(last_error, 'no callback URL') || ' (expired)'"
            " WHERE state = $2 AND created_at < $3"
            " AND (claimed_until IS NULL OR claimed_until <= $4)",
            int(CallbackState.FAILED),
            PENDING,
            created_before,
            now,
        )
        return int(status.split()[-1])

    async def list_callbacks(
        self, login: str | None, failed_only: bool, limit: int
    ) -> list[CallbackEvent]:
        sql = (
            "SELECT e.id, a.login, e.msgid, e.dest, e.statut, e.stat, e.state, e.attempts,"
            " e.created_at, e.next_attempt_at, e.last_status, e.last_error, e.delivered_at"
            " FROM callback_events e JOIN accounts a ON a.id = e.account_id WHERE true"
        )
        args: list[object] = []
        if login is not None:
            args.append(login)
            sql += f" AND a.login = ${len(args)}"
        if failed_only:
            args += [int(CallbackState.FAILED), int(CallbackState.GONE), PENDING]
            n = len(args)
            sql += f" AND (e.state IN (${n - 2}, ${n - 1}) OR (e.state = ${n} AND e.attempts > 0))"
        args.append(limit)
        rows = await self._pool.fetch(sql + f" ORDER BY e.id DESC LIMIT ${len(args)}", *args)
        return [
            CallbackEvent(r[0], r[1], r[2], r[3], r[4], r[5], CallbackState(r[6]), *tuple(r)[7:])
            for r in rows
        ]

    async def callback_attempts(self, event_id: int) -> list[CallbackAttempt]:
        rows = await self._pool.fetch(
            "SELECT at, status, latency_ms, error FROM callback_attempts WHERE event_id = $1"
            " ORDER BY id",
            event_id,
        )
        return [CallbackAttempt(*tuple(row)) for row in rows]

    async def replay_callback(self, event_id: int, now: float) -> bool:
        status = await self._pool.execute(
            "UPDATE callback_events SET state = $1, next_attempt_at = $2, claimed_until = NULL"
            " WHERE id = $3",
            PENDING,
            now,
            event_id,
        )
        return status == "UPDATE 1"

    async def callback_backlog(self) -> tuple[int, float | None]:
        row = await self._pool.fetchrow(
            "SELECT count(*), min(created_at) FROM callback_events WHERE state = $1", PENDING
        )
        assert row is not None
        return int(row[0]), row[1]
