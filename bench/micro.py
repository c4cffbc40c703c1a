#!/usr/bin/env python3
"""In-process micro-benchmarks behind docs/performance.md "Where the time goes".

    .venv/bin/python bench/micro.py handler   # legacy handler on the memory store, no HTTP
    .venv/bin/python bench/micro.py log       # one access-log line
    .venv/bin/python bench/micro.py writer    # SQLite group commit: current op vs batched SQL

Run by hand, never in CI.  Nothing listens on the network; the writer test uses a
temporary SQLite file (synchronous=FULL) that it removes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import timeit

from passerelle.api.params import LegacyParams, merge, parse_urlencoded
from passerelle.core.message import SendRequest, validate_send
from passerelle.logs import (
    access_log,
    bind_login,
    bind_msgid,
    bind_request,
    log_access,
    redact_target,
    setup_logging,
)

QUERY = (
    b"action=envoi&login=bench&apipasse=bench&origine=12345"
    b"&msg=Benchmark+message+from+bench-peer&dest=33600000001"
)
N = 20000


def per_call_us(fn, n: int = N) -> float:
    return timeit.timeit(fn, number=n) / n * 1e6


def handler() -> None:
    from passerelle.settings import Settings
    from passerelle.wiring import create_app

    def run(access_log: bool) -> float:
        settings = Settings.load(
            database_url="memory://", min_api_password_length=4, access_log=access_log
        )
        setup_logging(settings.log_level, settings.log_format)
        _to_devnull()
        app = create_app(settings)

        async def go() -> float:
            await app.gateway.create_account("bench", "b@example.com", "bench", 10**9)

            async def send(_message: dict) -> None:
                return None

            async def receive() -> dict:
                return {"type": "http.request", "body": b"", "more_body": False}

            def scope(i: int) -> dict:
                query = QUERY.replace(b"33600000001", b"%d" % (33600000000 + i))
                return {
                    "type": "http", "method": "GET", "path": "/client/api",
                    "raw_path": b"/client/api", "query_string": query, "headers": [],
                    "client": ("127.0.0.1", 5000),
                }  # fmt: skip

            for i in range(500):  # warm the caches (argon2 once)
                await app.legacy(scope(i), receive, send)
            t0 = time.perf_counter()
            for i in range(N):
                await app.legacy(scope(1000 + i), receive, send)
            return (time.perf_counter() - t0) / N * 1e6

        return asyncio.run(go())

    print(f"legacy handler, memory store, access log off: {run(False):.1f} us/request")
    print(f"legacy handler, memory store, access log on (to /dev/null): {run(True):.1f} us/request")
    parse = per_call_us(lambda: parse_urlencoded(QUERY))
    print(f"  parse_urlencoded: {parse:.1f} us")
    both = per_call_us(lambda: LegacyParams.from_mapping(merge([{}, parse_urlencoded(QUERY)])))
    print(f"  merge + LegacyParams.from_mapping: {both - parse:.1f} us")
    params = LegacyParams.from_mapping(parse_urlencoded(QUERY))
    request = SendRequest(params.dest, params.origine, params.msg)
    print(f"  validate_send: {per_call_us(lambda: validate_send(request, 500)):.1f} us")
    print(f"  redact_target: {per_call_us(lambda: redact_target(b'/client/api', QUERY)):.1f} us")


def _to_devnull() -> None:
    """Send the log handler and the direct access-log writer to /dev/null."""
    devnull = open(os.devnull, "w")  # noqa: SIM115
    logging.getLogger().handlers[0].stream = devnull  # type: ignore[attr-defined]
    writer = access_log()
    if writer is not None:
        writer.stream = devnull


def log() -> None:
    setup_logging("info", "json")
    _to_devnull()
    access = logging.getLogger("passerelle.access")
    writer = access_log()
    assert writer is not None

    async def buffered() -> float:
        t0 = time.perf_counter()
        for _ in range(N):
            writer.write(
                writer.line(
                    "GET", redact_target(b"/client/api", QUERY), "envoi", "ok", 1.23, "127.0.0.1"
                )
            )
        return (time.perf_counter() - t0) / N * 1e6

    print(f"access-log line, direct buffered AccessLog.write: {asyncio.run(buffered()):.1f} us")

    async def with_context() -> float:
        t0 = time.perf_counter()
        for _ in range(N):
            bind_request()
            bind_login("bench")
            bind_msgid(123456789)
            log_access(
                "GET", redact_target(b"/client/api", QUERY), "envoi", "ok", 1.23, "127.0.0.1"
            )
        return (time.perf_counter() - t0) / N * 1e6

    print(
        "access-log line as the handler writes it (context bound and read, login and msgid):"
        f" {asyncio.run(with_context()):.1f} us"
    )

    def current() -> None:
        access.info(
            "request",
            extra={"method": "GET", "target": redact_target(b"/client/api", QUERY),
                   "action": "envoi", "code": "ok", "ms": 1.23, "client": "127.0.0.1"},
        )  # fmt: skip

    print(f"access-log line as today (JsonFormatter, StreamHandler): {per_call_us(current):.1f} us")
    saved = logging._srcfile  # type: ignore[attr-defined]
    logging._srcfile = None  # type: ignore[attr-defined]
    print(f"  the same without findCaller (logging._srcfile = None): {per_call_us(current):.1f} us")
    logging._srcfile = saved  # type: ignore[attr-defined]
    out = open(os.devnull, "w", buffering=1 << 16)  # noqa: SIM115

    def direct() -> None:
        out.write(
            json.dumps(
                {"ts": time.time(), "level": "info", "logger": "passerelle.access",
                 "msg": "request", "method": "GET",
                 "target": redact_target(b"/client/api", QUERY), "action": "envoi",
                 "code": "ok", "ms": 1.23, "client": "127.0.0.1"}
            )
            + "\n"
        )  # fmt: skip

    print(f"  direct json.dumps + buffered write: {per_call_us(direct):.1f} us")


def writer() -> None:
    from passerelle.core.values import NewAccount, NewMessage, new_msgid
    from passerelle.store import migrate
    from passerelle.store.sqlite import SqliteStore

    folder = tempfile.mkdtemp(prefix="passerelle-micro-")
    db = os.path.join(folder, "w.db")
    conc = 50

    def cpu() -> float:
        t = os.times()
        return t.user + t.system

    async def current() -> int:
        store = SqliteStore(db, "FULL", 512)
        await store.open()
        account = await store.create_account(
            NewAccount(login="w", email="w@example.com", api_password_hash="x",
                       callback_secret="s", created_at=time.time(), credits=10**9)
        )  # fmt: skip

        def message(i: int) -> NewMessage:
            return NewMessage(
                account_id=account.id, created_at=time.time(), sender="12345", sender_type=0,
                text="Benchmark message", flash=False, callback=False,
                recipients=(str(33600000000 + i),), cost=1,
            )  # fmt: skip

        c0, t0 = cpu(), time.perf_counter()
        for k in range(0, N, conc):
            await asyncio.gather(*(store.accept_message(message(k + i)) for i in range(conc)))
        c1, t1 = cpu(), time.perf_counter()
        print(
            f"accept_message through the Writer, {conc} concurrent: {N / (t1 - t0):.0f} ops/s,"
            f" {(c1 - c0) / N * 1e6:.1f} us CPU/op (both threads), {store.writer.batches} commits"
        )
        await store.close()
        return account.id

    try:
        migrate.upgrade("sqlite:///" + db)
        account_id = asyncio.run(current())
        # the proposal: per batch, one statement per table (executemany)
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        # msgids are random 9-digit numbers: avoid the (birthday) collisions up front
        # here; a real implementation retries the colliding one, as accept_message does
        taken = {row[0] for row in conn.execute("SELECT msgid FROM messages")}

        def fresh_msgid() -> int:
            for _ in range(50):
                msgid = new_msgid()
                if msgid not in taken:
                    taken.add(msgid)
                    return msgid
            raise RuntimeError("no free msgid")

        c0, t0 = cpu(), time.perf_counter()
        for k in range(0, N, conc):
            now = time.time()
            rows = [
                (fresh_msgid(), account_id, now, "12345", 0, "Benchmark message", 0, 0, 1, 1)
                for _ in range(conc)
            ]
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute(
                "UPDATE accounts SET credits = credits - ? WHERE id = ? AND credits >= ?",
                (len(rows), account_id, len(rows)),
            )
            assert cur.rowcount == 1
            conn.executemany(
                "INSERT INTO messages (msgid, account_id, created_at, sender, sender_type, text,"
                " flash, callback, recipient_count, cost) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            conn.executemany(
                "INSERT INTO recipients (msgid, dest, state, attempts, next_attempt_at)"
                " VALUES (?, ?, 0, 0, ?)",
                [(r[0], str(33700000000 + k + i), now) for i, r in enumerate(rows)],
            )
            conn.executemany(
                "INSERT INTO ledger (account_id, at, delta, kind, actor, reason, msgid)"
                " VALUES (?, ?, -1, 'debit', 'api', 'envoi', ?)",
                [(account_id, now, r[0]) for r in rows],
            )
            conn.execute("COMMIT")
        c1, t1 = cpu(), time.perf_counter()
        conn.close()
        print(
            f"prototype, one executemany per table per batch of {conc}: {N / (t1 - t0):.0f} ops/s,"
            f" {(c1 - c0) / N * 1e6:.1f} us CPU/op"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    tests = {"handler": handler, "log": log, "writer": writer}
    if what not in tests:
        raise SystemExit("usage: micro.py handler|log|writer")
    tests[what]()
