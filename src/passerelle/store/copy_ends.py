"""The two ends of `passerelle db copy`: a SQLite file or a PostgreSQL database, read in
one snapshot or written in one transaction (the orchestration is `store/copy.py`).

Rows cross between the ends as plain Python values, the same whichever end they come
from: booleans as `bool` (SQLite stores 0 and 1; the SQLite end turns them back),
floats as `float` (IEEE doubles on both backends: copied bit for bit), integers and
text as they are. Every query names its tables and columns from `schema.metadata`,
quoted (``window``, ``position``, ``key`` are SQL keywords).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncGenerator, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import asyncpg
from asyncpg.transaction import Transaction
from sqlalchemy import Boolean, Table

from passerelle.exceptions import StoreError
from passerelle.store.location import database_file, safe_url

Row = tuple[Any, ...]
LOCK_TIMEOUT = "10s"  # a target another process is writing: refused, not waited for
SQLITE_CACHE_KIB = 65_536  # the SQLite target's page cache while it is written (64 MiB)


def quoted(name: str) -> str:
    """`name` as a quoted SQL identifier (both backends)."""
    return '"' + name.replace('"', '""') + '"'


def select_all(table: Table) -> str:
    """Every row of `table`, its columns in `schema.py`'s order, by primary key."""
    columns = ", ".join(quoted(c.name) for c in table.columns)
    order = ", ".join(quoted(c.name) for c in table.primary_key.columns)
    return f"SELECT {columns} FROM {quoted(table.name)} ORDER BY {order}"  # noqa: S608


def sqlite_sequenced(table: Table) -> bool:
    """True when SQLite gives `table` its ids from ``sqlite_sequence`` (AUTOINCREMENT)."""
    return bool(table.dialect_options["sqlite"].get("autoincrement"))


class End(Protocol):
    """A database the copy reads (`snapshot`) or writes (`begin`, then `commit`)."""

    url: str  # without its password

    async def snapshot(self) -> None:
        """Start one read-only transaction: every later read sees the same state."""

    async def begin(self, tables: Sequence[Table]) -> None:
        """Start the transaction that writes `tables` (no other writer meanwhile)."""

    async def revision(self) -> str | None:
        """The Alembic revision the database is at (None: not a Passerelle database)."""

    async def filled(self, tables: Iterable[Table]) -> list[str]:
        """The names of those of `tables` that exist and hold at least one row."""

    async def count(self, table: Table) -> int:
        """How many rows `table` holds."""

    def rows(self, table: Table, size: int) -> AsyncGenerator[list[Row], None]:
        """Every row of `table`, `size` rows at a time."""

    async def write(self, table: Table, rows: list[Row]) -> None:
        """Insert `rows` (columns in `schema.py`'s order) into `table`."""

    async def high_water(self, table: Table) -> int:
        """The largest id `table` ever gave out (its sequence; at least its largest id)."""

    async def set_high_water(self, table: Table, value: int) -> None:
        """Make `table` give out ids above `value` from now on."""

    async def balances(self) -> list[tuple[int, str, int]]:
        """(id, login, credits) of every account."""

    async def ledger_sums(self) -> dict[int, int]:
        """The sum of the ledger deltas of each account that has ledger rows."""

    async def commit(self) -> None:
        """Commit the write transaction."""

    async def close(self) -> None:
        """Disconnect; an uncommitted write transaction is rolled back."""


