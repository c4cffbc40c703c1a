"""PostgreSQL retention purge (a mixin of `PgStore`; the SQLite twin, and what a purge
deletes and keeps, is `sqlite_retention.py`).

One call deletes, in one transaction, at most `limit` messages and about
`RECIPIENT_BUDGET` recipients (at least one message), account by account, oldest
first; the caller repeats until a call deletes nothing.

Other processes keep writing while a purge runs, so "done" is decided on rows the
purge holds. It locks its candidate messages as it picks them (purges that run at once
take different messages), then their recipients, then their callback events, and
checks again that none is queued or pending before it deletes. Every lock is taken
`SKIP LOCKED`: a message a worker is busy with (one of its recipients or events
locked) is left for a later call, and a purge never waits, so it never deadlocks with
the workers. A late transition then finds its recipient gone, as after any purge.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from passerelle.core.states import RecipientState
from passerelle.core.values import CallbackState
from passerelle.store.postgres_base import PgRole

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn

RECIPIENT_BUDGET = 10_000  # recipients deleted per transaction
QUEUED, PENDING = int(RecipientState.QUEUED), int(CallbackState.PENDING)

# Old enough and done, account by account (on the (account_id, created_at) index),
# oldest first. The "done" checks look recipients and events up by msgid: `+ 0` keeps
# the planner off the queue indexes (`recipients_queued`, `callback_events_due`),
# which with a queue backlog would scan every queued recipient for each candidate (as
# `sqlite_retention` found).
CANDIDATES = (
    "SELECT m.msgid, m.recipient_count FROM accounts a CROSS JOIN LATERAL"
    " (SELECT m.msgid, m.recipient_count, m.created_at FROM messages m"
    " WHERE m.account_id = a.id AND m.created_at < $1"
    " AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.msgid = m.msgid AND r.state + 0 = $2)"
    " AND NOT EXISTS"
    " (SELECT 1 FROM callback_events e WHERE e.msgid = m.msgid AND e.state + 0 = $3)"
    " ORDER BY m.created_at LIMIT $4 FOR UPDATE OF m SKIP LOCKED) m"
    " ORDER BY a.id, m.created_at LIMIT $4"
)
_LOCK_RECIPIENTS = (
    "SELECT msgid, state FROM recipients WHERE msgid = ANY($1::bigint[]) FOR UPDATE SKIP LOCKED"
)
_LOCK_EVENTS = (
    "SELECT msgid, state FROM callback_events WHERE msgid = ANY($1::bigint[])"
    " FOR UPDATE SKIP LOCKED"
)
_COUNT_EVENTS = (
    "SELECT msgid, count(*) FROM callback_events WHERE msgid = ANY($1::bigint[]) GROUP BY msgid"
)
_DELETE = (
    "DELETE FROM callback_attempts WHERE event_id IN"
    " (SELECT id FROM callback_events WHERE msgid = ANY($1::bigint[]))",
    "DELETE FROM callback_events WHERE msgid = ANY($1::bigint[])",
    "DELETE FROM recipients WHERE msgid = ANY($1::bigint[])",
    "DELETE FROM messages WHERE msgid = ANY($1::bigint[])",
)

_STRAY_RECEIPTS = (
    "DELETE FROM pending_receipts WHERE id IN (SELECT id FROM pending_receipts"
    " WHERE received_at < $1 FOR UPDATE SKIP LOCKED)"
)


class PgRetention(PgRole):
    """The retention role of the PostgreSQL store."""

    async def purge_before(self, cutoff: float, limit: int) -> int:
        async with self._tx() as conn:
            rows = await conn.fetch(CANDIDATES, cutoff, QUEUED, PENDING, limit)
            sizes: dict[int, int] = {}
            recipients = 0
            for msgid, count in rows:
                if sizes and recipients + count > RECIPIENT_BUDGET:
                    break
                sizes[msgid] = count
                recipients += count
            msgids = await _still_done(conn, sizes)
            if msgids:
                for sql in _DELETE:
                    await conn.execute(sql, msgids)
            # receipts kept for operator ids no submission ever matched
            await conn.execute(_STRAY_RECEIPTS, cutoff)
        return len(msgids)


async def _still_done(conn: Conn, sizes: dict[int, int]) -> list[int]:
    """Of the candidates (msgid: recipient count), those whose every recipient and event
    this transaction now holds, with none queued or pending."""
    if not sizes:
        return []
    held, busy = await _hold(conn, _LOCK_RECIPIENTS, list(sizes), QUEUED)
    done = [m for m, size in sizes.items() if held[m] == size and m not in busy]
    if not done:
        return []
    held, busy = await _hold(conn, _LOCK_EVENTS, done, PENDING)
    events = {row[0]: row[1] for row in await conn.fetch(_COUNT_EVENTS, done)}
    return [m for m in done if held[m] == events.get(m, 0) and m not in busy]


async def _hold(
    conn: Conn, lock: str, msgids: list[int], busy_state: int
) -> tuple[Counter[int], set[int]]:
    """Lock the rows of `msgids` that no other transaction holds: how many by msgid, and
    the msgids with a row in `busy_state`."""
    held: Counter[int] = Counter()
    busy: set[int] = set()
    for msgid, state in await conn.fetch(lock, msgids):
        held[msgid] += 1
        if state == busy_state:
            busy.add(msgid)
    return held, busy
