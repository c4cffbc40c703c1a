"""PostgreSQL failed-login counters (a mixin of `PgStore`; the SQLite twin is
`sqlite_logins.py`), shared by every process of a cluster.

A verification is counted when it starts (`begin_login_attempt`), in one transaction
that locks both counter rows (the login's and the address's), reads them, applies the
pure rule `core.ratelimit.decide_attempt` and stores its result: attempts for the same
login or from the same address wait for each other, so no two processes take the last
attempt of a window. A counter that does not exist yet is first inserted as a
placeholder that counts nothing (its window started at -infinity, long over: to the
rule, the same as no counter), so that there is a row to lock; a refusal leaves it, and
the sweep removes it with the windows long past. Rows are locked in key order, so two
attempts never wait for each other both ways. A success takes its count back
(`core.ratelimit.uncount`) under the same locks (`login_succeeded`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from passerelle.core.ratelimit import (
    AttemptDecision,
    Counter,
    LoginPolicy,
    address_key,
    decide_attempt,
    login_key,
    uncount,
)
from passerelle.store.postgres_base import PgRole

if TYPE_CHECKING:
    from passerelle.store.postgres_base import Conn

SWEEP_EVERY_S = 300.0

# create the missing counters as placeholders and lock every one of them, in key order
# (a conflicting row is locked even though the WHERE keeps it as it is)
_LOCK = (
    "INSERT INTO login_counters (key, start, count)"
    " SELECT k, '-infinity', 0 FROM unnest($1::text[]) AS k ORDER BY k"
    " ON CONFLICT (key) DO UPDATE SET count = login_counters.count WHERE false"
)
_STORE = (
    "UPDATE login_counters SET start = c.start, count = c.count"
    " FROM unnest($1::text[], $2::float8[], $3::int[]) AS c(key, start, count)"
    " WHERE login_counters.key = c.key"
)
# counters at their limit ($2 for logins, $3 for addresses; NULL: no limit) in a window
# not over yet
_BLOCKS = (
    "SELECT key, start FROM login_counters WHERE start > $1"
    " AND count >= CASE WHEN key LIKE 'l:%' THEN $2::int ELSE $3::int END"
)
_KNOWN = "SELECT 1 FROM login_known WHERE login = $1 AND address = $2 AND at > $3"
# what no attempt in progress holds: the sweep never waits, so it never deadlocks
_SWEEP_COUNTERS = (
    "DELETE FROM login_counters WHERE key IN"
    " (SELECT key FROM login_counters WHERE start < $1 FOR UPDATE SKIP LOCKED)"
)
_SWEEP_KNOWN = (
    "DELETE FROM login_known WHERE (login, address) IN"
    " (SELECT login, address FROM login_known WHERE at < $1 FOR UPDATE SKIP LOCKED)"
)


class PgLogins(PgRole):
    """The logins role of the PostgreSQL store."""

    _login_swept_at: float = 0.0

    async def login_blocks(
        self, now: float, policy: LoginPolicy
    ) -> tuple[dict[str, float], dict[str, float]]:
        limits = [n if n > 0 else None for n in (policy.per_login, policy.per_address)]
        if limits == [None, None]:
            return {}, {}
        rows = await self._pool.fetch(_BLOCKS, now - policy.window, *limits)
        blocks: tuple[dict[str, float], dict[str, float]] = ({}, {})
        for key, start in rows:
            blocks[0 if key.startswith("l:") else 1][key[2:]] = start + policy.window
        return blocks

    async def known_address(self, login: str, address: str, since: float) -> bool:
        return await self._pool.fetchval(_KNOWN, login, address, since) is not None

    async def begin_login_attempt(
        self, login: str, address: str, now: float, policy: LoginPolicy
    ) -> AttemptDecision:
        await self._sweep_logins(now, policy)
        keys = (login_key(login), address_key(address))
        async with self._tx() as conn:
            await conn.execute(_LOCK, sorted(keys))
            counters = await _counters(conn, keys)
            known = await conn.fetchval(_KNOWN, login, address, now - policy.known_s)
            decision = decide_attempt(
                counters.get(keys[0]), counters.get(keys[1]), known is not None, now, policy
            )
            if decision.allowed:
                await _store(conn, {keys[0]: decision.login, keys[1]: decision.address})
        return decision

    async def login_succeeded(self, login: str, address: str, now: float) -> None:
        keys = (login_key(login), address_key(address))
        async with self._tx() as conn:
            counters = await _counters(conn, keys, lock=True)
            taken_back = {key: uncount(counter) for key, counter in counters.items()}
            await _store(conn, {k: c for k, c in taken_back.items() if c is not None})
            await conn.execute(
                "INSERT INTO login_known (login, address, at) VALUES ($1, $2, $3)"
                " ON CONFLICT (login, address) DO UPDATE SET at = excluded.at",
                login,
                address,
                now,
            )

    async def _sweep_logins(self, now: float, policy: LoginPolicy) -> None:
        """Now and then, delete the counters of windows long past and old successes."""
        if now - self._login_swept_at < SWEEP_EVERY_S:
            return
        self._login_swept_at = now
        async with self._tx() as conn:
            await conn.execute(_SWEEP_COUNTERS, now - policy.window)
            await conn.execute(_SWEEP_KNOWN, now - policy.known_s)


async def _counters(conn: Conn, keys: tuple[str, str], lock: bool = False) -> dict[str, Counter]:
    """The counters stored for `keys`; with `lock`, locked (in key order) until commit."""
    sql = "SELECT key, start, count FROM login_counters WHERE key = ANY($1::text[])"
    if lock:
        sql += " ORDER BY key FOR UPDATE"
    rows = await conn.fetch(sql, list(keys))
    return {row[0]: Counter(row[1], row[2]) for row in rows}


async def _store(conn: Conn, counters: dict[str, Counter]) -> None:
    """Write counters whose rows exist (and are locked by this transaction)."""
    if counters:
        await conn.execute(
            _STORE,
            list(counters),
            [c.start for c in counters.values()],
            [c.count for c in counters.values()],
        )
