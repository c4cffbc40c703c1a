"""SQLite Idempotency-Keys (a mixin of `SqliteStore`): every operation that writes runs
on the group-commit writer's thread, so that a reservation's check and its write are
one atomic step (the writer is the only one writing the file, its lock file keeps other
processes out meanwhile). `peek_idempotency` reads on the read connection, off the
writer, for callers waiting on another's lease. `_accept_fenced` stores a message sent
under a reservation, as an operation of its own in the writer's batch: under the write
lock (so across processes too), a message already carrying its reference makes it
IdempotencyDuplicate, with nothing inserted or charged; its neighbours are unaffected."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

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
from passerelle.exceptions import IdempotencyBusy, IdempotencyDuplicate
from passerelle.store.writer import Writer

_FIND = (
    "SELECT request_hash, state, claimed_until, msgid, error_code, generation"
    " FROM idempotency_keys WHERE account_id = ? AND key = ?"
)
# a pending row whose message is stored is read with its lease over (recover it now)
_PEEK = (
    "SELECT k.request_hash, k.state, CASE WHEN k.state = 'pending' AND EXISTS (SELECT 1"
    " FROM messages m WHERE m.account_id = k.account_id AND m.idem_key = k.key"
    " || char(31) || k.generation) THEN NULL ELSE k.claimed_until END, k.msgid,"
    " k.error_code FROM idempotency_keys k WHERE k.account_id = ? AND k.key = ?"
)
_INSERT = (
    "INSERT INTO idempotency_keys (account_id, key, request_hash, state, claimed_until,"
    " created_at, generation) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# the reservation a fenced accept was made under is still pending (not settled by
# another owner that took it over: refused, released or answered meanwhile)
_HELD = (
    "SELECT 1 FROM idempotency_keys WHERE account_id = ? AND key = ? AND state = ?"
    " AND generation = ?"
)
_MESSAGE = (
    "SELECT msgid FROM messages WHERE account_id = ? AND idem_key = ?"
    " AND idem_key IS NOT NULL LIMIT 1"
)
_SETTLE = (
    "UPDATE idempotency_keys SET state = ?, claimed_until = NULL, msgid = ?, error_code = ?"
    " WHERE account_id = ? AND key = ? AND state = ? AND generation = coalesce(?, generation)"
)
_TAKE_OVER = "UPDATE idempotency_keys SET claimed_until = ? WHERE account_id = ? AND key = ?"
_RELEASE = "DELETE FROM idempotency_keys WHERE account_id = ? AND key = ? AND state = ?"
_PURGE = (
    "DELETE FROM idempotency_keys WHERE created_at < ?"
    " AND (state = ? OR (state = ? AND claimed_until < ?))"
)

__all__ = ["IdempotencyOps", "decide"]


def _settle(
    conn: sqlite3.Connection,
    account_id: int,
    key: str,
    msgid: int | None,
    error_code: str | None,
    generation: str | None,
) -> None:
    args = (DONE, msgid, error_code, account_id, key, PENDING, generation)
    conn.execute(_SETTLE, args)


class IdempotencyOps:
    """Idempotency-Key half of the SQLite store."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def reserve_idempotency(
        self, account_id: int, key: str, request_hash: str, now: float, lease: float
    ) -> Reservation:
        def op(conn: sqlite3.Connection) -> Reservation:
            row = conn.execute(_FIND, (account_id, key)).fetchone()
            if row is None:
                generation = new_generation()
                args = (account_id, key, request_hash, PENDING, now + lease, now, generation)
                conn.execute(_INSERT, args)
                return Reservation(Claim.OWNER, generation=generation)
            found: Any = tuple(row[:5])
            answer = decide(found, request_hash, now)
            if answer is not None and answer.claim is not Claim.IN_PROGRESS:
                return answer
            generation = str(row[5])
            message = conn.execute(_MESSAGE, (account_id, message_ref(key, generation)))
            msgid = message.fetchone()
            if msgid is not None:
                _settle(conn, account_id, key, int(msgid[0]), None, generation)
                return Reservation(Claim.RECOVERED, int(msgid[0]))
            if answer is not None:
                return answer
            conn.execute(_TAKE_OVER, (now + lease, account_id, key))
            return Reservation(Claim.OWNER, generation=generation)

        reservation: Reservation = await self._writer.submit(op)
        return reservation

    async def _accept_fenced(
        self, account_id: int, ref: str, accept: Callable[[sqlite3.Connection], int]
    ) -> int:
        """Run `accept` (the one-message accept) unless a message of the account already
        carries `ref`: then IdempotencyDuplicate with its msgid."""

        key, generation = ref_parts(ref)

        def op(conn: sqlite3.Connection) -> tuple[bool, int | None]:
            stored = conn.execute(_MESSAGE, (account_id, ref)).fetchone()
            if stored is not None:
                return False, int(stored[0])
            if conn.execute(_HELD, (account_id, key, PENDING, generation)).fetchone() is None:
                return False, None  # the reservation was settled meanwhile: store nothing
            return True, accept(conn)

        inserted, msgid = await self._writer.submit(op)
        if not inserted:
            if msgid is None:
                raise IdempotencyBusy(key)
            raise IdempotencyDuplicate(msgid)
        assert msgid is not None
        return int(msgid)

    async def peek_idempotency(self, account_id: int, key: str) -> IdemRow | None:
        row = self._read().execute(_PEEK, (account_id, key)).fetchone()
        if row is None:
            return None
        found: IdemRow = tuple(row)
        return found

    async def finish_idempotency(
        self,
        account_id: int,
        key: str,
        msgid: int | None,
        error_code: str | None,
        generation: str | None = None,
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            _settle(conn, account_id, key, msgid, error_code, generation)

        await self._writer.submit(op)

    async def release_idempotency(
        self, account_id: int, key: str, generation: str | None = None
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            row = conn.execute(_FIND, (account_id, key)).fetchone()
            if row is None or row[1] != PENDING:
                return
            if generation is not None and row[5] != generation:
                return
            ref = message_ref(key, str(row[5]))
            message = conn.execute(_MESSAGE, (account_id, ref)).fetchone()
            if message is None:
                conn.execute(_RELEASE, (account_id, key, PENDING))
            else:
                _settle(conn, account_id, key, int(message[0]), None, str(row[5]))

        await self._writer.submit(op)

    async def purge_idempotency(self, created_before: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            args = (created_before, DONE, PENDING, created_before)
            return conn.execute(_PURGE, args).rowcount

        purged: int = await self._writer.submit(op)
        return purged
