#!/usr/bin/env python3
"""Gateway memory with a backlog of queued recipients, run by hand, never in CI.

Builds a fresh SQLite file in a temporary folder (`passerelle db upgrade`, the
account `bench`, a connector `sim` to a standalone simulator with normal receipts),
inserts B messages with one queued recipient each directly with sqlite3
`executemany` (state 0, next_attempt_at = now; the account is not debited: this
is about the outbox, not the ledger), then starts `passerelle serve` on that file
and, for --seconds (default 60), samples the gateway's VmRSS (`serve` and its
delivery process, summed) every 0.25 s while the dispatcher drains the outbox.
Reports the time to /readyz, RSS at ready, peak and at the end, the recipients
delivered in the window (drain rate), and the simulator's counters. Target: < 150 MiB
with 1 000 000 queued.

Stops the gateway and the simulator it started (SIGTERM by pid) and removes the
folder. 127.0.0.1 only; every loop is bounded in count and time.

    .venv/bin/python bench/backlog_bench.py [--backlog 1000000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_bench import Simulator, tree, tree_cpu, tree_rss_kib
from legacy_bench import HOST, Server, cpu_s, log, status_kib

ROOT = Path(__file__).resolve().parent.parent
MSGID_FIRST = 100_000_000  # nine digits, as the API's msgids
TEXT = "Benchmark message from bench-peer"


def build(server: Server, backlog: int, chunk: int = 100_000) -> dict[str, object]:
    """Insert `backlog` messages with one queued recipient each; timings."""
    t0 = time.monotonic()
    conn = sqlite3.connect(server.db, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        account_id = int(
            conn.execute("SELECT id FROM accounts WHERE login = 'bench'").fetchone()[0]
        )
        now = time.time()
        first = int(conn.execute("SELECT coalesce(max(msgid), 0) FROM messages").fetchone()[0])
        first = max(first + 1, MSGID_FIRST)
        for start in range(0, backlog, chunk):  # bounded: backlog / chunk rounds
            ids = range(first + start, first + min(backlog, start + chunk))
            conn.executemany(
                "INSERT INTO messages (msgid, account_id, created_at, sender, sender_type,"
                " text, flash, callback, recipient_count, cost)"
                " VALUES (?, ?, ?, '12345', 0, ?, 0, 0, 1, 1)",
                ((i, account_id, now, TEXT) for i in ids),
            )
            conn.executemany(
                "INSERT INTO recipients (msgid, dest, state, attempts, next_attempt_at)"
                " VALUES (?, ?, 0, 0, ?)",
                ((i, str(33_500_000_000 + i - first), now) for i in ids),
            )
            conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        queued = int(conn.execute("SELECT count(*) FROM recipients WHERE state = 0").fetchone()[0])
    finally:
        conn.close()
    return {
        "build_s": round(time.monotonic() - t0, 2),
        "queued": queued,
        "db_mib": round(server.db.stat().st_size / 2**20, 1),
    }


def count_state(server: Server, state: int) -> int:
    return server.query("SELECT count(*) FROM recipients WHERE state = ?", (state,))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backlog", type=int, default=1_000_000, help="queued recipients")
    ap.add_argument("--seconds", type=float, default=60.0, help="sampling window after ready")
    ap.add_argument("--window", type=int, default=100, help="connector window")
    ap.add_argument("--json", metavar="FILE", help="append the result as one JSON line")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--passerelle", default=str(ROOT / ".venv" / "bin" / "passerelle"))
    args = ap.parse_args()
    if not (1 <= args.backlog <= 5_000_000 and 1 <= args.seconds <= 600):
        ap.error("out of bounds: backlog 1..5e6, seconds 1..600")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = Server(
        args.passerelle,
        None,
        args.keep,
        {"PASSERELLE_DELIVERY": "true", "PASSERELLE_BUILTIN_SIMULATOR": "false"},
    )
    sim = Simulator(args.passerelle, server.dir, 100, [])
    res: dict[str, object] = {"kind": "backlog", "backlog": args.backlog, "window": args.window}
    try:
        sim.start()
        subprocess.run(
            [args.passerelle, "db", "upgrade"],
            env=server.env,
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )
        server.create_account()
        subprocess.run(
            [
                *(args.passerelle, "connector", "add", "sim", "--host", HOST),
                *("--port", str(sim.port), "--system-id", "x", "--password", "y"),
                *("--window", str(args.window)),
            ],
            env=server.env,
            check=True,
            timeout=60,
            stdout=subprocess.DEVNULL,
        )
        res.update(build(server, args.backlog))
        log(f"built: {res}")
        t_start = time.monotonic()
        server.start()  # returns once /readyz answers 200 (a connector is bound)
        res["ready_s"] = round(time.monotonic() - t_start, 2)
        time.sleep(1.0)  # the delivery process (a child of `serve`) binds its link
        res["rss_at_ready_mib"] = round(tree_rss_kib(server.pid) / 1024, 1)
        delivered0 = count_state(server, 2)
        main0, other0 = tree_cpu(server.pid)
        sim_cpu0 = cpu_s(sim.pid)
        t0 = time.monotonic()
        peak, series = 0, []
        end = t0 + args.seconds
        next_mark = t0
        while time.monotonic() < end:  # bounded by --seconds
            rss = tree_rss_kib(server.pid)  # `serve` and its delivery process
            peak = max(peak, rss)
            if time.monotonic() >= next_mark:
                series.append((round(time.monotonic() - t0, 1), round(rss / 1024, 1)))
                next_mark += 5.0
            time.sleep(0.25)
        elapsed = time.monotonic() - t0
        delivered = count_state(server, 2) - delivered0
        main1, other1 = tree_cpu(server.pid)
        pids = tree(server.pid)
        res.update(
            {
                "sample_s": round(elapsed, 1),
                "rss_peak_mib": round(peak / 1024, 1),
                "rss_end_mib": round(tree_rss_kib(server.pid) / 1024, 1),
                "vmhwm_mib": round(sum(status_kib(p, "VmHWM") for p in pids) / 1024, 1),
                "vmhwm_by_process_mib": [round(status_kib(p, "VmHWM") / 1024, 1) for p in pids],
                "rss_series_mib": series,
                "delivered_in_window": delivered,
                "delivered_before_sampling": delivered0,
                "drain_msg_per_s": round(delivered / elapsed, 1),
                "still_queued": count_state(server, 0),
                "gateway_cpu_s": round(main1 + other1 - main0 - other0, 2),
                "gateway_main_thread_cpu_s": round(main1 - main0, 2),
                "gateway_other_threads_cpu_s": round(other1 - other0, 2),
                "simulator_cpu_s": round(cpu_s(sim.pid) - sim_cpu0, 2),
                "simulator": {
                    k: v
                    for k, v in sim.stats().items()
                    if k in ("submits", "receipts_sent", "receipts_acked", "duplicate_accepts")
                },
            }
        )
    finally:
        server.stop()
        sim.stop()
        server.cleanup()
    print(json.dumps(res))
    print(
        f"backlog {res.get('queued')} queued (built in {res.get('build_s')} s, db"
        f" {res.get('db_mib')} MiB): gateway ready in {res.get('ready_s')} s, RSS at ready"
        f" {res.get('rss_at_ready_mib')} MiB, peak {res.get('rss_peak_mib')} MiB over"
        f" {res.get('sample_s')} s (VmHWM {res.get('vmhwm_mib')}), end"
        f" {res.get('rss_end_mib')} MiB; drained {res.get('delivered_in_window')} at"
        f" {res.get('drain_msg_per_s')} msg/s; target < 150 MiB:"
        f" {'met' if float(res.get('vmhwm_mib', 1e9)) < 150 else 'MISSED'}",  # type: ignore[arg-type]
        flush=True,
    )
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
