#!/usr/bin/env python3
"""End-to-end delivery benchmark (HTTP `envoi` -> SMPP -> receipt), run by hand, never in CI.

Starts, each in a temporary folder and each stopped by pid at the end:

* a standalone SMSC simulator (`passerelle simulator --port 0 --delay 0
  --receipt-window 100 --stats-file F`; its port is read from F);
* a fresh SQLite database with the account `bench` (API password `bench`, 10^8
  credits) and one connector `sim` to the simulator (`--window W`);
* `passerelle serve --port 0 --port-file F` with delivery on (dispatcher + link).

`--database-url postgresql://...` puts the gateway on that (empty) PostgreSQL database
instead of the SQLite file; the harness then reads it with asyncpg and counts the CPU of
the PostgreSQL processes serving it (sampled) as its own, not as foreign load.
`--builtin-simulator` starts no simulator and adds no connector: `serve` delivers to
its in-process simulator (on its defaults), whose CPU is then part of the gateway's.

Then, per run: wrk (1 thread, C connections, `sendsms.lua`) sends exactly N
single-recipient `envoi` GETs, each to another number; the harness polls the database
(read-only) until every recipient accepted in the run is delivered
(`recipients.state = 2`), bounded by --drain-bound seconds, and reports:

* accepted req/s and p50/p99 HTTP latency (wrk);
* end-to-end msg/s = accepted / (first request -> last receipt recorded, i.e.
  max(recipients.final_at) - start), and the same up to the last submit
  (max(submitted_at), the figure the peer harness reports for Kannel);
* backlog drain time after the last HTTP answer, receipt lag (final_at -
  submitted_at) and accept->delivered latency percentiles;
* gateway peak RSS (VmRSS every 0.25 s) and CPU-seconds (event-loop thread vs the
  others), simulator CPU-seconds, receipts recorded vs accepted;
* `statut` over HTTP for a sample of 100 msgids (all must answer `1|...`).

Everything targets 127.0.0.1; every loop is bounded in count and time.
Usage: bench/e2e.sh N C [options], or `e2e_bench.py --help`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster_bench import CpuSampler
from legacy_bench import (
    GET_PATH,
    HOST,
    LUA,
    OK_PATTERN,
    TICK,
    Profiler,
    Server,
    cpu_s,
    log,
    machine_busy,
    metric_values,
    status_kib,
    thread_cpu_s,
    wait_quiet,
    writer_counters,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WRK_BOUND_S = 300
DELIVERED = 2


# --- the simulator -------------------------------------------------------------------


class Simulator:
    """A standalone `passerelle simulator` on a random port, with a stats file."""

    def __init__(self, exe: str, folder: Path, receipt_window: int, extra: list[str]) -> None:
        self.exe = exe
        self.stats_path = folder / "sim-stats.json"
        self.log_path = folder / "simulator.log"
        self.cmd = [
            exe,
            "simulator",
            "--host",
            HOST,
            "--port",
            "0",
            "--delay",
            "0",
            "--receipt-window",
            str(receipt_window),
            "--stats-file",
            str(self.stats_path),
            *extra,
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        logf = open(self.log_path, "ab")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        logf.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"simulator exited with {self.proc.returncode}:\n"
                    + self.log_path.read_text()[-2000:]
                )
            port = self.stats().get("port", 0)
            if port:
                self.port = int(port)
                log(f"simulator pid {self.pid} on {HOST}:{self.port}")
                return
            time.sleep(0.1)
        raise SystemExit("simulator did not write its port within 30 s")

    def stats(self) -> dict[str, object]:
        for _ in range(20):  # bounded retry on a concurrent rewrite
            try:
                return json.loads(self.stats_path.read_text())  # type: ignore[no-any-return]
            except (OSError, ValueError):
                time.sleep(0.05)
        return {}

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        log(f"simulator pid {self.pid} stopped (exit {self.proc.returncode})")
        return self.proc.returncode


# --- the gateway's process tree (one process, or a supervisor and --workers) ----------


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (3 levels at most), from /proc/PID/task/*/children."""
    out, level = [pid], [pid]
    for _ in range(3):
        nxt: list[int] = []
        for p in level:
            try:
                tids = os.listdir(f"/proc/{p}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{p}/task/{tid}/children") as f:
                        nxt.extend(int(x) for x in f.read().split())
                except (OSError, ValueError):
                    pass
        out.extend(nxt)
        level = nxt
        if not nxt:
            break
    return out


