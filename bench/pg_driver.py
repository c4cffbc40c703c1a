"""Which PostgreSQL driver for the store: asyncpg or psycopg 3, on the store's own work.

Measures, on a throwaway schema, the three shapes the PostgreSQL store spends its time
in, with each driver at its best (asyncpg's `executemany`; psycopg's pipeline mode):

- **accept batch**: the group commit of B single-recipient messages in one
  transaction (debit per account, messages, recipients, ledger rows), B = 64;
- **claim**: `FOR UPDATE SKIP LOCKED` of 64 due recipients and marking them submitted;
- **point read**: one message's recipients by msgid (what `statut` does).

Usage: python bench/pg_driver.py [POSTGRES_URL] [--seconds S]
(default URL postgresql://postgres@127.0.0.1:5432/test). It needs both drivers; psycopg
is not a project dependency, so run it from a venv of its own:
    python3 -m venv /tmp/drivers && /tmp/drivers/bin/pip install asyncpg "psycopg[binary]"
    /tmp/drivers/bin/python bench/pg_driver.py
Prints operations per second for each driver and shape, best of 3 rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable

import asyncpg
import psycopg

SCHEMA = "bench_pg_driver"
BATCH = 64
DDL = f"""
DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;
CREATE SCHEMA {SCHEMA};
SET search_path TO {SCHEMA};
CREATE TABLE accounts (id int PRIMARY KEY, credits bigint NOT NULL CHECK (credits >= 0));
CREATE TABLE messages (msgid bigint PRIMARY KEY, account_id int NOT NULL, created_at float8,
  sender text, text text, cost int);
CREATE TABLE recipients (id bigserial PRIMARY KEY, msgid bigint NOT NULL, dest text,
  state smallint, next_attempt_at float8, claimed_until float8, smsc_id text);
CREATE INDEX recipients_queued ON recipients (next_attempt_at) WHERE state = 0;
CREATE INDEX recipients_msgid ON recipients (msgid);
CREATE TABLE ledger (id bigserial PRIMARY KEY, account_id int, at float8, delta bigint,
  msgid bigint);
INSERT INTO accounts SELECT g, 1000000000 FROM generate_series(1, 10) g;
"""
DEBIT = (
    "UPDATE accounts a SET credits = a.credits - d.total"
    " FROM (SELECT unnest($1::int[]) AS id, unnest($2::bigint[]) AS total) d"
    " WHERE a.id = d.id AND a.credits >= d.total RETURNING a.id"
)
INSERT_MESSAGE = "INSERT INTO messages VALUES ($1, $2, $3, 'Shop', 'hello', 1)"
INSERT_RECIPIENT = (
    "INSERT INTO recipients (msgid, dest, state, next_attempt_at) VALUES ($1, $2, 0, $3)"
)
INSERT_LEDGER = "INSERT INTO ledger (account_id, at, delta, msgid) VALUES ($1, $2, -1, $3)"
CLAIM = (
    "UPDATE recipients SET claimed_until = $1 WHERE id IN (SELECT id FROM recipients"
    " WHERE state = 0 AND next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3"
    " FOR UPDATE SKIP LOCKED) RETURNING id, msgid, dest"
)
SUBMITTED = "UPDATE recipients SET state = 1, smsc_id = $1 WHERE id = $2"
READ = "SELECT dest, state, smsc_id FROM recipients WHERE msgid = $1 ORDER BY id"


MSGIDS = itertools.count(10**8)


def batch() -> list[tuple[int, int]]:
    """B (msgid, account) pairs."""
    return [(next(MSGIDS), random.randint(1, 10)) for _ in range(BATCH)]


def debits(rows: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    totals: dict[int, int] = {}
    for _, account in rows:
        totals[account] = totals.get(account, 0) + 1
    return list(totals), list(totals.values())


def psy(sql: str) -> str:
    """The same statement with psycopg's placeholders (each $n appears in order)."""
    for n in range(9, 0, -1):
        sql = sql.replace(f"${n}", "%s")
    return sql


async def rate(op: Callable[[], Awaitable[int]], seconds: float) -> float:
    """Best of 3 rounds of `seconds`: units of work per second."""
    best = 0.0
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            done += await op()
        best = max(best, done / (time.perf_counter() - start))
    return best


