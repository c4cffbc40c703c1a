"""SQLite console role (a mixin of `SqliteStore`; the twin is `memory_console.py`): sign-up
and one-time links with their e-mail, sessions, operators. Every write goes through the
group-commit writer, each operation in one transaction; the reads of the console's pages
are in `sqlite_console_reads.py`.

A refusal (AccountExists, NameTaken, AccountNotFound) is raised before the operation
writes anything, so the writer's transaction keeps its neighbours' rows. Tokens are
never stored: sessions and links are keyed by `core.console.token_digest`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from passerelle.core.console import (
    LinkPurpose,
    NewLink,
    NewOperator,
    NewSession,
    Operator,
    Role,
    Session,
)
from passerelle.core.values import Account, NewAccount, NewMail
from passerelle.exceptions import AccountExists, AccountNotFound, NameTaken
from passerelle.store.sqlite_accounts import _ledger_row, insert_account
from passerelle.store.sqlite_console_reads import ConsoleReads
from passerelle.store.sqlite_mail import insert_mail
from passerelle.store.writer import Writer

# the activation's ledger entry (the twin writes the same)
GRANT = ("grant", "activation", "free test credits")
EMAIL_TAKEN = "an account already uses this e-mail address"
SESSION_COLUMNS = "digest, role, login, csrf, created_at, expires_at"
OPERATOR_COLUMNS = "id, login, email, password_hash, created_at"


def operator_taken(login: str) -> NameTaken:
    """The error of a second operator with the same login."""
    return NameTaken(f"an operator named {login!r} already exists")


def session_of(row: tuple[Any, ...]) -> Session:
    """A `Session` from a row of `SESSION_COLUMNS`."""
    return Session(row[0], Role(row[1]), row[2], row[3], row[4], row[5])


def operator_of(row: tuple[Any, ...]) -> Operator:
    """An `Operator` from a row of `OPERATOR_COLUMNS`."""
    return Operator(row[0], row[1], row[2], row[3], row[4])


def _insert_link(conn: sqlite3.Connection, link: NewLink) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO console_links (digest, purpose, login, created_at, expires_at,"
        " used_at) VALUES (?, ?, ?, ?, ?, NULL)",
        (link.digest, str(link.purpose), link.login, link.created_at, link.expires_at),
    )


def _use_link(
    conn: sqlite3.Connection, digest: str, purpose: LinkPurpose, now: float
) -> tuple[int, str] | None:
    """Mark the link used if it is unused, not expired and its account exists: the
    account's (id, login); None (nothing written) otherwise."""
    row = conn.execute(
        "SELECT a.id, a.login FROM console_links l JOIN accounts a ON a.login = l.login"
        " WHERE l.digest = ? AND l.purpose = ? AND l.used_at IS NULL AND l.expires_at > ?",
        (digest, str(purpose), now),
    ).fetchone()
    if row is None:
        return None
    conn.execute("UPDATE console_links SET used_at = ? WHERE digest = ?", (now, digest))
    return int(row[0]), str(row[1])


def _end_customer_sessions(conn: sqlite3.Connection, login: str, keep: str | None) -> int:
    cur = conn.execute(
        "DELETE FROM console_sessions WHERE role = ? AND login = ? AND digest IS NOT ?",
        (str(Role.CUSTOMER), login, keep),
    )
    return int(cur.rowcount)


def _use_reset_links(conn: sqlite3.Connection, login: str, now: float) -> None:
    """A new password makes every reset link of `login` still unused useless."""
    conn.execute(
        "UPDATE console_links SET used_at = ? WHERE login = ? AND purpose = ? AND used_at IS NULL",
        (now, login, str(LinkPurpose.RESET)),
    )


