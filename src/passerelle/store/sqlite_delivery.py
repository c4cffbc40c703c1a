"""SQLite delivery operations: connectors, routes, the outbox of recipients, receipts.

A mixin of `SqliteStore`: it uses the store's group-commit writer for every change
and its reader connection for reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from passerelle.core.routing import Route, ordered
from passerelle.core.states import RecipientState
from passerelle.store.sqlite_callbacks import add_event
from passerelle.store.values import Connector, DueRecipient, ReceiptMatch, RouteRow
from passerelle.store.writer import Writer

_CONNECTOR_COLUMNS = (
    "name, host, port, system_id, password, system_type, bind_mode, window, throughput,"
    " enquire_link_s, id_mode, coding, enabled, created_at"
)
QUEUED = int(RecipientState.QUEUED)
SUBMITTED = int(RecipientState.SUBMITTED)
FAILED = int(RecipientState.FAILED)


def apply_receipt(
    conn: sqlite3.Connection,
    recipient_id: int,
    state: RecipientState,
    stat: str,
    err: str | None,
    now: float,
) -> None:
    """Record a receipt's state for a recipient in flight; a final one queues its event."""
    if state.final:
        conn.execute(
            "UPDATE recipients SET state = ?, stat = ?, err = ?, final_at = ? WHERE id = ?",
            (int(state), stat, err, now, recipient_id),
        )
        add_event(conn, recipient_id, state, stat, err, now)
    else:
        conn.execute("UPDATE recipients SET stat = ? WHERE id = ?", (stat, recipient_id))


_SUBMITTED_SQL = (
    "UPDATE recipients SET state = ?, connector = ?, smsc_id = ?, submitted_at = ?,"
    " claimed_until = NULL, attempts = attempts + 1 WHERE id = ? AND state = ?"
)


def _submitted_many(
    conn: sqlite3.Connection, items: list[tuple[int, str, str, float]]
) -> list[tuple[bool, Any]]:
    """Record a run of submit_sm_resp in one statement; apply receipts kept early."""
    conn.executemany(
        _SUBMITTED_SQL,
        [
            (SUBMITTED, connector, smsc_id, now, rid, QUEUED)
            for rid, connector, smsc_id, now in items
        ],
    )
    if conn.execute("SELECT 1 FROM pending_receipts LIMIT 1").fetchone() is not None:
        for recipient_id, connector, smsc_id, now in items:
            early = conn.execute(
                "SELECT id, state, stat, err FROM pending_receipts"
                " WHERE connector = ? AND smsc_id = ? ORDER BY id DESC LIMIT 1",
                (connector, smsc_id),
            ).fetchone()
            if early is not None:
                apply_receipt(conn, recipient_id, RecipientState(early[1]), early[2], early[3], now)
                conn.execute(
                    "DELETE FROM pending_receipts WHERE connector = ? AND smsc_id = ?",
                    (connector, smsc_id),
                )
    return [(True, None)] * len(items)


