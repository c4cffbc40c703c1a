"""SQLite e-mail outbox (a mixin of `SqliteStore`): every write through the group-commit
writer. A claim moves the e-mail's next attempt to the end of its lease, so that claims
skip it until then and take it again if it was not finished by then."""

from __future__ import annotations

import sqlite3
from typing import Any

from passerelle.core.values import Mail, MailJob, MailState, NewMail
from passerelle.store.writer import Writer

PENDING = str(MailState.PENDING)
# one e-mail by id (`?` for SQLite, `$1` for PostgreSQL)
FIND = (
    "SELECT id, to_addr, subject, body_text, created_at, state, attempts, next_attempt_at,"
    " claimed_until, sent_at, last_error FROM mails WHERE id = "
)
# the outcome of one attempt; applies only to the claim it answers
FINISH = (
    "UPDATE mails SET state = ?, attempts = attempts + 1, claimed_until = NULL,"
    " sent_at = ?, last_error = coalesce(?, last_error),"
    " next_attempt_at = coalesce(?, next_attempt_at)"
    " WHERE id = ? AND state = ? AND claimed_until = ?"
)


def outcome(sent_at: float | None, next_at: float | None) -> MailState:
    """The state an attempt leaves an e-mail in."""
    if sent_at is not None:
        return MailState.SENT
    return MailState.PENDING if next_at is not None else MailState.FAILED


def mail_of(row: tuple[object, ...]) -> Mail:
    """A `Mail` from a row of `FIND`."""
    r: tuple[Any, ...] = row
    return Mail(r[0], r[1], r[2], r[3], r[4], MailState(r[5]), r[6], r[7], r[8], r[9], r[10])


def insert_mail(conn: sqlite3.Connection, mail: NewMail) -> int:
    """Queue an e-mail in the open transaction: pending, due at once; its id."""
    cursor = conn.execute(
        "INSERT INTO mails (to_addr, subject, body_text, created_at, state, attempts,"
        " next_attempt_at) VALUES (?, ?, ?, ?, ?, 0, ?)",
        (mail.to_addr, mail.subject, mail.body_text, mail.created_at, PENDING, mail.created_at),
    )
    return int(cursor.lastrowid or 0)


class MailOps:
    """E-mail half of the SQLite store."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def queue_mail(self, mail: NewMail) -> int:
        def op(conn: sqlite3.Connection) -> int:
            return insert_mail(conn, mail)

        mail_id: int = await self._writer.submit(op)
        return mail_id

    async def claim_mails(self, now: float, lease: float, limit: int) -> list[MailJob]:
        due = self._read().execute(
            "SELECT 1 FROM mails WHERE state = ? AND next_attempt_at <= ? LIMIT 1", (PENDING, now)
        )
        if due.fetchone() is None:
            return []  # the idle sender's poll: one indexed read, nothing for the writer
        until = now + lease

        def op(conn: sqlite3.Connection) -> list[MailJob]:
            rows = conn.execute(
                "SELECT id, to_addr, subject, body_text, created_at, attempts FROM mails"
                " WHERE state = ? AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                (PENDING, now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE mails SET claimed_until = ?, next_attempt_at = ? WHERE id = ?",
                [(until, until, row[0]) for row in rows],
            )
            return [MailJob(r[0], r[1], r[2], r[3], r[4], r[5], until) for r in rows]

        jobs: list[MailJob] = await self._writer.submit(op)
        return jobs

    async def finish_mail(
        self,
        mail_id: int,
        claim: float,
        sent_at: float | None,
        error: str | None,
        next_at: float | None,
    ) -> bool:
        args = (str(outcome(sent_at, next_at)), sent_at, error, next_at, mail_id, PENDING, claim)

        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute(FINISH, args).rowcount == 1

        done: bool = await self._writer.submit(op)
        return done

    async def find_mail(self, mail_id: int) -> Mail | None:
        row = self._read().execute(FIND + "?", (mail_id,))
        found = row.fetchone()
        return None if found is None else mail_of(tuple(found))
