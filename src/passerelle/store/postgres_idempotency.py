"""PostgreSQL Idempotency-Keys (a mixin of `PgStore`), shared by every process on the
database. A reservation is one short transaction: ``INSERT ... ON CONFLICT DO NOTHING
RETURNING`` makes a new key's owner (of concurrent inserts of one key, exactly one
returns a row; the others wait for its commit and conflict); otherwise the row is read
``FOR UPDATE``, so that of concurrent callers finding a lease run out, one decides
(RECOVERED or a take-over) and the others see its decision. A row deleted between the
two statements (its key released) is inserted again.

A message sent under a reservation (`accept_idem`) is not written by the accept batch:
it has a transaction of its own that locks its account row (``FOR NO KEY UPDATE``, as
the batch does), looks for a message already carrying its reference (the lock makes
a second owner wait for the first one's commit, then see its message) and otherwise
writes it with the batch's own run; the unique index on the reference is the last
guard (a violation is a duplicate too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from passerelle.core.idempotency import (
    DONE,
    PENDING,
    Claim,
    IdemRow,
    Reservation,
    decide,
    message_ref,
    new_generation,
    ref_parts,
)
from passerelle.core.values import NewMessage
from passerelle.exceptions import IdempotencyBusy, IdempotencyDuplicate, StoreError
from passerelle.store.msgids import MsgidSource
from passerelle.store.postgres_base import PgRole
from passerelle.store.postgres_batch import Accept, accept_run

_TRIES = 10  # insert, then lock: a row released meanwhile is tried again
_INSERT = (
    "INSERT INTO idempotency_keys (account_id, key, request_hash, state, claimed_until,"
    " created_at, generation) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT DO NOTHING RETURNING 1"
)
_FIND = (
    "SELECT request_hash, state, claimed_until, msgid, error_code, generation"
    " FROM idempotency_keys WHERE account_id = $1 AND key = $2"
)
_LOCK = _FIND + " FOR UPDATE"
# a pending row whose message is stored is read with its lease over (recover it now)
_PEEK = (
    "SELECT k.request_hash, k.state, CASE WHEN k.state = 'pending' AND EXISTS (SELECT 1"
    " FROM messages m WHERE m.account_id = k.account_id AND m.idem_key = k.key"
    " || chr(31) || k.generation) THEN NULL ELSE k.claimed_until END, k.msgid,"
    " k.error_code FROM idempotency_keys k WHERE k.account_id = $1 AND k.key = $2"
)
_MESSAGE = (
    "SELECT msgid FROM messages WHERE account_id = $1 AND idem_key = $2"
    " AND idem_key IS NOT NULL LIMIT 1"
)
_SETTLE = (
    "UPDATE idempotency_keys SET state = $1, claimed_until = NULL, msgid = $2,"
    " error_code = $3 WHERE account_id = $4 AND key = $5 AND state = $6"
    " AND generation = coalesce($7, generation)"
)
_TAKE_OVER = "UPDATE idempotency_keys SET claimed_until = $1 WHERE account_id = $2 AND key = $3"
_RELEASE = "DELETE FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND state = $3"
_PURGE = (
    "DELETE FROM idempotency_keys WHERE created_at < $1"
    " AND (state = $2 OR (state = $3 AND claimed_until < $1))"
)
# the reservation is still pending under this generation; locked until the accept
# commits, so that no finish or release of another owner can settle it meanwhile
_HELD = (
    "SELECT 1 FROM idempotency_keys WHERE account_id = $1 AND key = $2 AND state = $3"
    " AND generation = $4 FOR UPDATE"
)
_LOCK_ACCOUNT = "SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE"
_STORED = _MESSAGE  # the check before an accept (the unique index guards behind it)


class PgIdempotency(PgRole):
    """The Idempotency-Key role of the PostgreSQL store."""

    _msgids: MsgidSource

    async def reserve_idempotency(
        self, account_id: int, key: str, request_hash: str, now: float, lease: float
    ) -> Reservation:
        for _ in range(_TRIES):
            async with self._tx() as conn:
                until = now + lease
                fresh = new_generation()
                args = (account_id, key, request_hash, PENDING, until, now, fresh)
                if await conn.fetchval(_INSERT, *args) is not None:
                    return Reservation(Claim.OWNER, generation=fresh)
                row = await conn.fetchrow(_LOCK, account_id, key)
                if row is None:
                    continue  # released between the two statements
                found: Any = tuple(row)[:5]
                answer = decide(found, request_hash, now)
                if answer is not None and answer.claim is not Claim.IN_PROGRESS:
                    return answer
                generation = str(row[5])
                ref = message_ref(key, generation)
                msgid = await conn.fetchval(_MESSAGE, account_id, ref)
                if msgid is not None:
                    settle = (DONE, msgid, None, account_id, key, PENDING, generation)
                    await conn.execute(_SETTLE, *settle)
                    return Reservation(Claim.RECOVERED, int(msgid))
                if answer is not None:
                    return answer
                await conn.execute(_TAKE_OVER, until, account_id, key)
                return Reservation(Claim.OWNER, generation=generation)
        raise StoreError("an idempotency key kept being released while it was reserved")

    async def peek_idempotency(self, account_id: int, key: str) -> IdemRow | None:
        row = await self._pool.fetchrow(_PEEK, account_id, key)
        if row is None:
            return None
        found: IdemRow = (row[0], row[1], row[2], row[3], row[4])
        return found

    async def finish_idempotency(
        self,
        account_id: int,
        key: str,
        msgid: int | None,
        error_code: str | None,
        generation: str | None = None,
    ) -> None:
        args = (DONE, msgid, error_code, account_id, key, PENDING, generation)
        await self._pool.execute(_SETTLE, *args)

    async def release_idempotency(
        self, account_id: int, key: str, generation: str | None = None
    ) -> None:
        async with self._tx() as conn:
            found = await conn.fetchrow(_LOCK, account_id, key)
            if found is None or found[1] != PENDING:
                return
            if generation is not None and found[5] != generation:
                return
            ref = message_ref(key, str(found[5]))
            msgid = await conn.fetchval(_MESSAGE, account_id, ref)
            if msgid is None:
                await conn.execute(_RELEASE, account_id, key, PENDING)
            else:
                args = (DONE, msgid, None, account_id, key, PENDING, found[5])
                await conn.execute(_SETTLE, *args)

    async def purge_idempotency(self, created_before: float) -> int:
        status = await self._pool.execute(_PURGE, created_before, DONE, PENDING)
        return int(status.split()[-1])

    async def accept_idem(self, message: NewMessage, ref: str) -> int:
        """Accept a message sent under a reservation in a transaction of its own; a
        message of the account already carrying `ref` makes it IdempotencyDuplicate
        (nothing inserted or charged). NoCredit when the account cannot pay."""
        draw: Callable[[], int] = self._msgids.draw
        item = Accept(message, draw())
        try:
            async with self._tx() as conn:
                await conn.execute(_LOCK_ACCOUNT, message.account_id)
                stored = await conn.fetchval(_STORED, message.account_id, ref)
                if stored is not None:
                    raise IdempotencyDuplicate(int(stored))
                key, generation = ref_parts(ref)
                held = await conn.fetchval(_HELD, message.account_id, key, PENDING, generation)
                if held is None:  # settled meanwhile by another owner: store nothing
                    raise IdempotencyBusy(key)
                [outcome] = await accept_run(draw)(conn, [item])
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name != "messages_idem_key":
                raise StoreError(f"the database refused the write: {error}") from None
            stored = await self._pool.fetchval(_MESSAGE, message.account_id, ref)
            if stored is None:
                raise StoreError(f"the database refused the write: {error}") from None
            raise IdempotencyDuplicate(int(stored)) from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            raise StoreError(f"the database refused the write: {error}") from None
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