def reaped_cpu_s(pid: int) -> float:
    """CPU seconds of the children `pid` has waited for (cutime + cstime), 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def tree_cpu(pid: int) -> tuple[float, float]:
    """(main threads, other threads) CPU seconds summed over the process tree. A child
    that ended and was waited for is in its parent's cutime/cstime, counted with the
    parent's other threads: a delta over a run then keeps the CPU of a child that ends
    (or is started again) during the run."""
    main = other = 0.0
    for p in tree(pid):
        m, o = thread_cpu_s(p)
        main, other = main + m, other + o + reaped_cpu_s(p)
    return main, other


def tree_rss_kib(pid: int) -> int:
    return sum(status_kib(p, "VmRSS") for p in tree(pid))


class TreeRssSampler(threading.Thread):
    """Summed VmRSS of a process tree every `period` s (bounded by `bound_s`); the peak."""

    def __init__(self, pid: int, bound_s: float, period: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.bound_s, self.period = pid, bound_s, period
        self.peak_kib = 0
        self.halt = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.bound_s
        while not self.halt.is_set() and time.monotonic() < deadline:
            self.peak_kib = max(self.peak_kib, tree_rss_kib(self.pid))
            self.halt.wait(self.period)

    def stop(self) -> int:
        self.halt.set()
        self.join(2)
        self.peak_kib = max(self.peak_kib, tree_rss_kib(self.pid))
        return self.peak_kib


def code_version() -> str:
    """HEAD of the working tree and whether src/ has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty-src" if dirty else "")


# --- the gateway's database, read by the harness ----------------------------------------


def ro(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)


class Db:
    """Read-only queries of the harness (``?`` placeholders) on the gateway's database:
    the SQLite file (a read-only connection per query, which never blocks the writer)
    or PostgreSQL (one asyncpg connection on a private event loop, behind a lock, so
    the harness's threads can share it)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_pg = url.startswith(("postgresql:", "postgres:"))
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.conn: asyncpg.Connection | None = None
        if self.is_pg:
            self.loop = asyncio.new_event_loop()
            self.conn = self.loop.run_until_complete(asyncpg.connect(url, timeout=10))

    @staticmethod
    def _dollars(sql: str) -> str:
        parts = sql.split("?")
        return parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))

    def rows(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        if self.conn is None:
            conn = ro(Path(self.url.removeprefix("sqlite:///")))
            try:
                return [tuple(r) for r in conn.execute(sql, args).fetchall()]
            finally:
                conn.close()
        assert self.loop is not None
        with self.lock:
            found = self.loop.run_until_complete(
                self.conn.fetch(self._dollars(sql), *args, timeout=30)
            )
        return [tuple(r) for r in found]

    def value(self, sql: str, args: tuple[object, ...] = ()) -> int:
        return int(str(self.rows(sql, args)[0][0]))

    def server_pids(self) -> list[int]:
        """PostgreSQL: the postmaster, the backends of this database and the server's
        own processes (WAL writer, checkpointer, ...); not other databases' backends,
        nor the backend of this harness's own connection (its progress queries)."""
        if self.conn is None:
            return []
        found = self.rows(
            "SELECT pid FROM pg_stat_activity WHERE (datname = current_database()"
            " OR datname IS NULL) AND pid <> pg_backend_pid()"
        )
        pids = [int(r[0]) for r in found if r[0] is not None]  # type: ignore[call-overload]
        try:
            with open(f"/proc/{pids[0]}/stat") as f:
                pids.append(int(f.read().rsplit(")", 1)[1].split()[1]))  # the postmaster
        except (OSError, IndexError, ValueError):
            pass
        return pids

    def close(self) -> None:
        if self.conn is not None and self.loop is not None:
            with self.lock:
                self.loop.run_until_complete(self.conn.close())
            self.loop.close()
            self.conn = None


class ServerCpu(CpuSampler):
    """CPU of the PostgreSQL processes serving `db` (`Db.server_pids`), sampled every
    0.2 s since backends come and go (cluster_bench's sampler, other pids)."""

    def __init__(self, db: Db) -> None:
        super().__init__(0)
        self.db = db

    def sample(self) -> None:
        for p in self.db.server_pids():
            self.last[p] = max(self.last.get(p, 0.0), cpu_s(p))