class ConsoleOps(ConsoleReads):
    """Console half of the SQLite store."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def find_account(self, login: str) -> Account | None:
        raise NotImplementedError

    async def _found(self, login: str) -> Account:
        account = await self.find_account(login)
        assert account is not None
        return account

    # sign-up and links

    async def sign_up(self, account: NewAccount, link: NewLink, mail: NewMail) -> Account:
        def op(conn: sqlite3.Connection) -> None:
            taken = conn.execute("SELECT 1 FROM accounts WHERE login = ?", (account.login,))
            if taken.fetchone() is not None:
                raise AccountExists(account.login)
            used = conn.execute(
                "SELECT 1 FROM accounts WHERE lower(email) = lower(?)", (account.email,)
            )
            if used.fetchone() is not None:
                raise NameTaken(EMAIL_TAKEN)
            insert_account(conn, account)
            _insert_link(conn, link)
            insert_mail(conn, mail)

        await self._writer.submit(op)
        return await self._found(account.login)

    async def request_link(self, link: NewLink, mail: NewMail) -> None:
        def op(conn: sqlite3.Connection) -> None:
            _insert_link(conn, link)
            insert_mail(conn, mail)

        await self._writer.submit(op)

    async def activate_account(self, digest: str, now: float, credits: int) -> Account | None:
        granted = max(credits, 0)

        def op(conn: sqlite3.Connection) -> str | None:
            used = _use_link(conn, digest, LinkPurpose.ACTIVATE, now)
            if used is None:
                return None
            account_id, login = used
            conn.execute(
                "UPDATE accounts SET activated = 1, credits = credits + ?, updated_at = ?"
                " WHERE id = ?",
                (granted, now, account_id),
            )
            if granted:
                _ledger_row(conn, account_id, now, granted, *GRANT)
            return login

        login: str | None = await self._writer.submit(op)
        return None if login is None else await self._found(login)

    async def reset_console_password(
        self, digest: str, password_hash: str, now: float
    ) -> Account | None:
        def op(conn: sqlite3.Connection) -> str | None:
            used = _use_link(conn, digest, LinkPurpose.RESET, now)
            if used is None:
                return None
            account_id, login = used
            conn.execute(
                "UPDATE accounts SET console_password_hash = ?, updated_at = ? WHERE id = ?",
                (password_hash, now, account_id),
            )
            _end_customer_sessions(conn, login, None)
            _use_reset_links(conn, login, now)
            return login

        login: str | None = await self._writer.submit(op)
        return None if login is None else await self._found(login)

    async def set_console_password(
        self, login: str, password_hash: str, now: float, keep: str | None
    ) -> None:
        def op(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE accounts SET console_password_hash = ?, updated_at = ? WHERE login = ?",
                (password_hash, now, login),
            )
            if cur.rowcount != 1:
                raise AccountNotFound(login)
            _end_customer_sessions(conn, login, keep)
            _use_reset_links(conn, login, now)

        await self._writer.submit(op)

    # sessions

    async def create_session(self, session: NewSession) -> None:
        s = session
        args = (s.digest, str(s.role), s.login, s.csrf, s.created_at, s.expires_at)

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO console_sessions ({SESSION_COLUMNS})"  # noqa: S608
                " VALUES (?, ?, ?, ?, ?, ?)",
                args,
            )

        await self._writer.submit(op)

    async def find_session(self, digest: str, now: float) -> Session | None:
        row = (
            self._read()
            .execute(
                f"SELECT {SESSION_COLUMNS} FROM console_sessions"  # noqa: S608
                " WHERE digest = ? AND expires_at > ?",
                (digest, now),
            )
            .fetchone()
        )
        return None if row is None else session_of(tuple(row))

    async def end_session(self, digest: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM console_sessions WHERE digest = ?", (digest,))

        await self._writer.submit(op)

    async def end_sessions(self, role: Role, login: str, keep: str | None = None) -> int:
        def op(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "DELETE FROM console_sessions WHERE role = ? AND login = ? AND digest IS NOT ?",
                (str(role), login, keep),
            )
            return int(cur.rowcount)

        ended: int = await self._writer.submit(op)
        return ended

    async def purge_console(self, now: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            sessions = conn.execute("DELETE FROM console_sessions WHERE expires_at <= ?", (now,))
            links = conn.execute("DELETE FROM console_links WHERE expires_at <= ?", (now,))
            return int(sessions.rowcount) + int(links.rowcount)

        purged: int = await self._writer.submit(op)
        return purged

    # operators

    async def create_operator(self, new: NewOperator) -> Operator:
        def op(conn: sqlite3.Connection) -> int:
            try:
                cur = conn.execute(
                    "INSERT INTO operators (login, email, password_hash, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (new.login, new.email, new.password_hash, new.created_at),
                )
            except sqlite3.IntegrityError:
                raise operator_taken(new.login) from None
            return int(cur.lastrowid or 0)

        operator_id: int = await self._writer.submit(op)
        return Operator(operator_id, new.login, new.email, new.password_hash, new.created_at)

    async def find_operator(self, login: str) -> Operator | None:
        row = (
            self._read()
            .execute(
                f"SELECT {OPERATOR_COLUMNS} FROM operators WHERE login = ?",  # noqa: S608
                (login,),
            )
            .fetchone()
        )
        return None if row is None else operator_of(tuple(row))
