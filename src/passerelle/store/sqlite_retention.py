"""SQLite retention purge: old messages go, with everything that hangs on them.

Messages older than the retention period (`PASSERELLE_RETENTION_DAYS`, 180)
are deleted by a periodic job; their msgids become reusable only then. A message is
purged only once it is done: no recipient still waiting to be handed to an operator
(queued, perhaps claimed by the dispatcher: it was paid for and may still be refunded)
and no callback event still pending (being sent or retried). Everything else older
than the cutoff goes, whatever the operator said.

One call deletes, in one transaction, at most `limit` messages and about
`RECIPIENT_BUDGET` recipients (at least one message), account by account, oldest
first, so that the writer is never held for long; the caller repeats until a call
deletes nothing.
"""

from __future__ import annotations

import json
import sqlite3

from passerelle.core.states import RecipientState
from passerelle.core.values import CallbackState
from passerelle.store.writer import Writer

RECIPIENT_BUDGET = 10_000  # recipients deleted per transaction (~15 ms of writer time)
_IDS = "(SELECT value FROM json_each(?))"
# Old enough and done. The unary `+` keeps SQLite off the queue indexes
# (`recipients_queued`, `callback_events_due`) in the subqueries: left to itself it
# scanned every queued recipient for each candidate message (seconds per batch with a
# queue backlog), where the msgid indexes answer at once (test_store_retention_contract
# checks the plan).
CANDIDATES = (
    "SELECT m.msgid, m.recipient_count FROM messages m"
    " WHERE m.account_id = ? AND m.created_at < ?"
    " AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.msgid = m.msgid AND +r.state = ?)"
    " AND NOT EXISTS"
    " (SELECT 1 FROM callback_events e WHERE e.msgid = m.msgid AND +e.state = ?)"
    " ORDER BY m.created_at LIMIT ?"
)


class RetentionOps:
    """Retention half of the SQLite store (a mixin of `SqliteStore`)."""

    _writer: Writer

    async def purge_before(self, cutoff: float, limit: int) -> int:
        queued, pending = int(RecipientState.QUEUED), int(CallbackState.PENDING)

        def op(conn: sqlite3.Connection) -> int:
            # account by account, on the (account_id, created_at) index the console uses:
            # an index on created_at alone would cost every accept one more insert
            msgids: list[int] = []
            recipients = 0
            for (account_id,) in conn.execute("SELECT id FROM accounts ORDER BY id").fetchall():
                rows = conn.execute(
                    CANDIDATES, (account_id, cutoff, queued, pending, limit - len(msgids))
                )
                for msgid, count in rows:
                    if msgids and recipients + count > RECIPIENT_BUDGET:
                        break
                    msgids.append(msgid)
                    recipients += count
                else:
                    if len(msgids) < limit:
                        continue
                break
            if msgids:
                ids = json.dumps(msgids)
                conn.execute(
                    "DELETE FROM callback_attempts WHERE event_id IN"  # noqa: S608
                    f" (SELECT id FROM callback_events WHERE msgid IN {_IDS})",
                    (ids,),
                )
                conn.execute(f"DELETE FROM callback_events WHERE msgid IN {_IDS}", (ids,))  # noqa: S608
                conn.execute(f"DELETE FROM recipients WHERE msgid IN {_IDS}", (ids,))  # noqa: S608
                conn.execute(f"DELETE FROM messages WHERE msgid IN {_IDS}", (ids,))  # noqa: S608
            # receipts kept for operator ids no submission ever matched
            conn.execute("DELETE FROM pending_receipts WHERE received_at < ?", (cutoff,))
            return len(msgids)

        purged: int = await self._writer.submit(op)
        return purged