@contextlib.contextmanager
def opened(url: str) -> Iterator[Db]:
    db = Db(url)
    try:
        yield db
    finally:
        db.close()


# --- one run ---------------------------------------------------------------------------


def counts_since(db: Db, id0: int) -> dict[int, int]:
    rows = db.rows("SELECT state, count(*) FROM recipients WHERE id > ? GROUP BY state", (id0,))
    return {int(s): int(c) for s, c in rows}  # type: ignore[call-overload]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def check_statut(server: Server, db: Db, id0: int, sample: int) -> dict[str, object]:
    rows = db.rows(
        "SELECT msgid, dest FROM recipients WHERE id > ? ORDER BY random() LIMIT ?",
        (id0, sample),
    )
    answers: dict[str, int] = {}
    http_conn = http.client.HTTPConnection(HOST, server.port, timeout=10)
    try:
        for msgid, _dest in rows:
            http_conn.request(
                "GET",
                f"/client/api?action=statut&login=bench&apipasse=bench&msgid={msgid}",
            )
            body = http_conn.getresponse().read().decode("utf-8", "replace")
            key = body.split("|", 1)[0]
            answers[key] = answers.get(key, 0) + 1
    finally:
        http_conn.close()
    return {
        "statut_sample": len(rows),
        "statut_answers": answers,
        "statut_ok": answers == {"1": len(rows)},
    }


def claim_counters(server: Server) -> tuple[float, float]:
    """(claims, recipients claimed) of the dispatcher, from /metrics (0, 0 if absent)."""
    claims, claimed = metric_values(
        server, "passerelle_dispatch_claims", "passerelle_dispatch_claimed"
    )
    return claims, claimed