async def with_asyncpg(url: str, seconds: float) -> dict[str, float]:
    conn = await asyncpg.connect(url, server_settings={"search_path": SCHEMA})

    async def accept() -> int:
        rows, now = batch(), time.time()
        async with conn.transaction():
            ids, totals = debits(rows)
            await conn.fetch(DEBIT, ids, totals)
            await conn.executemany(INSERT_MESSAGE, [(m, a, now) for m, a in rows])
            await conn.executemany(INSERT_RECIPIENT, [(m, "33612345678", now) for m, _ in rows])
            await conn.executemany(INSERT_LEDGER, [(a, now, m) for m, a in rows])
        return BATCH

    async def claim() -> int:
        now = time.time()
        async with conn.transaction():
            got = await conn.fetch(CLAIM, now + 60, now, BATCH)
            await conn.executemany(SUBMITTED, [(f"id{r['id']}", r["id"]) for r in got])
        return len(got)

    msgids = [r[0] for r in await conn.fetch("SELECT msgid FROM messages LIMIT 1000")]

    async def read() -> int:
        await conn.fetch(READ, random.choice(msgids or [0]))
        return 1

    out = {"accept": await rate(accept, seconds)}
    msgids = [r[0] for r in await conn.fetch("SELECT msgid FROM messages LIMIT 1000")]
    out["claim"] = await rate(claim, seconds)
    out["read"] = await rate(read, seconds)
    await conn.close()
    return out


async def with_psycopg(url: str, seconds: float) -> dict[str, float]:
    conn = await psycopg.AsyncConnection.connect(
        url, options=f"-c search_path={SCHEMA}", autocommit=True
    )
    debit, message, recipient = psy(DEBIT), psy(INSERT_MESSAGE), psy(INSERT_RECIPIENT)
    ledger, claim_sql = psy(INSERT_LEDGER), psy(CLAIM)
    submitted, read_sql = psy(SUBMITTED), psy(READ)

    async def accept() -> int:
        rows, now = batch(), time.time()
        async with conn.transaction(), conn.pipeline(), conn.cursor() as cur:
            ids, totals = debits(rows)
            await cur.execute(debit, (ids, totals))
            await cur.executemany(message, [(m, a, now) for m, a in rows])
            await cur.executemany(recipient, [(m, "33612345678", now) for m, _ in rows])
            await cur.executemany(ledger, [(a, now, m) for m, a in rows])
        return BATCH

    async def claim() -> int:
        now = time.time()
        async with conn.transaction(), conn.cursor() as cur:
            await cur.execute(claim_sql, (now + 60, now, BATCH))
            got = await cur.fetchall()
            async with conn.pipeline():
                await cur.executemany(submitted, [(f"id{r[0]}", r[0]) for r in got])
        return len(got)

    msgids: list[int] = []

    async def read() -> int:
        async with conn.cursor() as cur:
            await cur.execute(read_sql, (random.choice(msgids or [0]),))
            await cur.fetchall()
        return 1

    out = {"accept": await rate(accept, seconds)}
    async with conn.cursor() as cur:
        await cur.execute("SELECT msgid FROM messages LIMIT 1000")
        msgids = [r[0] for r in await cur.fetchall()]
    out["claim"] = await rate(claim, seconds)
    out["read"] = await rate(read, seconds)
    await conn.close()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    results = {}
    for name, run in (("asyncpg", with_asyncpg), ("psycopg", with_psycopg)):
        setup = await asyncpg.connect(args.url)
        await setup.execute(DDL)
        await setup.close()
        results[name] = await run(args.url, args.seconds)
    setup = await asyncpg.connect(args.url)
    await setup.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    await setup.close()
    print(f"{'shape':<28}{'asyncpg':>12}{'psycopg 3':>12}{'ratio':>8}")
    for shape, unit in (("accept", "msg/s"), ("claim", "rcpt/s"), ("read", "reads/s")):
        a, p = results["asyncpg"][shape], results["psycopg"][shape]
        print(f"{shape + ' (' + unit + ')':<28}{a:>12.0f}{p:>12.0f}{a / p:>8.2f}")


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
