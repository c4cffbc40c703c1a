#!/usr/bin/env python3
"""Retention purge speed, and what it does to accepts meanwhile. Run by hand, never in CI.

Builds a fresh SQLite file in a temporary folder (`passerelle db upgrade`, the account
`bench`), inserts N messages 200 days old, each with one delivered recipient, one
delivered callback event and one attempt, directly with sqlite3 `executemany`; then:

1. `passerelle db purge` alone: wall time and messages purged per second;
2. the same rows again, then `passerelle serve` on that file with the purge job started
   a second after start (`PASSERELLE_*` settings below) while a bounded load of single
   `envoi` GETs runs (one client, sequential, bounded in count and time): accept latency
   p50/p99/max during the purge, compared with the same load after it.

Everything on 127.0.0.1; processes it starts are stopped by pid; the folder is removed.

    .venv/bin/python bench/purge_bench.py [--messages 200000] [--requests 3000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSERELLE = ROOT / ".venv" / "bin" / "passerelle"
DAY = 86400.0


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(PASSERELLE), *args], env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise SystemExit(f"passerelle {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def fill(db: Path, n: int, chunk: int = 50_000) -> float:
    """N old messages with a recipient, an event and an attempt each; seconds taken."""
    t0 = time.monotonic()
    conn = sqlite3.connect(db, timeout=30)
    try:
        account = conn.execute("SELECT id FROM accounts WHERE login = 'bench'").fetchone()[0]
        old = time.time() - 200 * DAY
        first = int(conn.execute("SELECT coalesce(max(msgid), 0) FROM messages").fetchone()[0])
        first = max(first + 1, 100_000_000)
        event0 = int(conn.execute("SELECT coalesce(max(id), 0) FROM callback_events").fetchone()[0])
        for start in range(0, n, chunk):  # bounded: n / chunk rounds
            ids = range(start, min(n, start + chunk))
            with conn:
                conn.executemany(
                    "INSERT INTO messages (msgid, account_id, created_at, sender, sender_type,"
                    " text, flash, callback, recipient_count, cost)"
                    " VALUES (?, ?, ?, 'Shop', 5, 'old', 0, 1, 1, 1)",
                    ((first + i, account, old + i * 1e-3) for i in ids),
                )
                conn.executemany(
                    "INSERT INTO recipients (msgid, dest, state, next_attempt_at, final_at)"
                    " VALUES (?, ?, 2, ?, ?)",
                    ((first + i, str(33600000000 + i), old, old) for i in ids),
                )
                conn.executemany(
                    "INSERT INTO callback_events (id, account_id, msgid, dest, statut, stat,"
                    " occurred_at, created_at, state, next_attempt_at, delivered_at)"
                    " VALUES (?, ?, ?, ?, 1, 'DELIVRD', ?, ?, 1, ?, ?)",
                    (
                        (
                            event0 + 1 + i,
                            account,
                            first + i,
                            str(33600000000 + i),
                            old,
                            old,
                            old,
                            old,
                        )
                        for i in ids
                    ),
                )
                conn.executemany(
                    "INSERT INTO callback_attempts (event_id, at, status, latency_ms)"
                    " VALUES (?, ?, 200, 1.0)",
                    ((event0 + 1 + i, old) for i in ids),
                )
    finally:
        conn.close()
    return time.monotonic() - t0


def count(db: Path) -> int:
    """Messages older than 180 days still in the file."""
    conn = sqlite3.connect(db)
    try:
        cutoff = time.time() - 180 * DAY
        query = "SELECT count(*) FROM messages WHERE created_at < ?"
        return int(conn.execute(query, (cutoff,)).fetchone()[0])
    finally:
        conn.close()


def latencies(url: str, n: int, bound_s: float) -> list[float]:
    """Sequential single-recipient envoi GETs; each one's seconds (bounded)."""
    out: list[float] = []
    end = time.monotonic() + bound_s
    for i in range(n):
        if time.monotonic() > end:
            break
        t = time.perf_counter()
        with urllib.request.urlopen(f"{url}&dest=336{i % 100000:08d}", timeout=10) as answer:
            body = answer.read()
        out.append(time.perf_counter() - t)
        if b"Message" not in body:
            raise SystemExit(f"unexpected answer {body!r}")
    return out


def describe(values: list[float]) -> str:
    values = sorted(values)
    if not values:
        return "no requests"

    def at(q: float) -> float:
        return 1000 * values[min(len(values) - 1, int(q * len(values)))]

    top = 1000 * values[-1]
    return f"{len(values)} req, p50 {at(0.5):.1f} ms, p99 {at(0.99):.1f} ms, max {top:.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--requests", type=int, default=3000)
    args = ap.parse_args()
    if not (1 <= args.messages <= 2_000_000 and 1 <= args.requests <= 50_000):
        ap.error("out of bounds")
    folder = Path(tempfile.mkdtemp(prefix="passerelle-purge-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        db = folder / "bench.db"
        env = {
            **os.environ,
            "PASSERELLE_DATABASE_URL": f"sqlite:///{db}",
            "PASSERELLE_MIN_API_PASSWORD_LENGTH": "4",
            "PASSERELLE_DELIVERY": "false",
            "PASSERELLE_CALLBACKS": "false",
            "PASSERELLE_ACCESS_LOG": "false",
        }
        run(env, "db", "upgrade")
        run(env, "account", "create", "bench", "--email", "b@x.fr", "--api-password", "bench")
        run(env, "account", "credit", "bench", "100000000")
        filled = fill(db, args.messages)
        print(
            f"filled {args.messages} old messages (+ recipient, event, attempt) in {filled:.1f} s"
        )
        t = time.monotonic()
        out = run(env, "db", "purge")
        took = time.monotonic() - t
        print(
            f"db purge: {out.strip()} in {took:.2f} s = {args.messages / took:.0f} msg/s"
            " (CLI start included)"
        )
        assert count(db) == 0

        fill(db, args.messages)
        port_file = folder / "port"
        serve_env = {**env, "PASSERELLE_RETENTION": "true"}
        server = subprocess.Popen(
            [str(PASSERELLE), "serve", "--port", "0", "--port-file", str(port_file)],
            env=serve_env,
            stdout=subprocess.DEVNULL,
            stderr=open(folder / "serve.log", "wb"),  # noqa: SIM115
        )
        for _ in range(200):  # bounded: 20 s
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text())
        url = f"http://127.0.0.1:{port}/client/api?action=envoi&login=bench&apipasse=bench&msg=hi&origine=Shop"
        latencies(url, 200, 30)  # warm-up
        print(
            "the purge job starts 60 s after serve; load until it has finished (bounded):",
            flush=True,
        )
        before: list[float] = []
        during: list[float] = []
        deadline = time.monotonic() + 180
        started = finished = 0.0
        while time.monotonic() < deadline:  # bounded: 180 s
            old = count(db)
            chunk = latencies(url, 50, 30)
            now_old = count(db)
            if now_old == old == args.messages:
                before += chunk
                continue
            started = started or time.monotonic()
            during += chunk
            if now_old == 0:
                finished = time.monotonic()
                break
        print(f"  accepts before the purge: {describe(before)}")
        print(
            f"  accepts during the purge: {describe(during)}"
            + (
                f" (purge seen for {finished - started:.1f} s)"
                if finished
                else " (the purge did not finish within the bound)"
            )
        )
        print(f"  accepts after it:         {describe(latencies(url, args.requests, 60))}")
        return 0
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
