"""SQLite Idempotency-Keys (a mixin of `SqliteStore`): every operation, reads included,
runs on the group-commit writer's thread, so that a reservation's check and its write
are one atomic step (the writer is the only one writing the file, its lock file keeps
other processes out meanwhile)."""

from __future__ import annotations

import sqlite3

from passerelle.core.idempotency import DONE, PENDING, Claim, Reservation
from passerelle.store.writer import Writer

# the columns a reservation decides on (`?` for SQLite; postgres_idempotency.py its own)
_FIND = (
    "SELECT request_hash, state, claimed_until, msgid, error_code FROM idempotency_keys"
    " WHERE account_id = ? AND key = ?"
)
_INSERT = (
    "INSERT INTO idempotency_keys (account_id, key, request_hash, state, claimed_until,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_MESSAGE = (
    "SELECT msgid FROM messages WHERE account_id = ? AND idem_key = ?"
    " AND idem_key IS NOT NULL LIMIT 1"
)
_SETTLE = (
    "UPDATE idempotency_keys SET state = ?, claimed_until = NULL, msgid = ?, error_code = ?"
    " WHERE account_id = ? AND key = ?"
)
_SETTLE_PENDING = (
    "UPDATE idempotency_keys SET state = ?, claimed_until = NULL, msgid = ?"
    " WHERE account_id = ? AND key = ? AND state = ?"
)
_TAKE_OVER = "UPDATE idempotency_keys SET claimed_until = ? WHERE account_id = ? AND key = ?"
_RELEASE = "DELETE FROM idempotency_keys WHERE account_id = ? AND key = ? AND state = ?"
_PURGE = "DELETE FROM idempotency_keys WHERE state = ? AND created_at < ?"


def decide(
    row: tuple[str, str, float | None, int | None, str | None], request_hash: str, now: float
) -> Reservation | None:
    """The answer a found row gives by itself; None when its lease ran out (the caller
    then looks for the key's message: RECOVERED, or the lease is taken over)."""
    found_hash, state, claimed_until, msgid, error_code = row
    if found_hash != request_hash:
        return Reservation(Claim.MISMATCH)
    if state == DONE:
        return Reservation(Claim.DONE, msgid, error_code)
    if claimed_until is not None and claimed_until > now:
        return Reservation(Claim.IN_PROGRESS)
    return None


class IdempotencyOps:
    """Idempotency-Key half of the SQLite store."""

    _writer: Writer

    async def reserve_idempotency(
        self, account_id: int, key: str, request_hash: str, now: float, lease: float
    ) -> Reservation:
        def op(conn: sqlite3.Connection) -> Reservation:
            row = conn.execute(_FIND, (account_id, key)).fetchone()
            if row is None:
                conn.execute(_INSERT, (account_id, key, request_hash, PENDING, now + lease, now))
                return Reservation(Claim.OWNER)
            answer = decide(tuple(row), request_hash, now)
            if answer is not None:
                return answer
            message = conn.execute(_MESSAGE, (account_id, key)).fetchone()
            if message is not None:
                conn.execute(_SETTLE, (DONE, message[0], None, account_id, key))
                return Reservation(Claim.RECOVERED, int(message[0]))
            conn.execute(_TAKE_OVER, (now + lease, account_id, key))
            return Reservation(Claim.OWNER)

        reservation: Reservation = await self._writer.submit(op)
        return reservation

    async def finish_idempotency(
        self, account_id: int, key: str, msgid: int | None, error_code: str | None
    ) -> None:
        args = (DONE, msgid, error_code, account_id, key)

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(_SETTLE, args)

        await self._writer.submit(op)

    async def release_idempotency(self, account_id: int, key: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            message = conn.execute(_MESSAGE, (account_id, key)).fetchone()
            if message is None:
                conn.execute(_RELEASE, (account_id, key, PENDING))
            else:
                conn.execute(_SETTLE_PENDING, (DONE, message[0], account_id, key, PENDING))

        await self._writer.submit(op)

    async def purge_idempotency(self, created_before: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            return conn.execute(_PURGE, (DONE, created_before)).rowcount

        purged: int = await self._writer.submit(op)
        return purged
