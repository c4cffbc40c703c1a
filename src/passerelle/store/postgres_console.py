"""PostgreSQL console role (a mixin of `PgStore`; the SQLite twin is `sqlite_console.py`):
sign-up and one-time links with their e-mail, sessions, operators; the reads of the
console's pages are in `postgres_console_reads.py`.

Every process of a cluster may use a link at once: using one is a single
``UPDATE ... WHERE used_at IS NULL AND expires_at > now RETURNING``, so of two
concurrent clicks exactly one activates (or resets), the other waits for its row lock,
finds the link used and changes nothing. Two sign-ups with one e-mail address (there is
no unique index on ``lower(email)``) take turns on an advisory lock of that address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

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
from passerelle.store.postgres_accounts import _LEDGER, insert_account
from passerelle.store.postgres_base import PgRole
from passerelle.store.postgres_console_reads import PgConsoleReads, affected
from passerelle.store.postgres_mail import _QUEUE
from passerelle.store.sqlite_accounts import _ACCOUNT_COLUMNS, _account
from passerelle.store.sqlite_console import (
    EMAIL_TAKEN,
    GRANT,
    OPERATOR_COLUMNS,
    SESSION_COLUMNS,
    operator_of,
    operator_taken,
    session_of,
)
from passerelle.store.sqlite_mail import PENDING

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn

_EMAIL_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('sign-up ' || lower($1), 0))"
_LINK = (
    "INSERT INTO console_links (digest, purpose, login, created_at, expires_at, used_at)"
    " VALUES ($1, $2, $3, $4, $5, NULL) ON CONFLICT (digest) DO UPDATE SET"
    " purpose = EXCLUDED.purpose, login = EXCLUDED.login, created_at = EXCLUDED.created_at,"
    " expires_at = EXCLUDED.expires_at, used_at = NULL"
)
# use a link: of concurrent uses, one returns the account's id
_USE = (
    "UPDATE console_links l SET used_at = $3 FROM accounts a"
    " WHERE l.digest = $1 AND l.purpose = $2 AND l.used_at IS NULL AND l.expires_at > $3"
    " AND a.login = l.login RETURNING a.id"
)
# the sessions of a login in a role, but one (none when $3 is NULL)
# a new password makes every reset link of the login still unused useless
_USE_RESETS = (
    "UPDATE console_links SET used_at = $3 WHERE login = $1 AND purpose = $2 AND used_at IS NULL"
)
_END_SESSIONS = (
    "DELETE FROM console_sessions WHERE role = $1 AND login = $2 AND digest IS DISTINCT FROM $3"
)


async def _link(conn: Conn, link: NewLink, mail: NewMail) -> None:
    """Store a link and queue its e-mail in the open transaction."""
    await conn.execute(
        _LINK, link.digest, str(link.purpose), link.login, link.created_at, link.expires_at
    )
    m = mail
    await conn.fetchval(_QUEUE, m.to_addr, m.subject, m.body_text, m.created_at, PENDING)


class PgConsole(PgConsoleReads, PgRole):
    """The console role of the PostgreSQL store."""

    # sign-up and links

    async def sign_up(self, account: NewAccount, link: NewLink, mail: NewMail) -> Account:
        try:
            async with self._tx() as conn:
                await conn.execute(_EMAIL_LOCK, account.email)
                if await conn.fetchval("SELECT 1 FROM accounts WHERE login = $1", account.login):
                    raise AccountExists(account.login)
                used = "SELECT 1 FROM accounts WHERE lower(email) = lower($1)"
                if await conn.fetchval(used, account.email):
                    raise NameTaken(EMAIL_TAKEN)
                created = await insert_account(conn, account)
                await _link(conn, link, mail)
        except asyncpg.UniqueViolationError:
            raise AccountExists(account.login) from None
        return created

    async def request_link(self, link: NewLink, mail: NewMail) -> None:
        async with self._tx() as conn:
            await _link(conn, link, mail)

    async def activate_account(self, digest: str, now: float, credits: int) -> Account | None:
        granted = max(credits, 0)
        async with self._tx() as conn:
            account_id = await conn.fetchval(_USE, digest, str(LinkPurpose.ACTIVATE), now)
            if account_id is None:
                return None
            row = await conn.fetchrow(
                "UPDATE accounts SET activated = true, credits = credits + $2, updated_at = $3"  # noqa: S608
                f" WHERE id = $1 RETURNING {_ACCOUNT_COLUMNS}",
                account_id,
                granted,
                now,
            )
            assert row is not None
            if granted:
                await conn.execute(_LEDGER, account_id, now, granted, *GRANT)
        return _account(tuple(row))

    async def reset_console_password(
        self, digest: str, password_hash: str, now: float
    ) -> Account | None:
        async with self._tx() as conn:
            account_id = await conn.fetchval(_USE, digest, str(LinkPurpose.RESET), now)
            if account_id is None:
                return None
            row = await conn.fetchrow(
                "UPDATE accounts SET console_password_hash = $2, updated_at = $3"  # noqa: S608
                f" WHERE id = $1 RETURNING {_ACCOUNT_COLUMNS}",
                account_id,
                password_hash,
                now,
            )
            assert row is not None
            account = _account(tuple(row))
            await conn.execute(_END_SESSIONS, str(Role.CUSTOMER), account.login, None)
            await conn.execute(_USE_RESETS, account.login, str(LinkPurpose.RESET), now)
        return account

    async def set_console_password(
        self, login: str, password_hash: str, now: float, keep: str | None
    ) -> None:
        async with self._tx() as conn:
            found = await conn.fetchval(
                "UPDATE accounts SET console_password_hash = $2, updated_at = $3"
                " WHERE login = $1 RETURNING id",
                login,
                password_hash,
                now,
            )
            if found is None:
                raise AccountNotFound(login)
            await conn.execute(_END_SESSIONS, str(Role.CUSTOMER), login, keep)
            await conn.execute(_USE_RESETS, login, str(LinkPurpose.RESET), now)

    # sessions

    async def create_session(self, session: NewSession) -> None:
        s = session
        await self._pool.execute(
            f"INSERT INTO console_sessions ({SESSION_COLUMNS})"  # noqa: S608
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (digest) DO UPDATE SET"
            " role = EXCLUDED.role, login = EXCLUDED.login, csrf = EXCLUDED.csrf,"
            " created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at",
            s.digest,
            str(s.role),
            s.login,
            s.csrf,
            s.created_at,
            s.expires_at,
        )

    async def find_session(self, digest: str, now: float) -> Session | None:
        row = await self._pool.fetchrow(
            f"SELECT {SESSION_COLUMNS} FROM console_sessions"  # noqa: S608
            " WHERE digest = $1 AND expires_at > $2",
            digest,
            now,
        )
        return None if row is None else session_of(tuple(row))

    async def end_session(self, digest: str) -> None:
        await self._pool.execute("DELETE FROM console_sessions WHERE digest = $1", digest)

    async def end_sessions(self, role: Role, login: str, keep: str | None = None) -> int:
        return affected(await self._pool.execute(_END_SESSIONS, str(role), login, keep))

    async def purge_console(self, now: float) -> int:
        async with self._tx() as conn:
            sessions = await conn.execute(
                "DELETE FROM console_sessions WHERE expires_at <= $1", now
            )
            links = await conn.execute("DELETE FROM console_links WHERE expires_at <= $1", now)
        return affected(sessions) + affected(links)

    # operators

    async def create_operator(self, new: NewOperator) -> Operator:
        try:
            operator_id = await self._pool.fetchval(
                "INSERT INTO operators (login, email, password_hash, created_at)"
                " VALUES ($1, $2, $3, $4) RETURNING id",
                new.login,
                new.email,
                new.password_hash,
                new.created_at,
            )
        except asyncpg.UniqueViolationError:
            raise operator_taken(new.login) from None
        return Operator(int(operator_id), new.login, new.email, new.password_hash, new.created_at)

    async def find_operator(self, login: str) -> Operator | None:
        row = await self._pool.fetchrow(
            f"SELECT {OPERATOR_COLUMNS} FROM operators WHERE login = $1",  # noqa: S608
            login,
        )
        return None if row is None else operator_of(tuple(row))