def run_once(
    server: Server,
    sim: Simulator | None,
    n: int,
    conc: int,
    first_msisdn: int,
    drain_bound_s: float,
    quiet_wait_s: float,
    label: str,
    timeline: bool,
    db: Db | None = None,
) -> dict[str, object]:
    """One run; `sim` None: the gateway's built-in simulator; `db` None: the SQLite file."""
    if db is None:
        with opened(server.env["PASSERELLE_DATABASE_URL"]) as own:
            return run_once(
                server, sim, n, conc, first_msisdn, drain_bound_s, quiet_wait_s, label,
                timeline, own,
            )  # fmt: skip
    quiet = wait_quiet(quiet_wait_s) if quiet_wait_s > 0 else None
    id0 = db.value("SELECT coalesce(max(id), 0) FROM recipients")
    s0 = sim.stats() if sim else {}
    commits0, ops0 = writer_counters(server)
    claims0, claimed0 = claim_counters(server)
    main0, other0 = tree_cpu(server.pid)
    sim_cpu0 = cpu_s(sim.pid) if sim else 0.0
    pg_cpu = ServerCpu(db)
    pg_cpu.sample()
    pg_cpu0 = sum(pg_cpu.last.values())
    if db.is_pg:
        pg_cpu.start()
    busy0, _ = machine_busy()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    self0 = time.process_time()
    sampler = TreeRssSampler(server.pid, WRK_BOUND_S + drain_bound_s + 60)
    sampler.start()
    cmd = [
        "wrk",
        "-t1",
        f"-c{conc}",
        f"-d{WRK_BOUND_S}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        server.base,
        "--",
        str(n),
        GET_PATH,
        "200",
        OK_PATTERN,
        str(first_msisdn),
        "dest",
    ]
    points: list[tuple[float, dict[int, int]]] = []
    stop_tl = threading.Event()

    def sample_timeline() -> None:  # bounded by the drain bound
        end = time.monotonic() + WRK_BOUND_S + drain_bound_s
        while not stop_tl.is_set() and time.monotonic() < end:
            points.append((time.time(), counts_since(db, id0)))
            stop_tl.wait(1.0)

    tl = threading.Thread(target=sample_timeline, daemon=True)
    t0 = time.time()
    if timeline:
        tl.start()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WRK_BOUND_S + 30)
    t_answered = time.time()
    lines = [x for x in proc.stdout.splitlines() if x.startswith("WRKJSON ")]
    if not lines:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit("wrk produced no result")
    w = json.loads(lines[0][len("WRKJSON ") :])
    accepted = int(w["answered"]) - int(w["non_success"])
    # poll (read-only) until every recipient of this run is delivered, bounded
    deadline = time.monotonic() + drain_bound_s
    polls = 0
    while True:
        c = counts_since(db, id0)
        polls += 1
        final = sum(v for k, v in c.items() if k >= DELIVERED)
        if final >= accepted or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    t_polled = time.time()
    stop_tl.set()
    time.sleep(0.6)  # the simulator rewrites its stats file every 0.5 s
    if timeline:
        tl.join(5)
    rss_peak = sampler.stop()
    main1, other1 = tree_cpu(server.pid)
    sim_cpu = cpu_s(sim.pid) - sim_cpu0 if sim else 0.0
    pg_cpu1 = pg_cpu.total() if db.is_pg else pg_cpu0
    busy1, _ = machine_busy()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    driver_cpu = time.process_time() - self0
    commits1, ops1 = writer_counters(server)
    claims1, claimed1 = claim_counters(server)
    s1 = sim.stats() if sim else {}
    rows: list[tuple[int, float, float | None, float, int]] = db.rows(  # type: ignore[assignment]
        "SELECT r.state, m.created_at, r.submitted_at, r.final_at, r.reclaims"
        " FROM recipients r JOIN messages m ON m.msgid = r.msgid WHERE r.id > ?",
        (id0,),
    )
    delivered = [r for r in rows if r[0] == DELIVERED]
    last_final = max((r[3] for r in delivered), default=None)
    last_submit = max((r[2] for r in rows if r[2] is not None), default=None)
    receipt_lag = [r[3] - r[2] for r in delivered if r[2] is not None]
    accept_to_final = [r[3] - r[1] for r in delivered]
    gw_cpu = (main1 - main0) + (other1 - other0)
    ncpu = os.cpu_count() or 1
    window = t_polled - t0
    machine_cpu = (busy1 - busy0) / TICK
    foreign = machine_cpu - gw_cpu - sim_cpu - wrk_cpu - driver_cpu - (pg_cpu1 - pg_cpu0)
    send_s = (w["send_window_us"] if w["send_window_us"] > 0 else w["wrk_duration_us"]) / 1e6
    e2e_s = (last_final - t0) if last_final else None
    res: dict[str, object] = {
        "kind": "e2e",
        "label": label,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t0)),
        "n": n,
        "concurrency": conc,
        "answered": w["answered"],
        "non_success": w["non_success"],
        "accepted": accepted,
        "socket_errors": sum(
            int(w[k]) for k in ("err_connect", "err_read", "err_write", "err_timeout")
        ),
        "bad_sample": w["bad_sample"],
        "accepted_rps": round(accepted / send_s, 1) if send_s > 0 else None,
        "send_phase_s": round(send_s, 3),
        "p50_ms": round(w["p50_us"] / 1000, 2),
        "p99_ms": round(w["p99_us"] / 1000, 2),
        "recipients": len(rows),
        "delivered": len(delivered),
        "other_states": {
            str(s): sum(1 for r in rows if r[0] == s) for s in {r[0] for r in rows} - {DELIVERED}
        },
        "reclaims": sum(int(r[4]) for r in rows),
        "e2e_s": round(e2e_s, 3) if e2e_s else None,
        "e2e_msg_per_s": round(accepted / e2e_s, 1) if e2e_s else None,
        "e2e_to_last_submit_s": round(last_submit - t0, 3) if last_submit else None,
        "e2e_submit_msg_per_s": round(accepted / (last_submit - t0), 1) if last_submit else None,
        "http_s": round(t_answered - t0, 3),
        "drain_after_last_answer_s": round(last_final - t_answered, 3) if last_final else None,
        "receipt_lag_p50_ms": round(1000 * (pct(receipt_lag, 0.5) or 0), 1),
        "receipt_lag_p99_ms": round(1000 * (pct(receipt_lag, 0.99) or 0), 1),
        "accept_to_delivered_p50_s": round(pct(accept_to_final, 0.5) or 0, 3),
        "accept_to_delivered_p99_s": round(pct(accept_to_final, 0.99) or 0, 3),
        "sim_submits": int(s1.get("submits", 0)) - int(s0.get("submits", 0)),  # type: ignore[call-overload]
        "sim_receipts_sent": int(s1.get("receipts_sent", 0))  # type: ignore[call-overload]
        - int(s0.get("receipts_sent", 0)),  # type: ignore[call-overload]
        "sim_receipts_acked": int(s1.get("receipts_acked", 0))  # type: ignore[call-overload]
        - int(s0.get("receipts_acked", 0)),  # type: ignore[call-overload]
        "sim_duplicates": int(s1.get("duplicate_accepts", 0))  # type: ignore[call-overload]
        - int(s0.get("duplicate_accepts", 0)),  # type: ignore[call-overload]
        "gateway_rss_peak_mib": round(rss_peak / 1024, 1),
        "gateway_cpu_s": round(gw_cpu, 2),
        "gateway_cpu_us_per_msg": round(1e6 * gw_cpu / accepted, 1) if accepted else None,
        "gateway_main_thread_cpu_s": round(main1 - main0, 2),
        "gateway_other_threads_cpu_s": round(other1 - other0, 2),
        "simulator_cpu_s": round(sim_cpu, 2) if sim else None,
        "database": "postgresql" if db.is_pg else "sqlite",
        "postgres_cpu_s": round(pg_cpu1 - pg_cpu0, 2) if db.is_pg else None,
        "postgres_cpu_us_per_msg": round(1e6 * (pg_cpu1 - pg_cpu0) / accepted, 1)
        if db.is_pg and accepted
        else None,
        "wrk_cpu_us_per_msg": round(1e6 * wrk_cpu / accepted, 1) if accepted else None,
        "wrk_cpu_s": round(wrk_cpu, 2),
        "driver_cpu_s": round(driver_cpu, 2),
        "commits": commits1 - commits0,
        "mean_batch": round((ops1 - ops0) / (commits1 - commits0), 1)
        if commits1 > commits0
        else None,
        "claims": claims1 - claims0,
        "mean_claim": round((claimed1 - claimed0) / (claims1 - claims0), 1)
        if claims1 > claims0
        else None,
        "window_s": round(window, 2),
        "machine_cpu_util_pct": round(100 * machine_cpu / (window * ncpu), 1),
        "foreign_cpu_s": round(foreign, 2),
        "pre_run_busy_pct": quiet,
        "db_polls": polls,
    }
    res["contaminated"] = foreign > max(0.3, 0.05 * window * ncpu)
    if timeline:
        res["timeline"] = [
            {
                "t": round(t - t0, 1),
                "queued": c.get(0, 0),
                "submitted": c.get(1, 0),
                "final": sum(v for k, v in c.items() if k >= DELIVERED),
            }
            for t, c in points
        ]
    return res