class DeliveryOps:
    """Delivery half of the SQLite store."""

    _writer: Writer

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def _measure(self, sql: str, args: tuple[object, ...]) -> tuple[Any, ...]:
        raise NotImplementedError

    async def add_connector(self, connector: Connector) -> None:
        c = connector

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR REPLACE INTO connectors ({_CONNECTOR_COLUMNS})"  # noqa: S608
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    c.name,
                    c.host,
                    c.port,
                    c.system_id,
                    c.password,
                    c.system_type,
                    c.bind_mode,
                    c.window,
                    c.throughput,
                    c.enquire_link_s,
                    c.id_mode,
                    c.coding,
                    c.enabled,
                    c.created_at,
                ),
            )

        await self._writer.submit(op)

    async def list_connectors(self) -> list[Connector]:
        rows = (
            self._read()
            .execute(
                f"SELECT {_CONNECTOR_COLUMNS} FROM connectors ORDER BY name"  # noqa: S608
            )
            .fetchall()
        )
        return [
            Connector(
                name=r[0],
                host=r[1],
                port=r[2],
                system_id=r[3],
                password=r[4],
                system_type=r[5],
                bind_mode=r[6],
                window=r[7],
                throughput=r[8],
                enquire_link_s=r[9],
                id_mode=r[10],
                coding=r[11],
                enabled=bool(r[12]),
                created_at=r[13],
            )
            for r in rows
        ]

    async def remove_connector(self, name: str) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM connectors WHERE name = ?", (name,)).rowcount == 1

        removed: bool = await self._writer.submit(op)
        return removed

    async def add_route(self, route: Route, at: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO routes (position, prefix, connectors, created_at) VALUES (?, ?, ?, ?)",
                (route.position, route.prefix, ",".join(route.connectors), at),
            )
            return int(cur.lastrowid or 0)

        route_id: int = await self._writer.submit(op)
        return route_id

    async def list_routes(self) -> list[RouteRow]:
        rows = (
            self._read().execute("SELECT id, position, prefix, connectors FROM routes").fetchall()
        )
        by_route = {
            Route(position, prefix, tuple(n for n in names.split(",") if n)): route_id
            for route_id, position, prefix, names in rows
        }
        return [RouteRow(by_route[r], r) for r in ordered(by_route)]

    async def remove_route(self, route_id: int) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM routes WHERE id = ?", (route_id,)).rowcount == 1

        removed: bool = await self._writer.submit(op)
        return removed

    async def claim_due(self, now: float, lease: float, limit: int) -> list[DueRecipient]:
        def op(conn: sqlite3.Connection) -> list[DueRecipient]:
            rows = conn.execute(
                "SELECT r.id, r.msgid, r.dest, m.sender, m.sender_type, m.text, m.flash,"
                " r.attempts, m.created_at, r.claimed_until IS NOT NULL"
                " FROM recipients r JOIN messages m ON m.msgid = r.msgid"
                " WHERE r.state = ? AND r.next_attempt_at <= ?"
                " AND (r.claimed_until IS NULL OR r.claimed_until <= ?)"
                " ORDER BY r.next_attempt_at LIMIT ?",
                (QUEUED, now, now, limit),
            ).fetchall()
            if rows:
                conn.executemany(
                    "UPDATE recipients SET reclaims = reclaims + (claimed_until IS NOT NULL),"
                    " claimed_until = ? WHERE id = ?",
                    [(now + lease, row[0]) for row in rows],
                )
            return [
                DueRecipient(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], bool(r[9]))
                for r in rows
            ]

        due: list[DueRecipient] = await self._writer.submit(op)
        return due

    async def mark_submitted(
        self, recipient_id: int, connector: str, smsc_id: str, now: float
    ) -> None:
        item = (recipient_id, connector, smsc_id, now)
        await self._writer.submit_batched(
            _submitted_many, item, lambda conn: _submitted_many(conn, [item])[0][1]
        )

    async def mark_retry(self, recipient_id: int, next_at: float, err: str) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE recipients SET state = ?, next_attempt_at = ?, err = ?,"
                " claimed_until = NULL, attempts = attempts + 1 WHERE id = ? AND state IN (?, ?)",
                (QUEUED, next_at, err, recipient_id, QUEUED, SUBMITTED),
            )

        await self._writer.submit(op)

    async def mark_failed(self, recipient_id: int, err: str, now: float, refund: bool) -> None:
        def op(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE recipients SET state = ?, err = ?, final_at = ?, claimed_until = NULL"
                " WHERE id = ? AND state IN (?, ?)",
                (FAILED, err, now, recipient_id, QUEUED, SUBMITTED),
            )
            if cur.rowcount != 1:
                return
            add_event(conn, recipient_id, RecipientState.FAILED, "FAILED", err[:16], now)
            if not refund:
                return
            row = conn.execute(
                "SELECT m.account_id, m.msgid, m.cost / m.recipient_count FROM recipients r"
                " JOIN messages m ON m.msgid = r.msgid WHERE r.id = ?",
                (recipient_id,),
            ).fetchone()
            account_id, msgid, amount = row
            conn.execute(
                "UPDATE accounts SET credits = credits + ? WHERE id = ?", (amount, account_id)
            )
            conn.execute(
                "INSERT INTO ledger (account_id, at, delta, kind, actor, reason, msgid)"
                " VALUES (?, ?, ?, 'refund', 'dispatcher', ?, ?)",
                (account_id, now, amount, f"not delivered to any operator: {err}", msgid),
            )

        await self._writer.submit(op)

    async def release(self, recipient_ids: Sequence[int]) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE recipients SET claimed_until = NULL WHERE id = ? AND state = ?",
                [(rid, QUEUED) for rid in recipient_ids],
            )

        await self._writer.submit(op)

    async def record_receipt(
        self,
        connector: str,
        smsc_id: str,
        state: RecipientState,
        stat: str,
        err: str | None,
        now: float,
    ) -> ReceiptMatch:
        def op(conn: sqlite3.Connection) -> ReceiptMatch:
            row = conn.execute(
                "SELECT id, state FROM recipients WHERE smsc_id = ? AND connector = ?"
                " ORDER BY id DESC LIMIT 1",
                (smsc_id, connector),
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO pending_receipts (connector, smsc_id, state, stat, err,"
                    " received_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (connector, smsc_id, int(state), stat, err, now),
                )
                return ReceiptMatch.PENDING
            if RecipientState(row[1]).final:
                return ReceiptMatch.IGNORED
            apply_receipt(conn, row[0], state, stat, err, now)
            return ReceiptMatch.APPLIED

        match: ReceiptMatch = await self._writer.submit(op)
        return match

    async def queue_depth(self) -> int:
        (count,) = await self._measure("SELECT count(*) FROM recipients WHERE state = ?", (QUEUED,))
        return int(count)

    async def delivery_counts(self) -> dict[RecipientState, int]:
        rows: list[Any] = (
            self._read().execute("SELECT state, count(*) FROM recipients GROUP BY state").fetchall()
        )
        return {RecipientState(state): count for state, count in rows}
