"""SQLite reads of the console's pages (the part of `ConsoleOps` that only reads, on the
read connection): accounts by e-mail or search, an account's message history and the
states of its messages, one callback event, and the traffic by minute.

Searches use ``instr`` over ``lower()`` (no LIKE: a ``%`` or ``_`` typed in a search
box is a character like the others). The SQL is shared with the PostgreSQL twin
(`postgres_console_reads.py`), which writes its placeholders as ``$n``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from passerelle.core.console import MessageQuery, TrafficRow
from passerelle.core.states import RecipientState
from passerelle.core.values import (
    Account,
    CallbackEvent,
    CallbackState,
    MessageSummary,
    RecipientStatus,
)
from passerelle.store.sqlite_accounts import _ACCOUNT_COLUMNS, _account

CHUNK = 500  # msgids in one IN (...) list
# the first recipients of one message by number (the (msgid, dest) index: no sort)
STATUSES = (
    "SELECT msgid, dest, state, stat, coalesce(final_at, submitted_at) FROM recipients"
    " WHERE msgid = ? ORDER BY dest LIMIT ?"
)
CALLBACK = (
    "SELECT e.id, a.login, e.msgid, e.dest, e.statut, e.stat, e.state, e.attempts,"
    " e.created_at, e.next_attempt_at, e.last_status, e.last_error, e.delivered_at"
    " FROM callback_events e JOIN accounts a ON a.id = e.account_id WHERE e.id = "
)


def history_filters(query: MessageQuery, mark: str, first: int) -> tuple[str, list[object]]:
    """The WHERE clauses (after the account's) of `query` over ``messages m``, and their
    arguments; placeholders are `mark` (``?``), or ``$n`` numbered from `first` when
    `mark` is ``$``."""
    args: list[object] = []

    def arg(value: object) -> str:
        args.append(value)
        return "?" if mark == "?" else f"${first + len(args) - 1}"

    sql = ""
    if query.since is not None:
        sql += f" AND m.created_at >= {arg(query.since)}"
    if query.until is not None:
        sql += f" AND m.created_at < {arg(query.until)}"
    if query.state is not None or query.dest:
        sql += " AND EXISTS (SELECT 1 FROM recipients r WHERE r.msgid = m.msgid"
        if query.state is not None:
            sql += f" AND r.state = {arg(int(query.state))}"
        if query.dest:
            finder = "instr(r.dest, {})" if mark == "?" else "strpos(r.dest, {})"
            sql += " AND " + finder.format(arg(query.dest)) + " > 0"
        sql += ")"
    return sql, args


def group_statuses(rows: Sequence[Any]) -> dict[int, list[RecipientStatus]]:
    """Rows of `STATUSES` by msgid."""
    found: dict[int, list[RecipientStatus]] = {}
    for r in rows:
        status = RecipientStatus(r[1], RecipientState(r[2]), r[3], r[4])
        found.setdefault(int(r[0]), []).append(status)
    return found


def summaries_of(
    rows: Sequence[Any], statuses: dict[int, list[RecipientStatus]]
) -> list[MessageSummary]:
    """`MessageSummary`s from (msgid, created_at, sender, text, cost) rows."""
    return [
        MessageSummary(int(r[0]), r[1], r[2], r[3], r[4], tuple(statuses.get(int(r[0]), ())))
        for r in rows
    ]


def callback_of(r: Any) -> CallbackEvent:
    """A `CallbackEvent` from a row of `CALLBACK`."""
    return CallbackEvent(r[0], r[1], r[2], r[3], r[4], r[5], CallbackState(r[6]), *tuple(r)[7:])


def traffic_of(rows: Sequence[Any]) -> list[TrafficRow]:
    """`TrafficRow`s from (minute, state, count) rows."""
    return [TrafficRow(float(r[0]), RecipientState(r[1]), int(r[2])) for r in rows]


class ConsoleReads:
    """The reads of `ConsoleOps`."""

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def find_account_by_email(self, email: str) -> Account | None:
        row = (
            self._read()
            .execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"  # noqa: S608
                " WHERE lower(email) = lower(?) ORDER BY id LIMIT 1",
                (email,),
            )
            .fetchone()
        )
        return None if row is None else _account(tuple(row))

    async def list_accounts(self, search: str, limit: int, offset: int) -> list[Account]:
        rows = self._read().execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"  # noqa: S608
            " WHERE instr(lower(login), lower(?1)) > 0 OR instr(lower(email), lower(?1)) > 0"
            " ORDER BY login LIMIT ?2 OFFSET ?3",
            (search, limit, offset),
        )
        return [_account(tuple(row)) for row in rows.fetchall()]

    def _statuses(self, msgids: Sequence[int], per: int) -> dict[int, list[RecipientStatus]]:
        read = self._read()
        found: dict[int, list[RecipientStatus]] = {}
        for msgid in msgids:
            found.update(group_statuses(read.execute(STATUSES, (msgid, per)).fetchall()))
        return found

    async def search_messages(self, account_id: int, query: MessageQuery) -> list[MessageSummary]:
        filters, args = history_filters(query, "?", 2)
        rows = (
            self._read()
            .execute(
                "SELECT m.msgid, m.created_at, m.sender, m.text, m.cost FROM messages m"  # noqa: S608
                f" WHERE m.account_id = ?{filters}"
                " ORDER BY m.created_at DESC, m.msgid DESC LIMIT ? OFFSET ?",
                (account_id, *args, query.limit, query.offset),
            )
            .fetchall()
        )
        statuses = self._statuses([int(r[0]) for r in rows], query.recipients)
        return summaries_of(rows, statuses)

    async def find_message(
        self, account_id: int, msgid: int, per_message: int = 500
    ) -> MessageSummary | None:
        rows = (
            self._read()
            .execute(
                "SELECT msgid, created_at, sender, text, cost FROM messages"
                " WHERE msgid = ? AND account_id = ?",
                (msgid, account_id),
            )
            .fetchall()
        )
        found = summaries_of(rows, self._statuses([msgid], per_message)) if rows else []
        return found[0] if found else None

    async def states_of(
        self, account_id: int, msgids: Sequence[int], per_message: int = 500
    ) -> dict[int, tuple[RecipientStatus, ...]]:
        wanted = sorted(set(msgids))
        owned: list[int] = []
        for start in range(0, len(wanted), CHUNK):
            part = wanted[start : start + CHUNK]
            sql = (
                "SELECT msgid FROM messages WHERE account_id = ?"  # noqa: S608
                f" AND msgid IN ({', '.join('?' * len(part))})"
            )
            owned += [int(r[0]) for r in self._read().execute(sql, (account_id, *part))]
        statuses = self._statuses(owned, per_message)
        return {msgid: tuple(statuses.get(msgid, ())) for msgid in owned}

    async def find_callback(self, event_id: int) -> CallbackEvent | None:
        row = self._read().execute(CALLBACK + "?", (event_id,)).fetchone()
        return None if row is None else callback_of(row)

    async def traffic(self, since: float) -> list[TrafficRow]:
        rows = self._read().execute(
            "SELECT CAST(m.created_at / 60 AS INTEGER) * 60 AS minute, r.state, count(*)"
            " FROM recipients r JOIN messages m ON m.msgid = r.msgid"
            " WHERE m.created_at >= ? GROUP BY minute, r.state ORDER BY minute, r.state",
            (since,),
        )
        return traffic_of(rows.fetchall())