def print_run(r: dict[str, object]) -> None:
    print(
        f"  E2E [{r['label']}] accepted {r['accepted']}/{r['n']} at {r['accepted_rps']} req/s"
        f"  p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  non-success {r['non_success']}"
        f"  socket errors {r['socket_errors']}"
        + (f"  first bad: {r['bad_sample']}" if r["bad_sample"] else "")
    )
    print(
        f"      end to end: {r['e2e_s']} s = {r['e2e_msg_per_s']} msg/s to the last receipt"
        f" ({r['e2e_submit_msg_per_s']} msg/s to the last submit);  HTTP {r['http_s']} s,"
        f" drain after the last answer {r['drain_after_last_answer_s']} s"
    )
    print(
        f"      delivered {r['delivered']}/{r['accepted']} (other states {r['other_states']},"
        f" reclaims {r['reclaims']});  simulator: submits {r['sim_submits']}, receipts sent"
        f" {r['sim_receipts_sent']}, acked {r['sim_receipts_acked']}, duplicates"
        f" {r['sim_duplicates']};  receipt lag p50 {r['receipt_lag_p50_ms']} ms"
        f" p99 {r['receipt_lag_p99_ms']} ms;  accept->delivered p50"
        f" {r['accept_to_delivered_p50_s']} s p99 {r['accept_to_delivered_p99_s']} s"
    )
    print(
        f"      gateway: peak RSS {r['gateway_rss_peak_mib']} MiB, CPU {r['gateway_cpu_s']} s"
        f" = {r['gateway_cpu_us_per_msg']} us/msg (event loop {r['gateway_main_thread_cpu_s']} s,"
        f" other threads {r['gateway_other_threads_cpu_s']} s);  simulator CPU"
        f" {r['simulator_cpu_s']} s;"
        + (f"  PostgreSQL CPU {r['postgres_cpu_s']} s;" if r.get("postgres_cpu_s") else "")
        + f"  wrk CPU {r['wrk_cpu_s']} s;  group commit"
        f" {r['commits']:.0f} commits, mean batch {r['mean_batch']};  dispatcher"
        f" {r['claims']:.0f} claims, mean {r['mean_claim']} recipients"
    )
    print(
        f"      machine {r['machine_cpu_util_pct']} % busy over {r['window_s']} s, foreign"
        f" {r['foreign_cpu_s']} s, busy before {r['pre_run_busy_pct']} %"
        + ("  CONTAMINATED" if r["contaminated"] else "")
        + (
            f";  statut sample {r['statut_answers']} ({'OK' if r['statut_ok'] else 'NOT OK'})"
            if "statut_answers" in r
            else ""
        ),
        flush=True,
    )
    if r.get("timeline"):
        print(
            "      timeline (s: queued/submitted/final): "
            + "  ".join(
                f"{p['t']}:{p['queued']}/{p['submitted']}/{p['final']}"
                for p in r["timeline"]  # type: ignore[attr-defined]
            )
        )


