"""In-memory twin of the callback events (see `sqlite_callbacks.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from passerelle.core.transitions import CallbackRow
from passerelle.core.values import (
    Account,
    CallbackAttempt,
    CallbackEvent,
    CallbackJob,
    CallbackOutcome,
    CallbackResult,
    CallbackState,
)


@dataclass
class EventRow:
    """One event's fields."""

    id: int
    account_id: int
    msgid: int
    dest: str
    statut: int
    stat: str
    err: str | None
    occurred_at: float
    state: CallbackState = CallbackState.PENDING
    attempts: int = 0
    next_attempt_at: float = 0.0
    claimed_until: float | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: float | None = None
    tries: list[CallbackAttempt] = field(default_factory=list)


@dataclass
class MemoryCallbacks:
    """Callback half of the in-memory store."""

    events: dict[int, EventRow] = field(default_factory=dict)
    last_event_id: int = 0

    def _account_by_id(self, account_id: int) -> Account:
        raise NotImplementedError

    def add_event(
        self,
        account_id: int,
        msgid: int,
        dest: str,
        event: CallbackRow,
    ) -> None:
        """Queue an event (`core.transitions` decided there is one)."""
        self.last_event_id += 1  # never reused, even after a purge
        event_id = self.last_event_id
        self.events[event_id] = EventRow(
            event_id,
            account_id,
            msgid,
            dest,
            event.statut,
            event.stat,
            event.err,
            event.at,
            next_attempt_at=event.at,
        )

    async def wait_for_callbacks(self, seconds: float) -> bool:
        await asyncio.sleep(seconds)  # one process: the sender polls
        return False

    async def claim_callbacks(self, now: float, lease: float, limit: int) -> list[CallbackJob]:
        jobs: list[CallbackJob] = []
        for e in sorted(self.events.values(), key=lambda e: e.next_attempt_at):
            if len(jobs) >= limit:
                break
            account = self._account_by_id(e.account_id)
            if (
                e.state is not CallbackState.PENDING
                or e.next_attempt_at > now
                or not account.callback_url
            ):
                continue
            e.claimed_until = e.next_attempt_at = now + lease
            jobs.append(
                CallbackJob(
                    e.id,
                    account.login,
                    account.callback_url,
                    account.callback_method,
                    account.callback_secret,
                    e.msgid,
                    e.dest,
                    e.statut,
                    e.stat,
                    e.err,
                    e.occurred_at,
                    e.occurred_at,
                    e.attempts,
                    now + lease,
                )
            )
        return jobs

    async def finish_callbacks(self, results: Sequence[CallbackResult]) -> None:
        for r in results:
            e = self.events.get(r.event_id)
            if e is None:
                continue  # purged meanwhile: no orphan attempt, as in SQLite
            e.tries.append(r.attempt)
            if e.state is not CallbackState.PENDING or e.claimed_until != r.claim:
                continue  # a late answer to a lapsed claim changes nothing
            e.state = r.outcome.state
            e.attempts += 1
            e.claimed_until = None
            e.last_status, e.last_error = r.attempt.status, r.attempt.error
            if r.next_at is not None:
                e.next_attempt_at = r.next_at
            if r.outcome is CallbackOutcome.DELIVERED:
                e.delivered_at = r.attempt.at

    def wake_callbacks(self, account_id: int, now: float) -> None:
        """Make an account's pending, unclaimed events due now (its callback URL was set)."""
        for e in self.events.values():
            if (
                e.account_id == account_id
                and e.state is CallbackState.PENDING
                and e.next_attempt_at > now
                and (e.claimed_until is None or e.claimed_until <= now)
            ):
                e.next_attempt_at = now

    async def expire_callbacks(self, created_before: float, now: float) -> int:
        count = 0
        for e in self.events.values():
            if (
                e.state is CallbackState.PENDING
                and e.occurred_at < created_before
                and (e.claimed_until is None or e.claimed_until <= now)
            ):
                e.state, e.claimed_until = CallbackState.FAILED, None
                e.last_error = (e.last_error or "no callback URL") + " (expired)"
                count += 1
        return count

    async def list_callbacks(
        self, login: str | None, failed_only: bool, limit: int
    ) -> list[CallbackEvent]:
        out: list[CallbackEvent] = []
        for e in sorted(self.events.values(), key=lambda e: -e.id):
            account = self._account_by_id(e.account_id)
            if login is not None and account.login != login:
                continue
            failed = e.state in (CallbackState.FAILED, CallbackState.GONE) or (
                e.state is CallbackState.PENDING and e.attempts > 0
            )
            if failed_only and not failed:
                continue
            out.append(
                CallbackEvent(
                    e.id,
                    account.login,
                    e.msgid,
                    e.dest,
                    e.statut,
                    e.stat,
                    e.state,
                    e.attempts,
                    e.occurred_at,
                    e.next_attempt_at,
                    e.last_status,
                    e.last_error,
                    e.delivered_at,
                )
            )
        return out[:limit]

    async def callback_attempts(self, event_id: int) -> list[CallbackAttempt]:
        e = self.events.get(event_id)
        return list(e.tries) if e is not None else []

    async def replay_callback(self, event_id: int, now: float) -> bool:
        e = self.events.get(event_id)
        if e is None:
            return False
        e.state, e.next_attempt_at, e.claimed_until = CallbackState.PENDING, now, None
        return True

    async def callback_backlog(self) -> tuple[int, float | None]:
        pending = [e.occurred_at for e in self.events.values() if e.state is CallbackState.PENDING]
        return len(pending), min(pending, default=None)
