"""PostgreSQL accounts and their credit ledger (a mixin of `PgStore`; the SQLite twin is
`sqlite_accounts.py`): create, find and change accounts, grant or remove credits, read
balances and ledger entries.

Every process of a cluster writes here at once, so a change of credits reads the
balance under a row lock (`FOR NO KEY UPDATE`: rows that reference the account, such
as other transactions' ledger rows and callback events, are not held back) and writes
the new balance and its ledger row in the same transaction: two removals never both
spend the same credits, and the ledger always sums to the balance. The debit of an
accepted message is not here: the accept run (`postgres_batch.py`) writes it with the
message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from passerelle.core.values import (
    Account,
    AccountChanges,
    CallbackState,
    CreditChange,
    LedgerEntry,
    NewAccount,
)
from passerelle.exceptions import AccountExists, AccountNotFound
from passerelle.store.postgres_base import PgRole
from passerelle.store.sqlite_accounts import _ACCOUNT_COLUMNS, _account

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn

# the fields of NewAccount the insert stores as they are, by column name
_NEW = (
    "login",
    "email",
    "api_password_hash",
    "console_password_hash",
    "activated",
    "gateway_enabled",
    "credits",
    "rate_limit",
    "callback_url",
    "callback_method",
    "callback_secret",
    "created_at",
)
_INSERT = (
    f"INSERT INTO accounts ({', '.join(_NEW)}, updated_at, suspended)"  # noqa: S608
    f" VALUES ({', '.join(f'${i}' for i in range(1, len(_NEW) + 1))}, ${len(_NEW)}, false)"
    f" RETURNING {_ACCOUNT_COLUMNS}"
)
_LEDGER = (
    "INSERT INTO ledger (account_id, at, delta, kind, actor, reason, msgid)"
    " VALUES ($1, $2, $3, $4, $5, $6, NULL)"
)
# an account's pending events that no claim holds, due now (the twin of
# `sqlite_callbacks.wake_callbacks`): its callback URL was just set
_WAKE = (
    "UPDATE callback_events SET next_attempt_at = $2"
    " WHERE account_id = $1 AND state = $3 AND next_attempt_at > $2"
    " AND (claimed_until IS NULL OR claimed_until <= $2)"
)


async def insert_account(conn: Conn, new: NewAccount) -> Account:
    """Insert an account and the ledger row of its initial credits in the open
    transaction (UniqueViolationError when the login is taken); the account."""
    row = await conn.fetchrow(_INSERT, *(getattr(new, name) for name in _NEW))
    assert row is not None
    account = _account(tuple(row))
    if new.credits:
        await conn.execute(
            _LEDGER, account.id, new.created_at, new.credits, "grant", "cli", "initial credits"
        )
    return account


class PgAccounts(PgRole):
    """The accounts role of the PostgreSQL store."""

    async def create_account(self, new: NewAccount) -> Account:
        try:
            async with self._tx() as conn:
                account = await insert_account(conn, new)
        except asyncpg.UniqueViolationError:
            raise AccountExists(new.login) from None
        return account

    async def find_account(self, login: str) -> Account | None:
        row = await self._pool.fetchrow(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE login = $1",  # noqa: S608
            login,
        )
        return None if row is None else _account(tuple(row))

    async def update_account(self, login: str, update: AccountChanges, at: float) -> Account:
        changes = update.columns()
        names = sorted(changes)  # the fields of AccountChanges: the table's column names
        assignments = "".join(f"{name} = ${i}, " for i, name in enumerate(names, start=3))
        sql = (
            f"UPDATE accounts SET {assignments}updated_at = $2 WHERE login = $1"  # noqa: S608
            f" RETURNING {_ACCOUNT_COLUMNS}"
        )
        async with self._tx() as conn:
            row = await conn.fetchrow(sql, login, at, *(changes[n] for n in names))
            if row is None:
                raise AccountNotFound(login)
            account = _account(tuple(row))
            if changes.get("callback_url"):
                await conn.execute(_WAKE, account.id, at, int(CallbackState.PENDING))
        return account

    async def adjust_credits(
        self, login: str, delta: int, *, kind: str, actor: str, reason: str, at: float
    ) -> CreditChange:
        async with self._tx() as conn:
            row = await conn.fetchrow(
                "SELECT id, credits FROM accounts WHERE login = $1 FOR NO KEY UPDATE", login
            )
            if row is None:
                raise AccountNotFound(login)
            account_id, credits = int(row[0]), int(row[1])
            applied = max(delta, -credits)
            if applied:
                await conn.execute(
                    "UPDATE accounts SET credits = credits + $2, updated_at = $3 WHERE id = $1",
                    account_id,
                    applied,
                    at,
                )
                await conn.execute(_LEDGER, account_id, at, applied, kind, actor, reason)
        return CreditChange(applied, credits + applied)

    async def balance(self, account_id: int) -> int:
        credits = await self._pool.fetchval(
            "SELECT credits FROM accounts WHERE id = $1", account_id
        )
        if credits is None:
            raise AccountNotFound(str(account_id))
        return int(credits)

    async def ledger(self, account_id: int, limit: int = 50) -> list[LedgerEntry]:
        rows = await self._pool.fetch(
            "SELECT id, account_id, at, delta, kind, actor, reason, msgid FROM ledger"
            " WHERE account_id = $1 ORDER BY id DESC LIMIT $2",
            account_id,
            limit,
        )
        return [LedgerEntry(*row) for row in rows]

    async def ledger_sum(self, account_id: int) -> int:
        total = await self._pool.fetchval(
            "SELECT coalesce(sum(delta), 0) FROM ledger WHERE account_id = $1", account_id
        )
        return int(total)
