"""SQLite backend: WAL, ``synchronous=FULL``, writes through the group-commit writer.

Reads run on a separate connection in the caller's thread (WAL readers never wait
for the writer; each read is one indexed lookup of a few microseconds).

This module holds the connections and the message path: accepting a message (its
rows and its debit in one transaction, batched by the writer) and reading messages
back. The other operations are mixins: accounts and ledger (`sqlite_accounts.py`),
connectors and routes (`sqlite_routes.py`), delivery (`sqlite_delivery.py`), callbacks
(`sqlite_callbacks.py`), retention (`sqlite_retention.py`), failed-login counters
(`sqlite_logins.py`), connector ownership (`sqlite_owners.py`), the e-mail outbox
(`sqlite_mail.py`), the web console (`sqlite_console.py`), contacts and groups
(`sqlite_directory.py`), API keys (`sqlite_keys.py`) and Idempotency-Keys
(`sqlite_idempotency.py`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from passerelle.core.states import RecipientState
from passerelle.core.values import (
    MessageSummary,
    NewMessage,
    RecipientStatus,
    new_msgid,
)
from passerelle.exceptions import NoCredit, StoreError
from passerelle.store.location import prepare_file, tighten
from passerelle.store.msgids import MsgidSource, message_row
from passerelle.store.signal import WorkSignal
from passerelle.store.sqlite_accounts import AccountOps
from passerelle.store.sqlite_callbacks import CallbackOps
from passerelle.store.sqlite_console import ConsoleOps
from passerelle.store.sqlite_delivery import DeliveryOps
from passerelle.store.sqlite_directory import DirectoryOps
from passerelle.store.sqlite_expiry import ExpiryOps
from passerelle.store.sqlite_idempotency import IdempotencyOps
from passerelle.store.sqlite_keys import KeyOps
from passerelle.store.sqlite_logins import LoginOps
from passerelle.store.sqlite_mail import MailOps
from passerelle.store.sqlite_owners import OwnerOps
from passerelle.store.sqlite_requests import RequestOps
from passerelle.store.sqlite_retention import RetentionOps
from passerelle.store.sqlite_routes import RoutingOps
from passerelle.store.writer import Writer

_MSGID_TRIES = 50


_DEBIT_SQL = "UPDATE accounts SET credits = credits - ? WHERE id = ? AND credits >= ?"
_MESSAGE_SQL = (
    "INSERT INTO messages (msgid, account_id, created_at, sender, sender_type,"
    " text, flash, callback, recipient_count, cost, idem_key)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_RECIPIENT_SQL = (
    "INSERT INTO recipients (msgid, dest, state, attempts, next_attempt_at) VALUES (?, ?, 0, 0, ?)"
)
_DEBIT_LEDGER_SQL = (
    "INSERT INTO ledger (account_id, at, delta, kind, actor, reason, msgid)"
    " VALUES (?, ?, ?, 'debit', 'api', 'envoi', ?)"
)


class _Accept:
    """One accepted message as rows, built before it reaches the writer thread."""

    __slots__ = ("account_id", "cost", "ledger", "message", "msgid", "recipients", "row")

    def __init__(self, m: NewMessage, msgid: int) -> None:
        self.account_id = m.account_id
        self.cost = m.cost
        self.message = m
        self.set_msgid(msgid)

    def set_msgid(self, msgid: int) -> None:
        """Use `msgid` in every row of the message."""
        m = self.message
        at = m.created_at
        self.msgid = msgid
        self.row = message_row(m, msgid)
        self.recipients = [(msgid, dest, at) for dest in m.recipients]
        self.ledger: tuple[Any, ...] = (m.account_id, at, -m.cost, msgid)


def _accept_one(conn: sqlite3.Connection, item: _Accept) -> int:
    """Charge and insert one message alone; a colliding msgid is drawn again."""
    m = item.message
    if conn.execute(_DEBIT_SQL, (m.cost, m.account_id, m.cost)).rowcount != 1:
        raise NoCredit()
    for _ in range(_MSGID_TRIES):
        try:
            conn.execute(_MESSAGE_SQL, item.row)
            break
        except sqlite3.IntegrityError:
            item.set_msgid(new_msgid())
    else:
        raise StoreError("no free msgid found")
    conn.executemany(_RECIPIENT_SQL, item.recipients)
    conn.execute(_DEBIT_LEDGER_SQL, item.ledger)
    return item.msgid


def _accept_many(conn: sqlite3.Connection, items: list[_Accept]) -> list[tuple[bool, Any]]:
    """Charge and insert a run of messages: one debit per account, one statement per table.

    When an account cannot pay for all its messages of the run, they are charged one
    at a time in arrival order, so exactly the ones that do not fit are refused (02).
    A msgid collision raises IntegrityError: the writer then redoes the run with
    `_accept_one` per message.
    """
    totals: dict[int, int] = {}
    for item in items:
        totals[item.account_id] = totals.get(item.account_id, 0) + item.cost
    refused: set[int] = set()
    for account_id, total in totals.items():
        if conn.execute(_DEBIT_SQL, (total, account_id, total)).rowcount != 1:
            for i, item in enumerate(items):
                if item.account_id == account_id:
                    cost = item.cost
                    if conn.execute(_DEBIT_SQL, (cost, account_id, cost)).rowcount != 1:
                        refused.add(i)
    kept = [item for i, item in enumerate(items) if i not in refused] if refused else items
    if kept:
        conn.executemany(_MESSAGE_SQL, [item.row for item in kept])
        if len(kept) == 1:
            conn.executemany(_RECIPIENT_SQL, kept[0].recipients)
        else:
            conn.executemany(_RECIPIENT_SQL, [r for item in kept for r in item.recipients])
        conn.executemany(_DEBIT_LEDGER_SQL, [item.ledger for item in kept])
    return [
        (False, NoCredit()) if i in refused else (True, item.msgid) for i, item in enumerate(items)
    ]


class SqliteStore(
    AccountOps,
    RoutingOps,
    DeliveryOps,
    ExpiryOps,
    CallbackOps,
    RetentionOps,
    LoginOps,
    OwnerOps,
    RequestOps,
    MailOps,
    ConsoleOps,
    DirectoryOps,
    KeyOps,
    IdempotencyOps,
):
    """The embedded default store (one file)."""

    def __init__(self, path: str, synchronous: str = "FULL", max_batch: int = 512) -> None:
        self.path = path
        self._synchronous = synchronous
        self._writer = Writer(self._connect_writer, max_batch, lock_path=path + ".write-lock")
        self._msgids = MsgidSource()
        self._work = WorkSignal()
        self._reader: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    def _connect_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"cannot use WAL journal mode on {self.path} (got {mode})")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        # prove the file writable now, not at the first request: rewrite a header field
        conn.execute("BEGIN IMMEDIATE")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute("COMMIT")
        return conn

    async def open(self) -> None:
        """Open the file (created 0600 if missing), start the writer, prove it can write."""
        url = f"sqlite:///{self.path}"
        prepare_file(self.path, url)
        try:
            self._writer.start()
            self._reader = self._connect()
        except (StoreError, sqlite3.Error, OSError) as error:
            self._writer.stop()
            reason = error.__cause__ if isinstance(error, StoreError) else error
            raise StoreError(f"cannot open the database {self.path}: {reason}") from None
        tighten(self.path)  # a -wal or -shm another process made wider meanwhile

    def clock(self) -> float:
        """The database's clock: SQLite's `'now'` is the host's clock, and every process
        that shares a SQLite file runs on that host."""
        return time.time()

    async def close(self) -> None:
        self._writer.stop()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def writer(self) -> Writer:
        """The group-commit writer (its counters are exported as metrics)."""
        return self._writer

    def _read(self) -> sqlite3.Connection:
        if self._reader is None:
            raise StoreError("the store is closed")
        return self._reader

    async def _measure(self, sql: str, args: tuple[object, ...]) -> tuple[Any, ...]:
        """The one row of a counting query, run in a thread on a connection of its own.

        Gauges count backlogs that can hold millions of rows (a million pending
        callback events: ~150 ms for their count and oldest); on the reader connection
        that would stall the event loop, and the API with it, every few seconds.
        """
        if self._reader is None:
            raise StoreError("the store is closed")

        def run() -> tuple[Any, ...]:
            conn = self._connect()
            try:
                return tuple(conn.execute(sql, args).fetchone())
            finally:
                conn.close()

        return await asyncio.to_thread(run)

    async def accept_message(self, message: NewMessage) -> int:
        m = message
        # the rows are built here, in the event loop's thread; the writer thread only
        # runs the statements (it competes with the event loop for the GIL)
        item = _Accept(m, self._msgids.draw())

        def op(conn: sqlite3.Connection) -> int:
            return _accept_one(conn, item)

        if m.idem_key is not None:  # alone, fenced by its reservation (sqlite_idempotency)
            msgid = await self._accept_fenced(m.account_id, m.idem_key, op)
        else:
            msgid = await self._writer.submit_batched(_accept_many, item, op)
        self._work.notify()
        return msgid

    async def wait_for_work(self, seconds: float) -> bool:
        return await self._work.wait(seconds)

    async def message_states(
        self, account_id: int, msgid: int, dest: str | None = None
    ) -> list[RecipientStatus]:
        sql = (
            "SELECT r.dest, r.state, r.stat, coalesce(r.final_at, r.submitted_at)"
            " FROM recipients r JOIN messages m ON m.msgid = r.msgid"
            " WHERE r.msgid = ? AND m.account_id = ?"
        )
        args: tuple[Any, ...] = (msgid, account_id)
        if dest is not None:
            sql += " AND r.dest = ?"
            args = (*args, dest)
        rows = self._read().execute(sql + " ORDER BY r.id", args).fetchall()
        return [RecipientStatus(r[0], RecipientState(r[1]), r[2], r[3]) for r in rows]

    async def recent_messages(self, account_id: int, limit: int = 10) -> list[MessageSummary]:
        conn = self._read()
        rows = conn.execute(
            "SELECT msgid, created_at, sender, text, cost FROM messages WHERE account_id = ?"
            " ORDER BY created_at DESC LIMIT ?",
            (account_id, limit),
        ).fetchall()
        out = []
        for msgid, created_at, sender, text, cost in rows:
            states = await self.message_states(account_id, msgid)
            out.append(MessageSummary(msgid, created_at, sender, text, cost, tuple(states)))
        return out

    async def count_messages(self, account_id: int) -> int:
        row = (
            self._read()
            .execute("SELECT count(*) FROM messages WHERE account_id = ?", (account_id,))
            .fetchone()
        )
        return int(row[0])

    async def ping(self) -> bool:
        try:
            self._read().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True
