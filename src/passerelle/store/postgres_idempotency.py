"""PostgreSQL Idempotency-Keys (a mixin of `PgStore`), shared by every process on the
database. A reservation is one short transaction: ``INSERT ... ON CONFLICT DO NOTHING
RETURNING`` makes a new key's owner (of concurrent inserts of one key, exactly one
returns a row; the others wait for its commit and conflict); otherwise the row is read
``FOR UPDATE``, so that of concurrent callers finding a lease run out, one decides
(RECOVERED or a take-over) and the others see its decision. A row deleted between the
two statements (its key released) is inserted again."""

from __future__ import annotations

from typing import Any

from passerelle.core.idempotency import DONE, PENDING, Claim, Reservation
from passerelle.exceptions import StoreError
from passerelle.store.postgres_base import PgRole
from passerelle.store.sqlite_idempotency import decide

_TRIES = 10  # insert, then lock: a row released meanwhile is tried again
_INSERT = (
    "INSERT INTO idempotency_keys (account_id, key, request_hash, state, claimed_until,"
    " created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1"
)
_LOCK = (
    "SELECT request_hash, state, claimed_until, msgid, error_code FROM idempotency_keys"
    " WHERE account_id = $1 AND key = $2 FOR UPDATE"
)
_MESSAGE = (
    "SELECT msgid FROM messages WHERE account_id = $1 AND idem_key = $2"
    " AND idem_key IS NOT NULL LIMIT 1"
)
_SETTLE = (
    "UPDATE idempotency_keys SET state = $1, claimed_until = NULL, msgid = $2,"
    " error_code = $3 WHERE account_id = $4 AND key = $5"
)
_TAKE_OVER = "UPDATE idempotency_keys SET claimed_until = $1 WHERE account_id = $2 AND key = $3"
_RELEASE = "DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND state = $3"
_PURGE = "DELETE FROM idempotency_keys WHERE state = $1 AND created_at < $2"


class PgIdempotency(PgRole):
    """The Idempotency-Key role of the PostgreSQL store."""

    async def reserve_idempotency(
        self, account_id: int, key: str, request_hash: str, now: float, lease: float
    ) -> Reservation:
        for _ in range(_TRIES):
            async with self._tx() as conn:
                until = now + lease
                args = (account_id, key, request_hash, PENDING, until, now)
                if await conn.fetchval(_INSERT, *args) is not None:
                    return Reservation(Claim.OWNER)
                row = await conn.fetchrow(_LOCK, account_id, key)
                if row is None:
                    continue  # released between the two statements
                found: Any = tuple(row)
                answer = decide(found, request_hash, now)
                if answer is not None:
                    return answer
                msgid = await conn.fetchval(_MESSAGE, account_id, key)
                if msgid is not None:
                    await conn.execute(_SETTLE, DONE, msgid, None, account_id, key)
                    return Reservation(Claim.RECOVERED, int(msgid))
                await conn.execute(_TAKE_OVER, until, account_id, key)
                return Reservation(Claim.OWNER)
        raise StoreError("an idempotency key kept being released while it was reserved")

    async def finish_idempotency(
        self, account_id: int, key: str, msgid: int | None, error_code: str | None
    ) -> None:
        await self._pool.execute(_SETTLE, DONE, msgid, error_code, account_id, key)

    async def release_idempotency(self, account_id: int, key: str) -> None:
        async with self._tx() as conn:
            found = await conn.fetchrow(_LOCK, account_id, key)
            if found is None or found[1] != PENDING:
                return
            msgid = await conn.fetchval(_MESSAGE, account_id, key)
            if msgid is None:
                await conn.execute(_RELEASE, account_id, key, PENDING)
            else:
                await conn.execute(_SETTLE, DONE, msgid, None, account_id, key)

    async def purge_idempotency(self, created_before: float) -> int:
        status = await self._pool.execute(_PURGE, DONE, created_before)
        return int(status.split()[-1])
