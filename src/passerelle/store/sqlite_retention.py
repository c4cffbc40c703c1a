"""SQLite retention purge: old messages go, with everything that hangs on them.

DESIGN 4: messages older than the retention period (`PASSERELLE_RETENTION_DAYS`, 180)
are deleted by a periodic job; their msgids become reusable only then. One call deletes
at most `limit` messages (account by account, oldest first), in one transaction, so
that the writer is never held for long; the caller repeats until a call deletes fewer
than `limit`.
"""

from __future__ import annotations

import json
import sqlite3

from passerelle.store.writer import Writer

_IDS = "(SELECT value FROM json_each(?))"


class RetentionOps:
    """Retention half of the SQLite store (a mixin of `SqliteStore`)."""

    _writer: Writer

    async def purge_before(self, cutoff: float, limit: int) -> int:
        def op(conn: sqlite3.Connection) -> int:
            # account by account, on the (account_id, created_at) index the console uses:
            # an index on created_at alone would cost every accept one more insert
            msgids: list[int] = []
            for (account_id,) in conn.execute("SELECT id FROM accounts ORDER BY id").fetchall():
                msgids += [
                    row[0]
                    for row in conn.execute(
                        "SELECT msgid FROM messages WHERE account_id = ? AND created_at < ?"
                        " ORDER BY created_at LIMIT ?",
                        (account_id, cutoff, limit - len(msgids)),
                    )
                ]
                if len(msgids) >= limit:
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
