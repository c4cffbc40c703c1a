"""PostgreSQL API keys of the JSON API (a mixin of `PgStore`; the SQLite twin is
`sqlite_keys.py`): their digest, never the key. Every operation is one statement."""

from __future__ import annotations

from passerelle.core.keys import ApiKey, NewApiKey
from passerelle.core.values import Account
from passerelle.store.postgres_base import PgRole
from passerelle.store.sqlite_keys import FIND, LIST, found_of, key_of

_INSERT = (
    "INSERT INTO api_keys (account_id, name, prefix, digest, created_at)"
    " VALUES ($1, $2, $3, $4, $5) RETURNING id"
)
_REVOKE = (
    "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL"
)
_TOUCH = "UPDATE api_keys SET last_used_at = $1 WHERE id = $2"


class PgKeys(PgRole):
    """The API-key role of the PostgreSQL store."""

    async def create_key(self, key: NewApiKey) -> ApiKey:
        key_id = await self._pool.fetchval(
            _INSERT, key.account_id, key.name, key.prefix, key.digest, key.created_at
        )
        return ApiKey(int(key_id), key.account_id, key.name, key.prefix, key.created_at, None, None)

    async def list_keys(self, account_id: int) -> list[ApiKey]:
        rows = await self._pool.fetch(LIST + "$1 ORDER BY k.id DESC", account_id)
        return [key_of(tuple(row)) for row in rows]

    async def revoke_key(self, account_id: int, key_id: int, at: float) -> bool:
        status = await self._pool.execute(_REVOKE, at, key_id, account_id)
        return bool(status == "UPDATE 1")

    async def find_key(self, digest: str) -> tuple[ApiKey, Account] | None:
        row = await self._pool.fetchrow(FIND + "$1", digest)
        return None if row is None else found_of(tuple(row))

    async def touch_key(self, key_id: int, at: float) -> None:
        await self._pool.execute(_TOUCH, at, key_id)
