#!/usr/bin/env python3
"""Callback benchmark (issue 5): do callbacks keep pace with receipts? Run by hand, never in CI.

Two modes, each starting (and stopping, by pid) its own processes in a temporary
folder, everything on 127.0.0.1, every loop bounded in count and time:

* ``sender``: the sender's capacity alone.  A fast callback receiver in its own
  process (asyncio + uvloop, HTTP/1.1 keep-alive, answers ``200 OK``, counts requests
  and distinct event ids, keeps a sample of raw requests whose signatures the harness
  verifies); a fresh SQLite file (``passerelle db upgrade``) with the account
  ``bench`` whose callback URL is the receiver; ``passerelle serve`` with
  ``PASSERELLE_DELIVERY=false`` and ``PASSERELLE_CALLBACK_ALLOW_PRIVATE=true``; once it
  is ready, N pending ``callback_events`` rows are inserted with one ``executemany``
  (state 0, next_attempt_at = now) and the harness polls the file (read-only) until
  all are delivered.  Reports events/s (database: delivered_at; receiver: first ->
  last request), gateway CPU per event, attempt latency p50/p99
  (callback_attempts.latency_ms).  Repeated for each ``--per-host`` value.
* ``e2e``: receipts and callbacks together.  Like ``e2e_bench.py`` (standalone
  simulator, connector, serve with delivery on, wrk with ``sendsms.lua``) but the
  path carries ``&callback=1`` and the run ends when every callback of the run has
  arrived (bounded).  Reports msg/s from the first request to the last receipt and
  to the last callback received, the callback lag behind the receipt
  (callback_events.delivered_at - recipients.final_at) and gateway CPU per message.

Usage: bench/callbacks.sh sender|e2e [options], or ``callbacks_bench.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import e2e_bench
from e2e_bench import Simulator, code_version, pct, ro, tree, tree_cpu
from legacy_bench import HOST, Profiler, Server, cpu_s, log, status_kib, wait_quiet

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DELIVERED_EVENT = 1  # CallbackState.DELIVERED
RECEIVER_LIFETIME_S = 3600
SAMPLE_EVERY = 200  # the receiver keeps every 200th request (and the first 20) raw


# --- the receiver (its own process: `callbacks_bench.py receiver ...`) -----------------


class Counts:
    def __init__(self) -> None:
        self.requests = 0
        self.ids: set[int] = set()
        self.first = 0.0
        self.last = 0.0
        self.per_second: dict[int, int] = {}
        self.methods: dict[str, int] = {}
        self.sample: list[dict[str, str]] = []
        self.connections = 0

    def dump(self, port: int) -> dict[str, object]:
        return {
            "port": port,
            "requests": self.requests,
            "distinct": len(self.ids),
            "first": self.first,
            "last": self.last,
            "connections": self.connections,
            "methods": self.methods,
            "per_second": self.per_second,
            "sample": self.sample,
        }


class ReceiverProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive: enough for Passerelle's callbacks (Content-Length bodies)."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nOK\n"

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.counts.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        out = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buf) < end + 4 + length:
                break
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            self.handle(lines[0], headers, body)
            out.append(self.ANSWER)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def handle(self, request_line: str, headers: dict[str, str], body: bytes) -> None:
        c = self.counts
        now = time.time()
        c.requests += 1
        if not c.first:
            c.first = now
        c.last = now
        sec = int(now)
        c.per_second[sec] = c.per_second.get(sec, 0) + 1
        method, _, target = request_line.partition(" ")
        c.methods[method] = c.methods.get(method, 0) + 1
        with contextlib.suppress(ValueError):
            c.ids.add(int(headers.get("x-passerelle-event-id", "")))
        if c.requests <= 20 or c.requests % SAMPLE_EVERY == 0:
            payload = body if method == "POST" else target.partition("?")[2].split(" ")[0].encode()
            c.sample.append(
                {
                    "signature": headers.get("x-passerelle-signature", ""),
                    "event_id": headers.get("x-passerelle-event-id", ""),
                    "payload": payload.decode("latin-1"),
                }
            )


async def receiver_main(stats_path: Path) -> None:
    counts = Counts()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ReceiverProtocol(counts), HOST, 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    def write() -> None:
        tmp = stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(counts.dump(port)))
        tmp.replace(stats_path)

    deadline = time.monotonic() + RECEIVER_LIFETIME_S
    while not stop.is_set() and time.monotonic() < deadline:
        write()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)
    write()
    server.close()


class Receiver:
    """The receiver process, started and stopped by pid; its stats from a JSON file."""

    def __init__(self, folder: Path) -> None:
        self.stats_path = folder / "receiver-stats.json"
        self.log_path = folder / "receiver.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/dlr"

    def start(self) -> None:
        logf = open(self.log_path, "ab")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "receiver", "--stats-file", str(self.stats_path)],
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=logf,
        )
        logf.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("receiver exited:\n" + self.log_path.read_text()[-2000:])
            port = self.stats().get("port", 0)
            if port:
                self.port = int(port)  # type: ignore[call-overload]
                log(f"receiver pid {self.pid} on {self.url}")
                return
            time.sleep(0.1)
        raise SystemExit("receiver did not write its port within 30 s")

    def stats(self) -> dict[str, object]:
        for _ in range(20):  # bounded retry (the file is replaced atomically)
            try:
                return json.loads(self.stats_path.read_text())  # type: ignore[no-any-return]
            except (OSError, ValueError):
                time.sleep(0.05)
        return {}

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        log(f"receiver pid {self.pid} stopped (exit {self.proc.returncode})")


def verify_sample(secret: str, sample: list[dict[str, str]]) -> tuple[int, int]:
    """(checked, good) signatures of the receiver's sample (docs/callbacks.md)."""
    good = 0
    for s in sample:
        parts = dict(p.split("=", 1) for p in s["signature"].split(",") if "=" in p)
        t, v1 = parts.get("t", ""), parts.get("v1", "")
        mac = hmac.new(
            secret.encode(), t.encode() + b"." + s["payload"].encode("latin-1"), "sha256"
        )
        fresh = t.isdigit() and abs(time.time() - int(t)) < 300
        good += int(fresh and hmac.compare_digest(mac.hexdigest(), v1))
    return len(sample), good


