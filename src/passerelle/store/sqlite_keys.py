"""SQLite API keys of the JSON API (a mixin of `SqliteStore`): their digest, never the
key. Writes go through the group-commit writer; reads are single indexed statements on
the read connection (`find_key` by the unique digest, lists by the (account, id) index).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from passerelle.core.keys import ApiKey, NewApiKey
from passerelle.core.values import Account
from passerelle.store.sqlite_accounts import _ACCOUNT_COLUMNS, _account
from passerelle.store.writer import Writer

KEY_COLUMNS = "k.id, k.account_id, k.name, k.prefix, k.created_at, k.last_used_at, k.revoked_at"
# one account's keys, newest first (`?` for SQLite, `$1` for PostgreSQL)
LIST = f"SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.account_id = "  # noqa: S608
# an active key by its digest, and its account
FIND = (
    f"SELECT {KEY_COLUMNS}, "  # noqa: S608
    + ", ".join("a." + column.strip() for column in _ACCOUNT_COLUMNS.split(","))
    + " FROM api_keys k JOIN accounts a ON a.id = k.account_id"
    " WHERE k.revoked_at IS NULL AND k.digest = "
)
_INSERT = (
    "INSERT INTO api_keys (account_id, name, prefix, digest, created_at) VALUES (?, ?, ?, ?, ?)"
)
_REVOKE = (
    "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL"
)
_TOUCH = "UPDATE api_keys SET last_used_at = ? WHERE id = ?"
KEY_WIDTH = 7  # columns of KEY_COLUMNS


def key_of(row: tuple[Any, ...]) -> ApiKey:
    """An `ApiKey` from the first `KEY_WIDTH` columns of a row."""
    return ApiKey(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


def found_of(row: tuple[Any, ...]) -> tuple[ApiKey, Account]:
    """The key and its account from a row of `FIND`."""
    return key_of(row), _account(row[KEY_WIDTH:])


class KeyOps:
    """API-key half of the SQLite store."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def create_key(self, key: NewApiKey) -> ApiKey:
        args = (key.account_id, key.name, key.prefix, key.digest, key.created_at)

        def op(conn: sqlite3.Connection) -> int:
            return int(conn.execute(_INSERT, args).lastrowid or 0)

        key_id: int = await self._writer.submit(op)
        return ApiKey(key_id, key.account_id, key.name, key.prefix, key.created_at, None, None)

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        rows = self._read().execute(LIST + "? ORDER BY k.id DESC", (account_id,))
        return [key_of(tuple(row)) for row in rows.fetchall()]

    async def revoke_key(self, account_id: int, key_id: int, at: float) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute(_REVOKE, (at, key_id, account_id)).rowcount == 1

        done: bool = await self._writer.submit(op)
        return done

    async def find_key(self, digest: str) -> tuple[ApiKey, Account] | None:
        row = self._read().execute(FIND + "?", (digest,)).fetchone()
        return None if row is None else found_of(tuple(row))

    async def touch_key(self, key_id: int, at: float) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(_TOUCH, (at, key_id))

        await self._writer.submit(op)
