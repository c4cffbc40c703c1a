"""SQLite request-rate counters, shared by every process on the database (a mixin of
`SqliteStore`): one upsert per counted request, through the group-commit writer."""

from __future__ import annotations

import sqlite3

from passerelle.core.ratelimit import RequestWindow
from passerelle.store.writer import Writer

# the SET expressions read the row as it was: a new window starts the count again
COUNT = (
    "INSERT INTO request_counters (key, start, count) VALUES (?, ?, 1)"
    " ON CONFLICT (key) DO UPDATE SET start = excluded.start, count = CASE WHEN"
    " request_counters.start = excluded.start THEN request_counters.count + 1 ELSE 1 END"
    " RETURNING count"
)


class RequestOps:
    """Request-rate half of the SQLite store."""

    _writer: Writer

    async def count_request(self, window: RequestWindow) -> bool:
        def op(conn: sqlite3.Connection) -> int:
            (count,) = conn.execute(COUNT, (window.key, window.start)).fetchone()
            return int(count)

        count: int = await self._writer.submit(op)
        return count <= window.limit
