"""SQLite connector ownership: exactly one process binds each connector.

Every process that runs delivery asks, at each refresh, to own the connectors it
wants (`claim_connectors`): a connector is free when it has no owner row or its lease
has ended, and a claim by its owner renews the lease. All of this happens in one write
transaction and on the database's clock (`DB_NOW`), so the processes of an
installation agree whatever their own clocks say. A process that stops gives its
connectors back (`release_connectors`); one that dies loses them when its lease ends.
The owner also records whether its link is bound, so that the others can tell a
connector that works elsewhere from one that works nowhere, and its window use (submits
awaiting their response, out of the window) for the console.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping

from passerelle.core.values import ConnectorOwner
from passerelle.store.writer import Writer

# the database's clock, in unix seconds (SQLite's own: the same on every connection)
DB_NOW = "((julianday('now') - 2440587.5) * 86400.0)"


class OwnerOps:
    """Connector ownership half of the SQLite store (a mixin of `SqliteStore`)."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def claim_connectors(
        self,
        names: Iterable[str],
        owner: str,
        lease: float,
        bound: Mapping[str, bool],
        use: Mapping[str, tuple[int, int]] | None = None,
    ) -> frozenset[str]:
        """Own (or keep owning) each free connector of `names` for `lease` seconds;
        the names this owner holds now. Connectors it held but no longer names are given
        back."""
        wanted = sorted(set(names))

        def op(conn: sqlite3.Connection) -> frozenset[str]:
            (now,) = conn.execute(f"SELECT {DB_NOW}").fetchone()
            conn.execute(
                "DELETE FROM connector_owners WHERE owner = ? AND name NOT IN"
                " (SELECT value FROM json_each(?))",
                (owner, json.dumps(wanted)),
            )
            for name in wanted:
                in_use, window = (use or {}).get(name, (0, 0))
                conn.execute(
                    'INSERT INTO connector_owners (name, owner, until, bound, in_use, "window")'
                    " VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                    " until = excluded.until, bound = excluded.bound,"
                    ' in_use = excluded.in_use, "window" = excluded."window"'
                    " WHERE connector_owners.owner = excluded.owner"
                    " OR connector_owners.until <= ?",
                    (name, owner, now + lease, bool(bound.get(name)), in_use, window, now),
                )
            rows = conn.execute(
                "SELECT name FROM connector_owners WHERE owner = ?", (owner,)
            ).fetchall()
            return frozenset(row[0] for row in rows)

        owned: frozenset[str] = await self._writer.submit(op)
        return owned

    async def heartbeat(self, owner: str, lease: float) -> list[str]:
        """Mark `owner` alive for `lease` seconds; the live delivery processes."""

        def op(conn: sqlite3.Connection) -> list[str]:
            (now,) = conn.execute(f"SELECT {DB_NOW}").fetchone()
            conn.execute(
                "INSERT INTO delivery_workers (owner, until) VALUES (?, ?)"
                " ON CONFLICT (owner) DO UPDATE SET until = excluded.until",
                (owner, now + lease),
            )
            conn.execute("DELETE FROM delivery_workers WHERE until <= ?", (now,))
            rows = conn.execute("SELECT owner FROM delivery_workers ORDER BY owner").fetchall()
            return [row[0] for row in rows]

        live: list[str] = await self._writer.submit(op)
        return live

    async def release_connectors(self, owner: str) -> None:
        """Give back every connector `owner` holds, and leave the live list (at a
        graceful stop)."""

        def op(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM connector_owners WHERE owner = ?", (owner,))
            conn.execute("DELETE FROM delivery_workers WHERE owner = ?", (owner,))

        await self._writer.submit(op)

    async def connector_owners(self) -> dict[str, ConnectorOwner]:
        """Every live ownership (lease not ended, on the database's clock), by name."""
        rows = (
            self._read()
            .execute(
                'SELECT name, owner, until, bound, in_use, "window" FROM connector_owners'  # noqa: S608
                f" WHERE until > {DB_NOW}"
            )
            .fetchall()
        )
        return {
            row[0]: ConnectorOwner(row[1], row[2], bool(row[3]), row[4], row[5]) for row in rows
        }