# --- shared setup ------------------------------------------------------------------------


def gateway_env(args: argparse.Namespace, per_host: int, delivery: bool) -> dict[str, str]:
    return {
        "PASSERELLE_DELIVERY": "true" if delivery else "false",
        "PASSERELLE_BUILTIN_SIMULATOR": "false",
        "PASSERELLE_WORKERS": str(args.workers),
        "PASSERELLE_CALLBACKS": "true",
        "PASSERELLE_CALLBACK_ALLOW_PRIVATE": "true",
        "PASSERELLE_CALLBACK_PER_HOST": str(per_host),
        "PASSERELLE_CALLBACK_CONCURRENCY": str(args.concurrency),
        "PASSERELLE_CALLBACK_BATCH": str(args.batch),
    }


def cli(server: Server, *argv: str) -> None:
    subprocess.run(
        [server.exe, *argv], env=server.env, check=True, timeout=120, stdout=subprocess.DEVNULL
    )


def prepare(server: Server, receiver: Receiver) -> str:
    """db upgrade, account `bench` with the receiver as callback URL; its secret."""
    cli(server, "db", "upgrade")
    server.create_account()
    cli(server, "account", "set", "bench", "--callback-url", receiver.url)
    conn = ro(server.db)
    try:
        return str(
            conn.execute("SELECT callback_secret FROM accounts WHERE login = 'bench'").fetchone()[0]
        )
    finally:
        conn.close()


def events_since(db: Path, e0: int) -> tuple[int, int]:
    """(delivered, all) callback events with id > e0."""
    conn = ro(db)
    try:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE state = ?), count(*) FROM callback_events WHERE id > ?",
            (DELIVERED_EVENT, e0),
        ).fetchone()
    finally:
        conn.close()
    return int(row[0]), int(row[1])


def attempts_since(db: Path, e0: int) -> dict[str, object]:
    conn = ro(db)
    try:
        rows = conn.execute(
            "SELECT latency_ms, status, error FROM callback_attempts WHERE event_id > ?", (e0,)
        ).fetchall()
    finally:
        conn.close()
    lat = [float(r[0]) for r in rows]
    errors: dict[str, int] = {}
    for _, status, error in rows:
        if error is not None or status is None or not 200 <= status < 300:
            key = str(error or status)[:60]
            errors[key] = errors.get(key, 0) + 1
    return {
        "attempts": len(rows),
        "attempt_latency_p50_ms": round(pct(lat, 0.5) or 0, 2),
        "attempt_latency_p99_ms": round(pct(lat, 0.99) or 0, 2),
        "attempt_latency_max_ms": round(max(lat, default=0), 2),
        "failed_attempts": errors,
    }


