"""PostgreSQL connector ownership (a mixin of `PgStore`; the SQLite twin is
`sqlite_owners.py`): exactly one process binds each connector.

A connector is free when it has no owner row or its lease has ended on the database's
clock (`clock_timestamp()`, the same for every process whatever its host's clock
says); a claim by its owner renews the lease. One claim is one transaction: give back
the names no longer wanted, then `INSERT … ON CONFLICT … DO UPDATE … WHERE` the row is
ours or its lease has ended, which PostgreSQL decides atomically per row, so of several
processes claiming a free connector at once exactly one gets it.

Claims and releases take one transaction-level advisory lock first: they are rare (a
refresh every few seconds per process) and short, and taken one at a time they never
lock each other's rows in opposite orders (a deadlock, and one claim refused, when two
owners give back and take over overlapping names at once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from passerelle.core.values import ConnectorOwner
from passerelle.store.postgres_base import PgRole

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn

# the database's clock, in unix seconds
DB_NOW = "extract(epoch FROM clock_timestamp())::float8"
# the advisory lock that takes claims and releases one at a time (any constant that no
# other lock of the schema uses: "psrl" "own" in ASCII)
OWNERS_LOCK = 0x7073726C_6F776E


class PgOwners(PgRole):
    """The owners role of the PostgreSQL store."""

    async def claim_connectors(
        self,
        names: Iterable[str],
        owner: str,
        lease: float,
        bound: Mapping[str, bool],
        use: Mapping[str, tuple[int, int]] | None = None,
    ) -> frozenset[str]:
        wanted = sorted(set(names))
        async with self._tx() as conn:
            await _one_at_a_time(conn)
            now = await conn.fetchval(f"SELECT {DB_NOW}")
            await conn.execute(
                "DELETE FROM connector_owners WHERE owner = $1 AND name <> ALL($2::text[])",
                owner,
                wanted,
            )
            uses = [(use or {}).get(name, (0, 0)) for name in wanted]
            await conn.execute(
                'INSERT INTO connector_owners (name, owner, until, bound, in_use, "window")'
                " SELECT n, $2, $3, b, u, w"
                " FROM unnest($1::text[], $4::bool[], $6::int[], $7::int[]) AS x(n, b, u, w)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                " until = excluded.until, bound = excluded.bound,"
                ' in_use = excluded.in_use, "window" = excluded."window"'
                " WHERE connector_owners.owner = excluded.owner"
                " OR connector_owners.until <= $5",
                wanted,
                owner,
                now + lease,
                [bool(bound.get(name)) for name in wanted],
                now,
                [u for u, _ in uses],
                [w for _, w in uses],
            )
            rows = await conn.fetch("SELECT name FROM connector_owners WHERE owner = $1", owner)
        return frozenset(row[0] for row in rows)

    async def heartbeat(self, owner: str, lease: float) -> list[str]:
        async with self._tx() as conn:
            now = await conn.fetchval(f"SELECT {DB_NOW}")
            await conn.execute(
                "INSERT INTO delivery_workers (owner, until) VALUES ($1, $2)"
                " ON CONFLICT (owner) DO UPDATE SET until = excluded.until",
                owner,
                now + lease,
            )
            await conn.execute("DELETE FROM delivery_workers WHERE until <= $1", now)
            rows = await conn.fetch("SELECT owner FROM delivery_workers ORDER BY owner")
        return [row[0] for row in rows]

    async def release_connectors(self, owner: str) -> None:
        async with self._tx() as conn:
            await _one_at_a_time(conn)
            await conn.execute("DELETE FROM connector_owners WHERE owner = $1", owner)
            await conn.execute("DELETE FROM delivery_workers WHERE owner = $1", owner)

    async def connector_owners(self) -> dict[str, ConnectorOwner]:
        rows = await self._pool.fetch(
            'SELECT name, owner, until, bound, in_use, "window" FROM connector_owners'  # noqa: S608
            f" WHERE until > {DB_NOW}"
        )
        return {row[0]: ConnectorOwner(row[1], row[2], row[3], row[4], row[5]) for row in rows}


async def _one_at_a_time(conn: Conn) -> None:
    """Wait for the claims and releases of other processes to commit (held until ours
    does)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", OWNERS_LOCK)
