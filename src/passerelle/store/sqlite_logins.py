"""SQLite failed-login counters, shared by every process on the database.

A verification is counted when it starts (`begin_login_attempt`), in one write
transaction that reads both counters, applies the pure rule `core.ratelimit
.decide_attempt` and stores its result: two processes cannot both take the last
attempt of a window. A success takes its count back and remembers the address for the
login (`login_succeeded`). Rows of windows long past are swept now and then.
"""

from __future__ import annotations

import sqlite3

from passerelle.core.ratelimit import (
    AttemptDecision,
    Counter,
    LoginPolicy,
    address_key,
    decide_attempt,
    login_key,
    uncount,
)
from passerelle.store.writer import Writer

SWEEP_EVERY_S = 300.0


def _counter(conn: sqlite3.Connection, key: str) -> Counter | None:
    row = conn.execute("SELECT start, count FROM login_counters WHERE key = ?", (key,)).fetchone()
    return None if row is None else Counter(row[0], row[1])


def _store(conn: sqlite3.Connection, key: str, counter: Counter) -> None:
    conn.execute(
        "INSERT INTO login_counters (key, start, count) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET start = excluded.start, count = excluded.count",
        (key, counter.start, counter.count),
    )


class LoginOps:
    """Login-attempt half of the SQLite store (a mixin of `SqliteStore`)."""

    _writer: Writer
    _login_swept_at: float = 0.0

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def login_blocks(
        self, now: float, policy: LoginPolicy
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Logins and addresses at their limit in a window not over yet, with its end."""
        limits = [n for n in (policy.per_login, policy.per_address) if n > 0]
        if not limits:
            return {}, {}
        rows = (
            self._read()
            .execute(
                "SELECT key, start, count FROM login_counters WHERE count >= ? AND start > ?",
                (min(limits), now - policy.window),
            )
            .fetchall()
        )
        logins: dict[str, float] = {}
        addresses: dict[str, float] = {}
        for key, start, count in rows:
            if key.startswith("l:"):
                if 0 < policy.per_login <= count:
                    logins[key[2:]] = start + policy.window
            elif 0 < policy.per_address <= count:
                addresses[key[2:]] = start + policy.window
        return logins, addresses

    async def known_address(self, login: str, address: str, since: float) -> bool:
        """True when `login` succeeded from `address` after `since`."""
        row = (
            self._read()
            .execute(
                "SELECT 1 FROM login_known WHERE login = ? AND address = ? AND at > ?",
                (login, address, since),
            )
            .fetchone()
        )
        return row is not None

    async def begin_login_attempt(
        self, login: str, address: str, now: float, policy: LoginPolicy
    ) -> AttemptDecision:
        """Count a verification about to start (when the rule allows it); the decision."""

        def op(conn: sqlite3.Connection) -> AttemptDecision:
            self._sweep_logins(conn, now, policy)
            known = conn.execute(
                "SELECT 1 FROM login_known WHERE login = ? AND address = ? AND at > ?",
                (login, address, now - policy.known_s),
            ).fetchone()
            decision = decide_attempt(
                _counter(conn, login_key(login)),
                _counter(conn, address_key(address)),
                known is not None,
                now,
                policy,
            )
            if decision.allowed:
                _store(conn, login_key(login), decision.login)
                _store(conn, address_key(address), decision.address)
            return decision

        result: AttemptDecision = await self._writer.submit(op)
        return result

    async def login_succeeded(self, login: str, address: str, now: float) -> None:
        """A counted verification succeeded: take its count back; remember the address."""

        def op(conn: sqlite3.Connection) -> None:
            for key in (login_key(login), address_key(address)):
                counter = uncount(_counter(conn, key))
                if counter is not None:
                    _store(conn, key, counter)
            conn.execute(
                "INSERT INTO login_known (login, address, at) VALUES (?, ?, ?)"
                " ON CONFLICT (login, address) DO UPDATE SET at = excluded.at",
                (login, address, now),
            )

        await self._writer.submit(op)

    def _sweep_logins(self, conn: sqlite3.Connection, now: float, policy: LoginPolicy) -> None:
        if now - self._login_swept_at < SWEEP_EVERY_S:
            return
        self._login_swept_at = now
        conn.execute("DELETE FROM login_counters WHERE start < ?", (now - policy.window,))
        conn.execute("DELETE FROM login_known WHERE at < ?", (now - policy.known_s,))
