"""PostgreSQL request-rate counters, shared by every process of the cluster (a mixin of
`PgStore`): one upsert per counted request, in an UNLOGGED table (migration 0009)."""

from __future__ import annotations

from passerelle.core.ratelimit import RequestWindow
from passerelle.store.postgres_base import PgRole

# the SET expressions read the row as it was: a new window starts the count again
_COUNT = (
    "INSERT INTO request_counters (key, start, count) VALUES ($1, $2, 1)"
    " ON CONFLICT (key) DO UPDATE SET start = excluded.start, count = CASE WHEN"
    " request_counters.start = excluded.start THEN request_counters.count + 1 ELSE 1 END"
    " RETURNING count"
)


class PgRequests(PgRole):
    """The request-rate role of the PostgreSQL store."""

    async def count_request(self, window: RequestWindow) -> bool:
        count = await self._pool.fetchval(_COUNT, window.key, window.start)
        return int(count) <= window.limit
