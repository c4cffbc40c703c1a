"""SQLite connectors and routes: the delivery configuration operators manage.

A mixin of `SqliteStore`. The rule that a route names only stored connectors is kept
here, inside the writer's transaction: adding a route checks its connectors, and
removing a connector refuses (or, asked to, removes with it) the routes naming it, so
no interleaving of commands can leave a route pointing at nothing.
"""

from __future__ import annotations

import sqlite3

from passerelle.core.modes import BindMode, Coding, IdMode
from passerelle.core.routing import Route
from passerelle.core.values import Connector, RouteRow, ordered_rows
from passerelle.exceptions import ConnectorInUse, NotFound, UnknownConnector
from passerelle.store.writer import Writer

_CONNECTOR_COLUMNS = (
    "name, host, port, system_id, password, system_type, bind_mode, window, throughput,"
    " enquire_link_s, id_mode, coding, enabled, created_at"
)


def _routes(conn: sqlite3.Connection) -> list[RouteRow]:
    """Every rule in the order they are tried (equal rules by id)."""
    rows = conn.execute("SELECT id, position, prefix, connectors FROM routes").fetchall()
    by_id = {
        route_id: Route(position, prefix, tuple(n for n in names.split(",") if n))
        for route_id, position, prefix, names in rows
    }
    return ordered_rows(by_id)


class RoutingOps:
    """Connectors and routes of the SQLite store."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def add_connector(self, connector: Connector) -> None:
        c = connector

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO connectors ({_CONNECTOR_COLUMNS})"  # noqa: S608
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    c.name,
                    c.host,
                    c.port,
                    c.system_id,
                    c.password,
                    c.system_type,
                    c.bind_mode,
                    c.window,
                    c.throughput,
                    c.enquire_link_s,
                    c.id_mode,
                    c.coding,
                    c.enabled,
                    c.created_at,
                ),
            )

        await self._writer.submit(op)

    async def list_connectors(self) -> list[Connector]:
        rows = (
            self._read()
            .execute(
                f"SELECT {_CONNECTOR_COLUMNS} FROM connectors ORDER BY name"  # noqa: S608
            )
            .fetchall()
        )
        return [
            Connector(
                name=r[0],
                host=r[1],
                port=r[2],
                system_id=r[3],
                password=r[4],
                system_type=r[5],
                bind_mode=BindMode(r[6]),
                window=r[7],
                throughput=r[8],
                enquire_link_s=r[9],
                id_mode=IdMode(r[10]),
                coding=Coding(r[11]),
                enabled=bool(r[12]),
                created_at=r[13],
            )
            for r in rows
        ]

    async def remove_connector(self, name: str, with_routes: bool = False) -> list[RouteRow]:
        def op(conn: sqlite3.Connection) -> list[RouteRow]:
            if conn.execute("SELECT 1 FROM connectors WHERE name = ?", (name,)).fetchone() is None:
                raise NotFound(f"no connector named {name!r}")
            naming = [row for row in _routes(conn) if name in row.route.connectors]
            if naming and not with_routes:
                raise ConnectorInUse(name, [row.describe() for row in naming])
            conn.executemany("DELETE FROM routes WHERE id = ?", [(row.id,) for row in naming])
            conn.execute("DELETE FROM connectors WHERE name = ?", (name,))
            return naming

        removed: list[RouteRow] = await self._writer.submit(op)
        return removed

    async def add_route(self, route: Route, at: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            known = {n for (n,) in conn.execute("SELECT name FROM connectors")}
            missing = [n for n in route.connectors if n not in known]
            if missing:
                raise UnknownConnector(missing)
            cur = conn.execute(
                "INSERT INTO routes (position, prefix, connectors, created_at) VALUES (?, ?, ?, ?)",
                (route.position, route.prefix, ",".join(route.connectors), at),
            )
            return int(cur.lastrowid or 0)

        route_id: int = await self._writer.submit(op)
        return route_id

    async def list_routes(self) -> list[RouteRow]:
        return _routes(self._read())

    async def remove_route(self, route_id: int) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM routes WHERE id = ?", (route_id,)).rowcount == 1

        removed: bool = await self._writer.submit(op)
        return removed
