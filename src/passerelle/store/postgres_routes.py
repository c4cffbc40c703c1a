"""PostgreSQL connectors and routes (a mixin of `PgStore`; the SQLite twin is
`sqlite_routes.py`): the delivery configuration operators manage.

A route names only stored connectors, whatever commands run at once in the processes
of a cluster: adding a route reads its connectors `FOR SHARE` and removing a connector
locks it `FOR UPDATE` before it reads the routes naming it. Whichever comes second
waits for the first to commit, then sees what it did: the route is refused
(UnknownConnector), or the removal counts it (ConnectorInUse, or removes it too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from passerelle.core.modes import BindMode, Coding, IdMode
from passerelle.core.routing import Route
from passerelle.core.values import Connector, RouteRow, ordered_rows
from passerelle.exceptions import ConnectorInUse, NotFound, UnknownConnector
from passerelle.store.postgres_base import PgRole

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn

# `window` is a reserved word in PostgreSQL
_COLUMNS = (
    "name",
    "host",
    "port",
    "system_id",
    "password",
    "system_type",
    "bind_mode",
    '"window"',
    "throughput",
    "enquire_link_s",
    "id_mode",
    "coding",
    "enabled",
    "created_at",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM connectors ORDER BY name"  # noqa: S608
_UPSERT = (
    f"INSERT INTO connectors ({', '.join(_COLUMNS)})"  # noqa: S608
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(_COLUMNS) + 1))})"
    " ON CONFLICT (name) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "name")
)


def _connector(row: asyncpg.Record) -> Connector:
    fields = dict(row.items())
    return Connector(
        **{
            **fields,
            "bind_mode": BindMode(fields["bind_mode"]),
            "id_mode": IdMode(fields["id_mode"]),
            "coding": Coding(fields["coding"]),
        }
    )


async def _routes(conn: Conn | asyncpg.Pool) -> list[RouteRow]:
    """Every rule in the order they are tried (equal rules by id)."""
    rows = await conn.fetch("SELECT id, position, prefix, connectors FROM routes")
    return ordered_rows(
        {r["id"]: Route(r["position"], r["prefix"], _names(r["connectors"])) for r in rows}
    )


def _names(stored: str) -> tuple[str, ...]:
    return tuple(name for name in stored.split(",") if name)


class PgRoutes(PgRole):
    """The routes role of the PostgreSQL store."""

    async def add_connector(self, connector: Connector) -> None:
        values = (getattr(connector, column.strip('"')) for column in _COLUMNS)
        async with self._tx() as conn:
            await conn.execute(_UPSERT, *values)

    async def list_connectors(self) -> list[Connector]:
        return [_connector(row) for row in await self._pool.fetch(_SELECT)]

    async def remove_connector(self, name: str, with_routes: bool = False) -> list[RouteRow]:
        async with self._tx() as conn:
            found = await conn.fetchval("SELECT 1 FROM connectors WHERE name = $1 FOR UPDATE", name)
            if found is None:
                raise NotFound(f"no connector named {name!r}")
            naming = [row for row in await _routes(conn) if name in row.route.connectors]
            if naming and not with_routes:
                raise ConnectorInUse(name, [row.describe() for row in naming])
            await conn.execute(
                "DELETE FROM routes WHERE id = ANY($1::int[])", [row.id for row in naming]
            )
            await conn.execute("DELETE FROM connectors WHERE name = $1", name)
        return naming

    async def add_route(self, route: Route, at: float) -> int:
        async with self._tx() as conn:
            rows = await conn.fetch(
                "SELECT name FROM connectors WHERE name = ANY($1::text[]) ORDER BY name FOR SHARE",
                list(route.connectors),
            )
            known = {row[0] for row in rows}
            missing = [n for n in route.connectors if n not in known]
            if missing:
                raise UnknownConnector(missing)
            route_id = await conn.fetchval(
                "INSERT INTO routes (position, prefix, connectors, created_at)"
                " VALUES ($1, $2, $3, $4) RETURNING id",
                route.position,
                route.prefix,
                ",".join(route.connectors),
                at,
            )
        return int(route_id)

    async def list_routes(self) -> list[RouteRow]:
        return await _routes(self._pool)

    async def remove_route(self, route_id: int) -> bool:
        async with self._tx() as conn:
            status = await conn.execute("DELETE FROM routes WHERE id = $1", route_id)
        return status == "DELETE 1"
