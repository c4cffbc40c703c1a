"""PostgreSQL receipt deadline: submitted recipients whose receipt never came become final.

A mixin of `PgStore`; the rule is `core.deadline`'s and the change `core.transitions`'
(`DeadlinePassed`). Overdue recipients come from the partial index
``recipients_awaiting_receipt``, oldest first, at most `limit` per transaction; rows
another transaction holds (a receipt being recorded) are skipped, not waited for:
the next pass sees them final or still overdue.
"""

from __future__ import annotations

from passerelle.core.deadline import overdue_cutoff
from passerelle.core.states import RecipientState
from passerelle.core.transitions import DeadlinePassed, Ignored, apply
from passerelle.store.postgres_base import PgRole
from passerelle.store.postgres_changes import load_many, persist

_OVERDUE = (
    "SELECT id FROM recipients"  # noqa: S608
    f" WHERE state = {int(RecipientState.SUBMITTED)} AND submitted_at < $1"
    " ORDER BY submitted_at LIMIT $2 FOR UPDATE SKIP LOCKED"
)


class PgExpiry(PgRole):
    """The receipt-deadline role of the PostgreSQL store."""

    async def expire_overdue(self, now: float, deadline: float, limit: int) -> int:
        cutoff = overdue_cutoff(now, deadline)
        async with self._tx() as conn:
            ids = [r[0] for r in await conn.fetch(_OVERDUE, cutoff, limit)]
            rows = await load_many(conn, ids)
            for rid in ids:  # oldest first: their events in that order
                row = rows.get(rid)
                if row is None:
                    continue
                change = apply(row.recipient, DeadlinePassed(now))
                if not isinstance(change, Ignored):
                    await persist(conn, row, change)
        return len(ids)