# --- main ------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--requests", type=int, default=20000, help="GETs per run (N)")
    ap.add_argument("-c", "--connections", type=int, default=50, help="wrk connections (C)")
    ap.add_argument("--window", type=int, default=100, help="connector window (submits)")
    ap.add_argument("--receipt-window", type=int, default=100, help="simulator receipt window")
    ap.add_argument("--runs", type=int, default=3, help="measured runs")
    ap.add_argument("--warmup", type=int, default=-1, help="warm-up GETs (default N/10)")
    ap.add_argument(
        "--retry-contaminated", type=int, default=2, help="extra runs replacing flagged ones"
    )
    ap.add_argument("--drain-bound", type=float, default=120.0, help="s to wait for receipts")
    ap.add_argument("--quiet-wait", type=float, default=30.0, help="s to wait for a quiet box")
    ap.add_argument("--statut-sample", type=int, default=100)
    ap.add_argument("--access-log", choices=("true", "false"), default=None)
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="PASSERELLE_WORKERS for the gateway (RSS and CPU summed over its processes)",
    )
    ap.add_argument(
        "--database-url",
        metavar="URL",
        help="the gateway's database (an empty postgresql://... one); default a fresh SQLite file",
    )
    ap.add_argument(
        "--builtin-simulator",
        action="store_true",
        help="no standalone simulator and no connector: serve delivers to its built-in one",
    )
    ap.add_argument("--no-timeline", action="store_true", help="no per-second state counts")
    ap.add_argument("--profile", metavar="FILE", help="py-spy raw profile of the measured runs")
    ap.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/bench-tools/bin/py-spy")
    ap.add_argument("--profile-rate", type=int, default=250)
    ap.add_argument("--profile-idle", action="store_true")
    ap.add_argument("--json", metavar="FILE", help="append one JSON line per run")
    ap.add_argument("--label", default="")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--passerelle", default=str(ROOT / ".venv" / "bin" / "passerelle"))
    args = ap.parse_args()
    n, conc = args.requests, args.connections
    if not (
        1 <= n <= 1_000_000
        and 1 <= conc <= 1000
        and 1 <= args.window <= 1000
        and 0 <= args.runs <= 20
        and 0 <= args.retry_contaminated <= 10
        and 1 <= args.drain_bound <= 3600
        and 0 <= args.statut_sample <= 10_000
        and 1 <= args.workers <= 8
    ):
        ap.error("out of bounds")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: run bench/e2e.sh, which installs it")
    warmup = n // 10 if args.warmup < 0 else args.warmup
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    server = Server(
        args.passerelle,
        args.access_log,
        args.keep,
        {
            "PASSERELLE_DELIVERY": "true",
            "PASSERELLE_BUILTIN_SIMULATOR": "true" if args.builtin_simulator else "false",
            "PASSERELLE_WORKERS": str(args.workers),
        },
    )
    if args.database_url:
        server.env["PASSERELLE_DATABASE_URL"] = args.database_url
    sim = None if args.builtin_simulator else Simulator(
        args.passerelle, server.dir, args.receipt_window, []
    )  # fmt: skip
    db: Db | None = None
    version = code_version()
    profiler: Profiler | None = None
    results: list[dict[str, object]] = []
    hwm = 0
    try:
        server.create_account()
        if sim is not None:
            sim.start()
            subprocess.run(
                [args.passerelle, "connector", "add", "sim", "--host", HOST,
                 "--port", str(sim.port), "--system-id", "x", "--password", "y",
                 "--window", str(args.window)],
                env=server.env, check=True, timeout=60, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        server.start()
        db = Db(server.env["PASSERELLE_DATABASE_URL"])
        print(
            f"passerelle e2e bench: N={n} C={conc} window={args.window}"
            f" receipt-window={args.receipt_window} runs={args.runs} workers={args.workers}"
            f" code {version} database {'postgresql' if db.is_pg else 'sqlite'}"
            f" access_log={args.access_log or 'default'}  gateway pid {server.pid}"
            f" {server.base}  "
            + (f"simulator pid {sim.pid} port {sim.port}" if sim else "built-in simulator"),
            flush=True,
        )
        msisdn = 33600000000
        if warmup:
            r = run_once(
                server, sim, warmup, conc, msisdn, args.drain_bound, 0, "warmup", False, db
            )
            msisdn += 1_000_000
            print_run(r)
        if args.profile:
            profiler = Profiler(
                args.py_spy,
                server.pid,
                Path(args.profile),
                args.profile_rate,
                (["--idle"] if args.profile_idle else [])
                + ["--subprocesses"],  # worker processes, the delivery process
            )
        done, extra = 0, args.retry_contaminated
        while done < args.runs:
            id0 = db.value("SELECT coalesce(max(id), 0) FROM recipients")
            r = run_once(
                server,
                sim,
                n,
                conc,
                msisdn,
                args.drain_bound,
                args.quiet_wait,
                "profiled" if profiler else "measured",
                not args.no_timeline,
                db,
            )
            msisdn += 1_000_000
            if args.statut_sample:
                r.update(check_statut(server, db, id0, args.statut_sample))
            r["window"] = args.window if sim else None
            r["simulator"] = "standalone" if sim else "built-in"
            r["workers"] = args.workers
            r["code"] = version
            r["tag"] = args.label
            print_run(r)
            results.append(r)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(r) + "\n")
            if r["contaminated"] and extra > 0:
                extra -= 1
                continue
            done += 1
    finally:
        if profiler:
            profiler.stop()
        hwm = sum(status_kib(p, "VmHWM") for p in tree(server.pid)) if server.proc else 0
        rc = server.stop()
        sim_rc = sim.stop() if sim else None
        if db is not None:
            db.close()
        server.cleanup()

    clean = [r for r in results if not r["contaminated"]] or results
    bad = any(r["delivered"] != r["accepted"] or not r.get("statut_ok", True) for r in results)
    if clean:

        def med(key: str) -> float:
            vals = [float(r[key]) for r in clean if r.get(key) is not None]  # type: ignore[arg-type]
            return round(statistics.median(vals), 1) if vals else float("nan")

        print(
            f"summary (median of {len(clean)} {'clean ' if clean is not results else ''}runs,"
            f" window {args.window}): {med('e2e_msg_per_s')} msg/s end to end with receipts"
            f" ({med('e2e_submit_msg_per_s')} to the last submit);"
            f" {med('accepted_rps')} req/s accepted; p50 {med('p50_ms')} ms p99 {med('p99_ms')}"
            f" ms; drain {med('drain_after_last_answer_s')} s; gateway"
            f" {med('gateway_cpu_us_per_msg')} us/msg, peak RSS"
            f" {max(float(r['gateway_rss_peak_mib']) for r in clean)} MiB"  # type: ignore[arg-type]
            f" (VmHWM {hwm / 1024:.1f}); simulator CPU {med('simulator_cpu_s')} s;"
            f" all delivered and statut OK: {not bad}; exits {rc}/{sim_rc}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