class SqliteEnd:
    """A SQLite file: opened read-only to be read, written in one IMMEDIATE transaction."""

    def __init__(self, url: str, path: str, write: bool) -> None:
        self.url = url
        if write:
            self._conn = sqlite3.connect(path, isolation_level=None)
        else:  # read-only by the URI: nothing this process does can write the source
            if not Path(path).is_file():
                raise StoreError(f"no database file at {path} ({url})")
            uri = Path(path).resolve().as_uri() + "?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout = 10000")

    async def snapshot(self) -> None:
        self._conn.execute("BEGIN")
        self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the snapshot

    async def begin(self, tables: Sequence[Table]) -> None:
        self._conn.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        self._conn.execute("BEGIN IMMEDIATE")

    async def revision(self) -> str | None:
        if not await self._exists("alembic_version"):
            return None
        row = self._conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(row[0]) if row else None

    async def _exists(self, name: str) -> bool:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return self._conn.execute(sql, (name,)).fetchone() is not None

    async def filled(self, tables: Iterable[Table]) -> list[str]:
        found = []
        for table in tables:
            sql = f"SELECT 1 FROM {quoted(table.name)} LIMIT 1"  # noqa: S608
            if await self._exists(table.name) and self._conn.execute(sql).fetchone():
                found.append(table.name)
        return found

    async def count(self, table: Table) -> int:
        sql = f"SELECT count(*) FROM {quoted(table.name)}"  # noqa: S608
        return int(self._conn.execute(sql).fetchone()[0])

    async def rows(self, table: Table, size: int) -> AsyncGenerator[list[Row], None]:
        flags = [i for i, c in enumerate(table.columns) if isinstance(c.type, Boolean)]
        cursor = self._conn.execute(select_all(table))
        try:
            while batch := cursor.fetchmany(size):
                if flags:  # 0/1 back to False/True (None stays None)
                    batch = [_with_booleans(row, flags) for row in batch]
                yield batch
        finally:
            cursor.close()

    async def write(self, table: Table, rows: list[Row]) -> None:
        names = ", ".join(quoted(c.name) for c in table.columns)
        marks = ", ".join("?" for _ in table.columns)
        sql = f"INSERT INTO {quoted(table.name)} ({names}) VALUES ({marks})"  # noqa: S608
        self._conn.executemany(sql, rows)

    async def high_water(self, table: Table) -> int:
        largest = f"SELECT max({quoted('id')}) FROM {quoted(table.name)}"  # noqa: S608
        top = self._conn.execute(largest).fetchone()[0] or 0
        if sqlite_sequenced(table):
            sql = "SELECT seq FROM sqlite_sequence WHERE name = ?"
            row = self._conn.execute(sql, (table.name,)).fetchone()
            top = max(top, row[0] if row else 0)
        return int(top)

    async def set_high_water(self, table: Table, value: int) -> None:
        # the other tables give max(id) + 1, which the copied rows already set
        if sqlite_sequenced(table) and value > 0:
            self._conn.execute("DELETE FROM sqlite_sequence WHERE name = ?", (table.name,))
            sql = "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)"
            self._conn.execute(sql, (table.name, value))

    async def balances(self) -> list[tuple[int, str, int]]:
        sql = "SELECT id, login, credits FROM accounts ORDER BY id"
        return [(int(i), str(login), int(c)) for i, login, c in self._conn.execute(sql)]

    async def ledger_sums(self) -> dict[int, int]:
        sql = "SELECT account_id, sum(delta) FROM ledger GROUP BY account_id"
        return {int(a): int(s) for a, s in self._conn.execute(sql)}

    async def commit(self) -> None:
        self._conn.execute("COMMIT")
        # the store's mode (which it also sets when it opens the file): the copy itself
        # ran in the rollback journal, where the pages are written once, not twice
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("PRAGMA journal_mode = WAL").fetchone()

    async def close(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        finally:
            self._conn.close()


def _with_booleans(row: Row, flags: list[int]) -> Row:
    values = list(row)
    for i in flags:
        if values[i] is not None:
            values[i] = bool(values[i])
    return tuple(values)


class PostgresEnd:
    """A PostgreSQL database through asyncpg: a REPEATABLE READ READ ONLY transaction to be
    read; to be written, one transaction holding its tables in EXCLUSIVE mode."""

    def __init__(self, url: str, conn: asyncpg.Connection) -> None:
        self.url = url
        self._conn = conn
        self._transaction: Transaction | None = None

    @classmethod
    async def connect(cls, url: str) -> PostgresEnd:
        try:
            conn = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise StoreError(f"cannot connect to {safe_url(url)}: {error}") from None
        return cls(safe_url(url), conn)

    async def snapshot(self) -> None:
        self._transaction = self._conn.transaction(isolation="repeatable_read", readonly=True)
        await self._transaction.start()

    async def begin(self, tables: Sequence[Table]) -> None:
        self._transaction = self._conn.transaction()
        await self._transaction.start()
        await self._conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        names = ", ".join(quoted(t.name) for t in tables)
        await self._conn.execute(f"LOCK TABLE {names} IN EXCLUSIVE MODE")

    async def revision(self) -> str | None:
        if await self._conn.fetchval("SELECT to_regclass('alembic_version')") is None:
            return None
        value = await self._conn.fetchval("SELECT version_num FROM alembic_version")
        return None if value is None else str(value)

    async def filled(self, tables: Iterable[Table]) -> list[str]:
        found = []
        for table in tables:
            if await self._conn.fetchval("SELECT to_regclass($1)", quoted(table.name)) is None:
                continue
            sql = f"SELECT EXISTS (SELECT 1 FROM {quoted(table.name)})"  # noqa: S608
            if await self._conn.fetchval(sql):
                found.append(table.name)
        return found

    async def count(self, table: Table) -> int:
        return int(await self._conn.fetchval(f"SELECT count(*) FROM {quoted(table.name)}"))  # noqa: S608

    async def rows(self, table: Table, size: int) -> AsyncGenerator[list[Row], None]:
        cursor = await self._conn.cursor(select_all(table))  # inside the snapshot
        while batch := await cursor.fetch(size):
            yield [tuple(record) for record in batch]

    async def write(self, table: Table, rows: list[Row]) -> None:
        columns = [c.name for c in table.columns]
        await self._conn.copy_records_to_table(table.name, records=rows, columns=columns)

    async def high_water(self, table: Table) -> int:
        largest = f"SELECT max({quoted('id')}) FROM {quoted(table.name)}"  # noqa: S608
        top = await self._conn.fetchval(largest) or 0
        sql = "SELECT pg_sequence_last_value(pg_get_serial_sequence($1, 'id'))"
        given = await self._conn.fetchval(sql, quoted(table.name))
        return int(max(top, given or 0))

    async def set_high_water(self, table: Table, value: int) -> None:
        if value > 0:  # nextval gives value + 1
            sql = "SELECT setval(pg_get_serial_sequence($1, 'id'), $2)"
            await self._conn.execute(sql, quoted(table.name), value)

    async def balances(self) -> list[tuple[int, str, int]]:
        rows = await self._conn.fetch("SELECT id, login, credits FROM accounts ORDER BY id")
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def ledger_sums(self) -> dict[int, int]:
        sql = "SELECT account_id, sum(delta) FROM ledger GROUP BY account_id"
        return {int(r[0]): int(r[1]) for r in await self._conn.fetch(sql)}

    async def commit(self) -> None:
        assert self._transaction is not None
        await self._transaction.commit()
        self._transaction = None

    async def close(self) -> None:
        try:
            if self._transaction is not None and not self._conn.is_closed():
                await self._transaction.rollback()
        finally:
            await self._conn.close()


async def open_end(url: str, write: bool) -> End:
    """The end for `url` (``sqlite:///path`` or ``postgresql://…``): read-only unless
    `write`. ConfigError for a URL that names neither; StoreError when it cannot be opened."""
    path = database_file(url)
    if path is None:
        if url.startswith("memory://"):
            raise StoreError("memory:// holds nothing to copy: name a SQLite file or PostgreSQL")
        return await PostgresEnd.connect(url)
    try:
        return SqliteEnd(url, path, write)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open {path}: {error}") from None
