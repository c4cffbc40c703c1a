"""PostgreSQL delivery operations: the outbox of recipients, submit outcomes, receipts.

A mixin of `PgStore`. Claims take due recipients with `FOR UPDATE SKIP LOCKED` in the
same statement that leases them (`claimed_until`), so any number of dispatchers, in
any number of processes, share the outbox and never claim one recipient twice while
its lease holds. Submit outcomes and receipts are written in runs, one transaction
each (`postgres_runs.py`); a run of submit outcomes and a run of receipts for the same
(connector, operator id) take turns on an advisory lock (`postgres_changes.lock_ids`):
a receipt that arrives before its submit_sm_resp is recorded is kept in
`pending_receipts` and applied by the submit, never lost between two transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from passerelle.core.states import RecipientState
from passerelle.core.transitions import (
    Event,
    Failed,
    Ignored,
    SubmitRefused,
    apply,
)
from passerelle.core.values import DueRecipient, ReceiptMatch
from passerelle.exceptions import StoreError
from passerelle.store.postgres_base import PgRole
from passerelle.store.postgres_batch import RunBatcher
from passerelle.store.postgres_changes import IS_QUEUED, QUEUED, load, persist
from passerelle.store.postgres_runs import Submitted
from passerelle.store.receipt_runs import Receipt

if TYPE_CHECKING:
    pass

_CLAIM = (
    "WITH due AS (SELECT id, claimed_until IS NOT NULL AS reclaimed FROM recipients"  # noqa: S608
    f" WHERE {IS_QUEUED} AND next_attempt_at <= $1"
    " AND (claimed_until IS NULL OR claimed_until <= $1)"
    " ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
    " UPDATE recipients r SET reclaims = r.reclaims + due.reclaimed::int, claimed_until = $2"
    " FROM due, messages m WHERE r.id = due.id AND m.msgid = r.msgid"
    " RETURNING r.id, r.msgid, r.dest, m.sender, m.sender_type, m.text, m.flash,"
    " r.attempts, m.created_at, due.reclaimed, r.next_attempt_at"
)
_RELEASE = (
    "UPDATE recipients SET claimed_until = NULL,"
    " next_attempt_at = greatest(next_attempt_at, coalesce($2::float8, 0))"
    " WHERE id = ANY($1::bigint[]) AND state = $3"
    " AND ($4::float8 IS NULL OR claimed_until = $4)"
)
_CLAIM_OF = "SELECT claimed_until FROM recipients WHERE id = $1"
_MATCHES = "EXISTS (SELECT 1 FROM unnest($1::text[]) AS p WHERE starts_with(dest, p))"


class PgDelivery(PgRole):
    """The delivery role of the PostgreSQL store."""

    async def claim_due(self, now: float, lease: float, limit: int) -> list[DueRecipient]:
        until = now + lease
        rows = await self._pool.fetch(_CLAIM, now, until, limit)
        rows = sorted(rows, key=lambda r: (r[10], r[0]))  # the oldest due first
        return [
            DueRecipient(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], until)
            for r in rows
        ]

    _submits: RunBatcher[Submitted, None] | None = None
    _receipts: RunBatcher[Receipt, ReceiptMatch] | None = None

    def _runs(self) -> tuple[RunBatcher[Submitted, None], RunBatcher[Receipt, ReceiptMatch]]:
        if self._submits is None or self._receipts is None:
            raise StoreError("the store is closed")
        return self._submits, self._receipts

    async def mark_submitted(
        self, recipient_id: int, connector: str, smsc_id: str, now: float
    ) -> None:
        await self._runs()[0].submit((recipient_id, connector, smsc_id, now))

    async def _transition(
        self, recipient_id: int, event: Event, claim: float | None = None
    ) -> None:
        async with self._tx() as conn:
            row = await load(conn, recipient_id)
            if row is None:
                return
            if claim is not None and await conn.fetchval(_CLAIM_OF, recipient_id) != claim:
                return  # another claim took it since: that worker decides
            change = apply(row.recipient, event)
            if not isinstance(change, Ignored):
                await persist(conn, row, change)

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
        await self._pool.execute(_RELEASE, list(recipient_ids), not_before, QUEUED, claim)

    async def record_receipt(
        self,
        connector: str,
        smsc_id: str,
        state: RecipientState,
        stat: str,
        err: str | None,
        now: float,
    ) -> ReceiptMatch:
        return await self._runs()[1].submit((connector, smsc_id, state, stat, err, now))

    async def queue_depth(self) -> int:
        count = await self._pool.fetchval(f"SELECT count(*) FROM recipients WHERE {IS_QUEUED}")  # noqa: S608
        return int(count)

    async def count_queued(self, starting: Sequence[str], not_starting: Sequence[str]) -> int:
        if not starting or "" in not_starting:
            return 0
        sql = f"SELECT count(*) FROM recipients WHERE {IS_QUEUED} AND {_MATCHES}"  # noqa: S608
        args: list[object] = [list(starting)]
        if not_starting:
            sql += " AND NOT " + _MATCHES.replace("$1", "$2")
            args.append(list(not_starting))
        count = await self._pool.fetchval(sql, *args)
        return int(count)

    async def delivery_counts(self) -> dict[RecipientState, int]:
        rows = await self._pool.fetch("SELECT state, count(*) FROM recipients GROUP BY state")
        return {RecipientState(state): count for state, count in rows}
