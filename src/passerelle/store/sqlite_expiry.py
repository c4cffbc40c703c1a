"""SQLite receipt deadline: submitted recipients whose receipt never came become final.

A mixin of `SqliteStore`. The rule is `core.deadline`'s and the change
`core.transitions`' (`DeadlinePassed`); the overdue recipients are read from the
partial index ``recipients_awaiting_receipt`` (submitted ones only, by submit time:
migration 0005), oldest first, at most `limit` per transaction, and each one gets
the change the transition gives (state, stat, err, ``final_at``, its callback event
when the message asked for one), so a receipt arriving later finds a final recipient
and changes nothing.
"""

from __future__ import annotations

import sqlite3

from passerelle.core.deadline import overdue_cutoff
from passerelle.core.states import RecipientState
from passerelle.core.transitions import DeadlinePassed, Ignored, apply
from passerelle.store.sqlite_changes import load_many, persist
from passerelle.store.writer import Writer

# `state = 1` written out (not a parameter): SQLite uses a partial index only when the
# query's WHERE repeats the index's own condition
OVERDUE = (
    "SELECT id FROM recipients INDEXED BY recipients_awaiting_receipt"  # noqa: S608
    f" WHERE state = {int(RecipientState.SUBMITTED)} AND submitted_at < ?"
    " ORDER BY submitted_at LIMIT ?"
)


class ExpiryOps:
    """Receipt-deadline half of the SQLite store."""

    _writer: Writer

    async def expire_overdue(self, now: float, deadline: float, limit: int) -> int:
        cutoff = overdue_cutoff(now, deadline)

        def op(conn: sqlite3.Connection) -> int:
            ids = [rid for (rid,) in conn.execute(OVERDUE, (cutoff, limit)).fetchall()]
            rows = load_many(conn, ids)
            for rid in ids:  # oldest first: their events in that order
                row = rows[rid]
                change = apply(row.recipient, DeadlinePassed(now))
                if not isinstance(change, Ignored):
                    persist(conn, row, change)
            return len(ids)

        expired: int = await self._writer.submit(op)
        return expired
