"""SQLite accounts and their credit ledger: create, find and change accounts, grant or
remove credits, read balances and ledger entries.

The debit of an accepted message is not here: it belongs to the batched accept path
in `sqlite.py`, which writes it with the message in one transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from passerelle.core.values import (
    Account,
    AccountChanges,
    CreditChange,
    LedgerEntry,
    NewAccount,
)
from passerelle.exceptions import AccountExists, AccountNotFound
from passerelle.store.sqlite_callbacks import wake_callbacks
from passerelle.store.writer import Writer

_ACCOUNT_COLUMNS = (
    "id, login, email, api_password_hash, console_password_hash, activated, gateway_enabled,"
    " suspended, credits, rate_limit, callback_url, callback_method, callback_secret,"
    " created_at, updated_at"
)


def _account(row: tuple[Any, ...]) -> Account:
    return Account(
        id=row[0],
        login=row[1],
        email=row[2],
        api_password_hash=row[3],
        console_password_hash=row[4],
        activated=bool(row[5]),
        gateway_enabled=bool(row[6]),
        suspended=bool(row[7]),
        credits=row[8],
        rate_limit=row[9],
        callback_url=row[10],
        callback_method=row[11],
        callback_secret=row[12],
        created_at=row[13],
        updated_at=row[14],
    )


def _ledger_row(
    conn: sqlite3.Connection,
    account_id: int,
    at: float,
    delta: int,
    kind: str,
    actor: str,
    reason: str,
    msgid: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO ledger (account_id, at, delta, kind, actor, reason, msgid)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (account_id, at, delta, kind, actor, reason, msgid),
    )


def insert_account(conn: sqlite3.Connection, new: NewAccount) -> int:
    """Insert an account (AccountExists when the login is taken) and the ledger row of its
    initial credits; its id."""
    try:
        cur = conn.execute(
            "INSERT INTO accounts (login, email, api_password_hash, console_password_hash,"
            " activated, gateway_enabled, suspended, credits, rate_limit, callback_url,"
            " callback_method, callback_secret, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.login,
                new.email,
                new.api_password_hash,
                new.console_password_hash,
                new.activated,
                new.gateway_enabled,
                new.credits,
                new.rate_limit,
                new.callback_url,
                new.callback_method,
                new.callback_secret,
                new.created_at,
                new.created_at,
            ),
        )
    except sqlite3.IntegrityError:
        raise AccountExists(new.login) from None
    account_id = int(cur.lastrowid or 0)
    if new.credits:
        _ledger_row(
            conn, account_id, new.created_at, new.credits, "grant", "cli", "initial credits"
        )
    return account_id


class AccountOps:
    """Account half of the SQLite store (a mixin of `SqliteStore`)."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def create_account(self, new: NewAccount) -> Account:
        def op(conn: sqlite3.Connection) -> int:
            return insert_account(conn, new)

        await self._writer.submit(op)
        account = await self.find_account(new.login)
        assert account is not None
        return account

    async def find_account(self, login: str) -> Account | None:
        row = (
            self._read()
            .execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE login = ?",  # noqa: S608
                (login,),
            )
            .fetchone()
        )
        return None if row is None else _account(row)

    async def update_account(self, login: str, update: AccountChanges, at: float) -> Account:
        changes = update.columns()

        def op(conn: sqlite3.Connection) -> None:
            names = sorted(changes)
            assignments = ", ".join(f"{name} = ?" for name in names)
            cur = conn.execute(
                f"UPDATE accounts SET {assignments}, updated_at = ? WHERE login = ?",  # noqa: S608
                (*(changes[n] for n in names), at, login),
            )
            if cur.rowcount != 1:
                raise AccountNotFound(login)
            if changes.get("callback_url"):
                wake_callbacks(conn, login, at)

        await self._writer.submit(op)
        account = await self.find_account(login)
        assert account is not None
        return account

    async def adjust_credits(
        self, login: str, delta: int, *, kind: str, actor: str, reason: str, at: float
    ) -> CreditChange:
        def op(conn: sqlite3.Connection) -> CreditChange:
            row = conn.execute(
                "SELECT id, credits FROM accounts WHERE login = ?", (login,)
            ).fetchone()
            if row is None:
                raise AccountNotFound(login)
            account_id, credits = row
            applied = max(delta, -credits)
            if applied:
                conn.execute(
                    "UPDATE accounts SET credits = credits + ?, updated_at = ? WHERE id = ?",
                    (applied, at, account_id),
                )
                _ledger_row(conn, account_id, at, applied, kind, actor, reason)
            return CreditChange(applied, int(credits + applied))

        result: CreditChange = await self._writer.submit(op)
        return result

    async def balance(self, account_id: int) -> int:
        row = (
            self._read()
            .execute("SELECT credits FROM accounts WHERE id = ?", (account_id,))
            .fetchone()
        )
        if row is None:
            raise AccountNotFound(str(account_id))
        return int(row[0])

    async def ledger(self, account_id: int, limit: int = 50) -> list[LedgerEntry]:
        rows = (
            self._read()
            .execute(
                "SELECT id, account_id, at, delta, kind, actor, reason, msgid FROM ledger"
                " WHERE account_id = ? ORDER BY id DESC LIMIT ?",
                (account_id, limit),
            )
            .fetchall()
        )
        return [LedgerEntry(*row) for row in rows]

    async def ledger_sum(self, account_id: int) -> int:
        row = (
            self._read()
            .execute(
                "SELECT coalesce(sum(delta), 0) FROM ledger WHERE account_id = ?", (account_id,)
            )
            .fetchone()
        )
        return int(row[0])
