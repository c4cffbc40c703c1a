"""PostgreSQL reads of the console's pages (the SQLite twin is `sqlite_console_reads.py`,
whose filters and row readers these share). Orders by text use ``COLLATE "C"``: code
point order, as SQLite and the in-memory twin sort, whatever the database's locale."""

from __future__ import annotations

from collections.abc import Sequence

from passerelle.core.console import MessageQuery, TrafficRow
from passerelle.core.values import Account, CallbackEvent, MessageSummary, RecipientStatus
from passerelle.store.postgres_base import PgRole
from passerelle.store.sqlite_accounts import _ACCOUNT_COLUMNS, _account
from passerelle.store.sqlite_console_reads import (
    CALLBACK,
    callback_of,
    group_statuses,
    history_filters,
    summaries_of,
    traffic_of,
)

# the first recipients of each message by number (the (msgid, dest) index: no sort)
_STATUSES = (
    "SELECT w.msgid, r.dest, r.state, r.stat, r.at FROM unnest($1::bigint[]) AS w(msgid)"
    " CROSS JOIN LATERAL (SELECT dest, state, stat, coalesce(final_at, submitted_at) AS at"
    " FROM recipients WHERE msgid = w.msgid ORDER BY dest LIMIT $2) r"
)


def affected(status: str) -> int:
    """The row count of a command status (``DELETE 3``, ``INSERT 0 2``, ``UPDATE 1``)."""
    return int(status.rsplit(" ", 1)[-1])


class PgConsoleReads(PgRole):
    """The reads of `PgConsole`."""

    async def find_account_by_email(self, email: str) -> Account | None:
        row = await self._pool.fetchrow(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"  # noqa: S608
            " WHERE lower(email) = lower($1) ORDER BY id LIMIT 1",
            email,
        )
        return None if row is None else _account(tuple(row))

    async def list_accounts(self, search: str, limit: int, offset: int) -> list[Account]:
        rows = await self._pool.fetch(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"  # noqa: S608
            " WHERE strpos(lower(login), lower($1)) > 0 OR strpos(lower(email), lower($1)) > 0"
            ' ORDER BY login COLLATE "C" LIMIT $2 OFFSET $3',
            search,
            limit,
            offset,
        )
        return [_account(tuple(row)) for row in rows]

    async def _statuses(self, msgids: Sequence[int], per: int) -> dict[int, list[RecipientStatus]]:
        if not msgids:
            return {}
        return group_statuses(await self._pool.fetch(_STATUSES, list(msgids), per))

    async def search_messages(self, account_id: int, query: MessageQuery) -> list[MessageSummary]:
        filters, args = history_filters(query, "$", 2)
        n = len(args) + 2
        rows = await self._pool.fetch(
            "SELECT m.msgid, m.created_at, m.sender, m.text, m.cost FROM messages m"  # noqa: S608
            f" WHERE m.account_id = $1{filters}"
            f" ORDER BY m.created_at DESC, m.msgid DESC LIMIT ${n} OFFSET ${n + 1}",
            account_id,
            *args,
            query.limit,
            query.offset,
        )
        statuses = await self._statuses([int(r[0]) for r in rows], query.recipients)
        return summaries_of(rows, statuses)

    async def find_message(
        self, account_id: int, msgid: int, per_message: int = 500
    ) -> MessageSummary | None:
        rows = await self._pool.fetch(
            "SELECT msgid, created_at, sender, text, cost FROM messages"
            " WHERE msgid = $1 AND account_id = $2",
            msgid,
            account_id,
        )
        found = summaries_of(rows, await self._statuses([msgid], per_message)) if rows else []
        return found[0] if found else None

    async def states_of(
        self, account_id: int, msgids: Sequence[int], per_message: int = 500
    ) -> dict[int, tuple[RecipientStatus, ...]]:
        rows = await self._pool.fetch(
            "SELECT msgid FROM messages WHERE account_id = $1 AND msgid = ANY($2::bigint[])"
            " ORDER BY msgid",
            account_id,
            sorted(set(msgids)),
        )
        owned = [int(r[0]) for r in rows]
        statuses = await self._statuses(owned, per_message)
        return {msgid: tuple(statuses.get(msgid, ())) for msgid in owned}

    async def find_callback(self, event_id: int) -> CallbackEvent | None:
        row = await self._pool.fetchrow(CALLBACK + "$1", event_id)
        return None if row is None else callback_of(row)

    async def traffic(self, since: float) -> list[TrafficRow]:
        rows = await self._pool.fetch(
            "SELECT floor(m.created_at / 60) * 60 AS minute, r.state, count(*)"
            " FROM recipients r JOIN messages m ON m.msgid = r.msgid"
            " WHERE m.created_at >= $1 GROUP BY 1, 2 ORDER BY 1, 2",
            since,
        )
        return traffic_of(rows)