def steady_rate(per_second: dict[str, int], t_from: float, t_to: float) -> float | None:
    """Median arrivals/s over the full seconds strictly inside [t_from, t_to]."""
    inside = [v for k, v in per_second.items() if t_from + 1 <= int(k) and int(k) + 1 <= t_to]
    if not inside:
        return None
    inside.sort()
    return float(inside[len(inside) // 2])


def delta_per_second(a: dict[str, object], b: dict[str, object]) -> dict[str, int]:
    pa: dict[str, int] = a.get("per_second", {})  # type: ignore[assignment]
    pb: dict[str, int] = b.get("per_second", {})  # type: ignore[assignment]
    return {k: v - pa.get(k, 0) for k, v in pb.items() if v - pa.get(k, 0) > 0}


# --- mode 1: the sender alone ----------------------------------------------------------------


def insert_events(db: Path, n: int, now: float) -> int:
    """N pending events of the account `bench`, one transaction; the id before them."""
    conn = sqlite3.connect(db, timeout=60)
    try:
        account_id, e0 = conn.execute(
            "SELECT (SELECT id FROM accounts WHERE login = 'bench'),"
            " (SELECT coalesce(max(id), 0) FROM callback_events)"
        ).fetchone()
        fixed = (1, "DELIVRD", "000", now, now, 0, 0, now)
        rows = [(account_id, 500_000_000 + i, str(33600000000 + i), *fixed) for i in range(n)]
        with conn:
            conn.executemany(
                "INSERT INTO callback_events (account_id, msgid, dest, statut, stat, err,"
                " occurred_at, created_at, state, attempts, next_attempt_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return int(e0)
    finally:
        conn.close()


def insert_paced(db: Path, n: int, rate: float) -> tuple[int, float]:
    """N pending events at `rate` per second (a batch every 10 ms, each its own transaction,
    holding the gateway's write lock like any writer): receipts arriving at that rate.
    Returns the id before them and the time the last batch was committed."""
    lock = os.open(f"{db}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)
    conn = sqlite3.connect(db, timeout=60, isolation_level=None)
    try:
        account_id, e0 = conn.execute(
            "SELECT (SELECT id FROM accounts WHERE login = 'bench'),"
            " (SELECT coalesce(max(id), 0) FROM callback_events)"
        ).fetchone()
        start = time.monotonic()
        done = 0
        last = time.time()
        while done < n and time.monotonic() - start < 3600:
            due = min(n, int((time.monotonic() - start) * rate) + 1)
            if due > done:
                now = time.time()
                fixed = (1, "DELIVRD", "000", now, now, 0, 0, now)
                rows = [
                    (account_id, 500_000_000 + i, str(33600000000 + i), *fixed)
                    for i in range(done, due)
                ]
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(
                        "INSERT INTO callback_events (account_id, msgid, dest, statut, stat,"
                        " err, occurred_at, created_at, state, attempts, next_attempt_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                    conn.execute("COMMIT")
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
                done = due
                last = time.time()
            time.sleep(0.01)
        return int(e0), last
    finally:
        conn.close()
        os.close(lock)


def sender_run(args: argparse.Namespace, per_host: int, profile: str | None) -> dict[str, object]:
    server = Server(args.passerelle, args.access_log, args.keep, gateway_env(args, per_host, False))
    receiver = Receiver(server.dir)
    profiler: Profiler | None = None
    try:
        receiver.start()
        secret = prepare(server, receiver)
        server.start()
        quiet = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
        time.sleep(0.5)
        r0 = receiver.stats()
        main0, other0 = tree_cpu(server.pid)
        rcv_cpu0 = cpu_s(receiver.pid)
        if profile:
            profiler = Profiler(args.py_spy, server.pid, Path(profile), args.profile_rate, [])
        t_insert = time.time()
        if args.rate:
            e0, t_last_insert = insert_paced(server.db, args.events, args.rate)
            t0 = t_insert
        else:
            e0 = insert_events(server.db, args.events, t_insert)
            t0 = t_last_insert = time.time()  # committed: from here the sender can see them
        deadline = time.monotonic() + args.drain_bound
        delivered = 0
        polls = 0
        while time.monotonic() < deadline and polls < 100_000:
            polls += 1
            delivered, _ = events_since(server.db, e0)
            if delivered >= args.events:
                break
            time.sleep(0.1)
        t_polled = time.time()
        time.sleep(0.4)  # the receiver rewrites its stats every 0.25 s
        if profiler:
            profiler.stop()
            profiler = None
        main1, other1 = tree_cpu(server.pid)
        rcv_cpu = cpu_s(receiver.pid) - rcv_cpu0
        r1 = receiver.stats()
        conn = ro(server.db)
        try:
            first_d, last_d = conn.execute(
                "SELECT min(delivered_at), max(delivered_at) FROM callback_events"
                " WHERE id > ? AND state = ?",
                (e0, DELIVERED_EVENT),
            ).fetchone()
            lags = sorted(
                row[0]
                for row in conn.execute(
                    "SELECT delivered_at - created_at FROM callback_events"
                    " WHERE id > ? AND state = ?",
                    (e0, DELIVERED_EVENT),
                )
            )
        finally:
            conn.close()
        checked, good = verify_sample(secret, r1.get("sample", [])[len(r0.get("sample", [])) :])  # type: ignore[arg-type]
        reqs = int(r1["requests"]) - int(r0["requests"])  # type: ignore[call-overload]
        distinct = int(r1["distinct"]) - int(r0["distinct"])  # type: ignore[call-overload]
        span_rcv = float(r1["last"]) - float(r1["first"] if not r0["requests"] else r0["last"])  # type: ignore[arg-type]
        gw_cpu = (main1 - main0) + (other1 - other0)
        res: dict[str, object] = {
            "kind": "callbacks-sender",
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t0)),
            "code": code_version(),
            "events": args.events,
            "per_host": per_host,
            "concurrency": args.concurrency,
            "batch": args.batch,
            "delivered": delivered,
            "receiver_requests": reqs,
            "receiver_distinct": distinct,
            "receiver_connections": r1.get("connections"),
            "signatures_checked": checked,
            "signatures_good": good,
            "insert_s": round(t0 - t_insert, 3),
            "drain_s": round((last_d or t_polled) - t0, 3),
            "events_per_s_db": round(delivered / (last_d - t0), 1) if last_d else None,
            "events_per_s_db_first_to_last": round(delivered / (last_d - first_d), 1)
            if last_d and last_d > first_d
            else None,
            "events_per_s_receiver": round(reqs / span_rcv, 1) if span_rcv > 0 else None,
            "events_per_s_receiver_steady": steady_rate(
                delta_per_second(r0, r1),
                float(r1["first"]),
                float(r1["last"]),  # type: ignore[arg-type]
            ),
            "first_event_after_s": round(first_d - t0, 3) if first_d else None,
            "rate": args.rate,
            "last_after_last_insert_s": round(last_d - t_last_insert, 3) if last_d else None,
            "lag_p50_ms": round(1000 * (pct(lags, 0.50) or 0), 1) if lags else None,
            "lag_p99_ms": round(1000 * (pct(lags, 0.99) or 0), 1) if lags else None,
            "lag_max_ms": round(1000 * lags[-1], 1) if lags else None,
            "gateway_cpu_s": round(gw_cpu, 2),
            "gateway_cpu_us_per_event": round(1e6 * gw_cpu / delivered, 1) if delivered else None,
            "gateway_main_thread_cpu_s": round(main1 - main0, 2),
            "gateway_other_threads_cpu_s": round(other1 - other0, 2),
            "gateway_rss_mib": round(
                sum(status_kib(p, "VmRSS") for p in tree(server.pid)) / 1024, 1
            ),
            "receiver_cpu_s": round(rcv_cpu, 2),
            "pre_run_busy_pct": quiet,
            **attempts_since(server.db, e0),
        }
        return res
    finally:
        if profiler:
            profiler.stop()
        server.stop()
        receiver.stop()
        server.cleanup()


def print_sender(r: dict[str, object]) -> None:
    print(
        f"  SENDER per_host={r['per_host']} concurrency={r['concurrency']}: delivered"
        f" {r['delivered']}/{r['events']} in {r['drain_s']} s = {r['events_per_s_db']} ev/s (db,"
        f" commit -> last delivered_at; {r['events_per_s_db_first_to_last']} first -> last),"
        f" receiver {r['events_per_s_receiver']} ev/s (steady {r['events_per_s_receiver_steady']}),"
        f" {r['receiver_requests']} requests, {r['receiver_distinct']} distinct ids,"
        f" {r['receiver_connections']} connections"
    )
    if r["rate"]:
        print(
            f"      PACED at {r['rate']} ev/s: last callback {r['last_after_last_insert_s']} s"
            f" after the last insert; lag behind insert p50 {r['lag_p50_ms']} ms"
            f" p99 {r['lag_p99_ms']} ms max {r['lag_max_ms']} ms"
        )
    print(
        f"      gateway CPU {r['gateway_cpu_s']} s = {r['gateway_cpu_us_per_event']} us/event"
        f" (event loop {r['gateway_main_thread_cpu_s']} s, other threads"
        f" {r['gateway_other_threads_cpu_s']} s), receiver CPU {r['receiver_cpu_s']} s;"
        f" attempt latency p50 {r['attempt_latency_p50_ms']} ms p99"
        f" {r['attempt_latency_p99_ms']} ms max {r['attempt_latency_max_ms']} ms;"
        f" {r['attempts']} attempts, failed {r['failed_attempts']};"
        f" signatures {r['signatures_good']}/{r['signatures_checked']} good;"
        f" busy before {r['pre_run_busy_pct']} %",
        flush=True,
    )


# --- mode 2: end to end with callback=1 ---------------------------------------------------


def wait_callbacks(
    server: Server, receiver: Receiver, e0: int, expected: int, bound_s: float
) -> tuple[int, int]:
    """Poll until `expected` events after e0 are delivered (bounded); (delivered, events)."""
    deadline = time.monotonic() + bound_s
    delivered = events = 0
    for _ in range(100_000):
        delivered, events = events_since(server.db, e0)
        if delivered >= expected or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return delivered, events


def e2e_run(
    args: argparse.Namespace,
    server: Server,
    sim: Simulator,
    receiver: Receiver,
    secret: str,
    n: int,
    msisdn: int,
    label: str,
) -> dict[str, object]:
    e0 = server.query("SELECT coalesce(max(id), 0) FROM callback_events")
    quiet = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 and label != "warmup" else None
    r0 = receiver.stats()
    main0, other0 = tree_cpu(server.pid)
    sim0, rcv0 = cpu_s(sim.pid), cpu_s(receiver.pid)
    id0 = server.query("SELECT coalesce(max(id), 0) FROM recipients")
    r = e2e_bench.run_once(
        server, sim, n, args.connections, msisdn, args.drain_bound, 0, label, False
    )
    accepted = int(r["accepted"])  # type: ignore[call-overload]
    delivered, events = wait_callbacks(server, receiver, e0, accepted, args.drain_bound)
    time.sleep(0.4)
    main1, other1 = tree_cpu(server.pid)
    sim_cpu, rcv_cpu = cpu_s(sim.pid) - sim0, cpu_s(receiver.pid) - rcv0
    r1 = receiver.stats()
    conn = ro(server.db)
    try:
        last_final = conn.execute(
            "SELECT max(final_at) FROM recipients WHERE id > ?", (id0,)
        ).fetchone()[0]
        lags = [
            float(x[0])
            for x in conn.execute(
                "SELECT e.delivered_at - r.final_at FROM callback_events e"
                " JOIN recipients r ON r.msgid = e.msgid AND r.dest = e.dest"
                " WHERE e.id > ? AND e.state = ? AND r.id > ?",
                (e0, DELIVERED_EVENT, id0),
            ).fetchall()
        ]
        last_delivered = conn.execute(
            "SELECT max(delivered_at) FROM callback_events WHERE id > ?", (e0,)
        ).fetchone()[0]
    finally:
        conn.close()
    t0 = float(last_final) - float(r["e2e_s"])  # type: ignore[arg-type]  # run_once's start
    reqs = int(r1["requests"]) - int(r0["requests"])  # type: ignore[call-overload]
    last_rcv = float(r1["last"])  # type: ignore[arg-type]
    checked, good = verify_sample(secret, r1.get("sample", [])[len(r0.get("sample", [])) :])  # type: ignore[arg-type]
    gw_cpu = (main1 - main0) + (other1 - other0)
    cb_s = last_rcv - t0 if reqs else None
    r.update(
        {
            "kind": "callbacks-e2e",
            "callback_events": events,
            "callbacks_delivered": delivered,
            "receiver_requests": reqs,
            "receiver_distinct": int(r1["distinct"]) - int(r0["distinct"]),  # type: ignore[call-overload]
            "signatures_checked": checked,
            "signatures_good": good,
            "e2e_to_last_callback_s": round(cb_s, 3) if cb_s else None,
            "e2e_callback_msg_per_s": round(accepted / cb_s, 1) if cb_s else None,
            "callbacks_after_last_receipt_s": round(last_rcv - float(last_final), 3),
            "last_delivered_at_minus_last_receipt_s": round(
                float(last_delivered) - float(last_final), 3
            )
            if last_delivered
            else None,
            "callback_lag_p50_ms": round(1000 * (pct(lags, 0.5) or 0), 1),
            "callback_lag_p99_ms": round(1000 * (pct(lags, 0.99) or 0), 1),
            "callback_lag_max_ms": round(1000 * max(lags, default=0), 1),
            "receiver_steady_per_s": steady_rate(delta_per_second(r0, r1), t0, last_rcv),
            "gateway_cpu_total_s": round(gw_cpu, 2),
            "gateway_cpu_total_us_per_msg": round(1e6 * gw_cpu / accepted, 1) if accepted else None,
            "gateway_main_total_s": round(main1 - main0, 2),
            "gateway_other_total_s": round(other1 - other0, 2),
            "simulator_cpu_total_s": round(sim_cpu, 2),
            "receiver_cpu_s": round(rcv_cpu, 2),
            "pre_run_busy_pct": quiet,
            **attempts_since(server.db, e0),
        }
    )
    return r


def print_e2e(r: dict[str, object]) -> None:
    e2e_bench.print_run(r)
    print(
        f"      CALLBACKS: {r['callbacks_delivered']}/{r['accepted']} delivered"
        f" ({r['callback_events']} events, receiver {r['receiver_requests']} requests,"
        f" {r['receiver_distinct']} distinct); first request -> last callback"
        f" {r['e2e_to_last_callback_s']} s = {r['e2e_callback_msg_per_s']} msg/s"
        f" (to the last receipt {r['e2e_msg_per_s']}); last callback"
        f" {r['callbacks_after_last_receipt_s']} s after the last receipt; lag behind receipt"
        f" p50 {r['callback_lag_p50_ms']} ms p99 {r['callback_lag_p99_ms']} ms max"
        f" {r['callback_lag_max_ms']} ms; receiver steady {r['receiver_steady_per_s']}/s"
    )
    print(
        f"      gateway CPU to the last callback {r['gateway_cpu_total_s']} s ="
        f" {r['gateway_cpu_total_us_per_msg']} us/msg (event loop {r['gateway_main_total_s']} s,"
        f" others {r['gateway_other_total_s']} s); simulator {r['simulator_cpu_total_s']} s;"
        f" receiver {r['receiver_cpu_s']} s; attempts {r['attempts']} p50"
        f" {r['attempt_latency_p50_ms']} ms p99 {r['attempt_latency_p99_ms']} ms, failed"
        f" {r['failed_attempts']}; signatures {r['signatures_good']}/{r['signatures_checked']};"
        f" busy before {r['pre_run_busy_pct']} %",
        flush=True,
    )


def e2e_main(args: argparse.Namespace) -> list[dict[str, object]]:
    e2e_bench.GET_PATH = e2e_bench.GET_PATH + "&callback=1"  # the only change to its run
    server = Server(
        args.passerelle, args.access_log, args.keep, gateway_env(args, args.per_host[0], True)
    )
    sim = Simulator(args.passerelle, server.dir, args.receipt_window, [])
    receiver = Receiver(server.dir)
    results: list[dict[str, object]] = []
    profiler: Profiler | None = None
    try:
        receiver.start()
        sim.start()
        secret = prepare(server, receiver)
        cli(server, "connector", "add", "sim", "--host", HOST, "--port", str(sim.port),
            "--system-id", "x", "--password", "y", "--window", str(args.window))  # fmt: skip
        server.start()
        print(
            f"passerelle callbacks e2e: N={args.requests} C={args.connections}"
            f" window={args.window} workers={args.workers} per_host={args.per_host[0]}"
            f" concurrency={args.concurrency} code {code_version()} gateway pid {server.pid}",
            flush=True,
        )
        msisdn = 33600000000
        warmup = args.requests // 10
        if warmup:
            print_e2e(e2e_run(args, server, sim, receiver, secret, warmup, msisdn, "warmup"))
            msisdn += 1_000_000
        if args.profile:
            extra = ["--subprocesses"] if args.workers > 1 else []
            profiler = Profiler(
                args.py_spy, server.pid, Path(args.profile), args.profile_rate, extra
            )
        for _ in range(args.runs):
            label = "profiled" if profiler else "measured"
            r = e2e_run(args, server, sim, receiver, secret, args.requests, msisdn, label)
            msisdn += 1_000_000
            r.update({"workers": args.workers, "window": args.window, "per_host": args.per_host[0]})
            print_e2e(r)
            results.append(r)
    finally:
        if profiler:
            profiler.stop()
        server.stop()
        sim.stop()
        receiver.stop()
        server.cleanup()
    return results


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) >= 2 and sys.argv[1] == "receiver":
        rp = argparse.ArgumentParser()
        rp.add_argument("mode")
        rp.add_argument("--stats-file", required=True)
        ra = rp.parse_args()
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(receiver_main(Path(ra.stats_file)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("sender", "e2e"))
    ap.add_argument("--events", type=int, default=20000, help="sender: events inserted")
    ap.add_argument(
        "--per-host", type=int, nargs="+", default=[8], help="PASSERELLE_CALLBACK_PER_HOST"
    )
    ap.add_argument(
        "--rate", type=float, default=0, help="sender: insert events at this rate (ev/s)"
    )
    ap.add_argument("--concurrency", type=int, default=100, help="PASSERELLE_CALLBACK_CONCURRENCY")
    ap.add_argument("--batch", type=int, default=500, help="PASSERELLE_CALLBACK_BATCH")
    ap.add_argument("-n", "--requests", type=int, default=20000, help="e2e: GETs per run")
    ap.add_argument("-c", "--connections", type=int, default=50, help="e2e: wrk connections")
    ap.add_argument("--window", type=int, default=100, help="e2e: connector window")
    ap.add_argument("--receipt-window", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--drain-bound", type=float, default=180.0, help="s to wait for callbacks")
    ap.add_argument("--quiet-wait", type=float, default=20.0)
    ap.add_argument("--access-log", choices=("true", "false"), default=None)
    ap.add_argument(
        "--profile", metavar="FILE", help="py-spy raw profile (first sender run / e2e runs)"
    )
    ap.add_argument("--py-spy", default="/tmp/bench-tools/bin/py-spy")
    ap.add_argument("--profile-rate", type=int, default=250)
    ap.add_argument("--json", metavar="FILE", help="append one JSON line per run")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--passerelle", default=str(ROOT / ".venv" / "bin" / "passerelle"))
    args = ap.parse_args()
    if not (
        1 <= args.events <= 1_000_000
        and 0 <= args.rate <= 100_000
        and all(1 <= p <= 1000 for p in args.per_host)
        and len(args.per_host) <= 6
        and 1 <= args.concurrency <= 1000
        and 1 <= args.requests <= 1_000_000
        and 1 <= args.connections <= 1000
        and 1 <= args.workers <= 8
        and 1 <= args.runs <= 10
        and 1 <= args.drain_bound <= 3600
    ):
        ap.error("out of bounds")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results: list[dict[str, object]] = []
    if args.mode == "sender":
        for i, per_host in enumerate(args.per_host):
            r = sender_run(args, per_host, args.profile if i == 0 else None)
            print_sender(r)
            results.append(r)
    else:
        results = e2e_main(args)
    if args.json:
        with open(args.json, "a") as f:
            for r in results:
                f.write(json.dumps({k: v for k, v in r.items() if k != "timeline"}) + "\n")
    bad = any(
        (
            r["delivered"] != r["events"]
            if r["kind"] == "callbacks-sender"
            else r["callbacks_delivered"] != r["accepted"]
        )
        or r["signatures_good"] != r["signatures_checked"]
        for r in results
    )
    return 1 if bad else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
