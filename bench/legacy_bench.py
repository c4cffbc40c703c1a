#!/usr/bin/env python3
"""Benchmark of the legacy API (`/client/api?action=envoi`), run by hand, never in CI.

Starts its own `passerelle serve` on a fresh SQLite file in a temporary folder,
creates the account `bench` (API password `bench`, 10^8 credits), then:

* GET bench: wrk (1 thread, C connections) with `sendsms.lua` sends exactly N
  single-recipient `envoi` GETs, each to another destination; only answers
  matching ``^ddddddddd|Message envoy`` count as accepted.  Reports accepted
  req/s, p50/p90/p99 latency, errors, the server's peak RSS (VmRSS sampled every
  0.25 s) and CPU-seconds per request (/proc/PID/stat deltas), and checks that the
  `messages` rows added equal the accepted count.
* POST bench: one form-urlencoded POST with R distinct recipients, timed to the
  answer, repeated a few times; checks the msgid and the `recipients` rows.

Afterwards it stops the server it started (SIGTERM by pid) and removes the folder.
Everything targets 127.0.0.1; every loop is bounded in count and time.

Usage: see bench/README.md or `legacy_bench.py --help`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LUA = HERE / "sendsms.lua"
TICK = os.sysconf("SC_CLK_TCK")
TEXT = "Benchmark+message+from+bench-peer"  # the text bench/kannel.sh sends: 33 GSM characters
GET_PATH = "/client/api?action=envoi&login=bench&apipasse=bench&origine=12345&msg=" + TEXT
OK_PATTERN = "~^%d%d%d%d%d%d%d%d%d|Message envoy"  # Lua pattern ('|' is literal)
OK_RE = re.compile(r"^(\d{9})\|Message envoy")
HOST = "127.0.0.1"
WRK_BOUND_S = 300  # upper bound of one wrk run (it normally ends at the N-th answer)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- /proc sampling ---------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    return sum(cpu_split(pid))


def cpu_split(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process (all its threads), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / TICK, int(fields[12]) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def thread_cpu_s(pid: int) -> tuple[float, float]:
    """(main thread, all other threads) CPU seconds of a process, from /proc/PID/task."""
    main = other = 0.0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0, 0.0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        value = (int(fields[11]) + int(fields[12])) / TICK
        if int(tid) == pid:
            main = value
        else:
            other += value
    return main, other


def status_kib(pid: int, key: str) -> int:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM), 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def machine_busy() -> tuple[int, int]:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def wait_quiet(max_wait_s: float, limit_pct: float = 15.0) -> float:
    """Wait (bounded) until the machine is at most `limit_pct` busy; last busy %."""
    deadline = time.monotonic() + max_wait_s
    while True:
        b0, t0 = machine_busy()
        time.sleep(1.0)
        b1, t1 = machine_busy()
        pct = 100.0 * (b1 - b0) / max(1, t1 - t0)
        if pct <= limit_pct or time.monotonic() >= deadline:
            return round(pct, 1)


class RssSampler(threading.Thread):
    """VmRSS of one pid every `period` s (bounded by `bound_s`); keeps the peak."""

    def __init__(self, pid: int, bound_s: float, period: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.bound_s, self.period = pid, bound_s, period
        self.peak_kib = 0
        self.halt = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.bound_s
        while not self.halt.is_set() and time.monotonic() < deadline:
            self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))
            self.halt.wait(self.period)

    def stop(self) -> int:
        self.halt.set()
        self.join(2)
        self.peak_kib = max(self.peak_kib, status_kib(self.pid, "VmRSS"))
        return self.peak_kib


# --- the server under test ----------------------------------------------------------


class Server:
    """`passerelle serve` on a fresh SQLite file in a temporary folder."""

    def __init__(
        self,
        exe: str,
        access_log: str | None,
        keep: bool,
        extra_env: dict[str, str],
        switch_interval: float | None = None,
    ):
        self.exe = exe
        self.serve_cmd = [exe, "serve"]
        if switch_interval is not None:
            # diagnostic variant: the same server with another GIL switch interval
            python = str(Path(exe).with_name("python"))
            self.serve_cmd = [
                python,
                "-c",
                f"import sys; sys.setswitchinterval({switch_interval!r}); "
                "from passerelle.cli import main; main(prog_name='passerelle')",
                "serve",
            ]
        self.dir = Path(tempfile.mkdtemp(prefix="passerelle-bench-"))
        self.db = self.dir / "bench.db"
        self.keep = keep
        self.env = dict(os.environ)
        self.env.update(extra_env)
        self.env["PASSERELLE_DATABASE_URL"] = f"sqlite:///{self.db}"
        self.env["PASSERELLE_MIN_API_PASSWORD_LENGTH"] = "4"
        self.env["PASSERELLE_HOST"] = HOST
        # the accept path only: no dispatcher, and /readyz needs no bound connector
        self.env.setdefault("PASSERELLE_DELIVERY", "false")
        if access_log is not None:
            self.env["PASSERELLE_ACCESS_LOG"] = access_log
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log_path = self.dir / "server.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        port_file = self.dir / "port"
        logf = open(self.log_path, "ab")  # noqa: SIM115 (closed with the process)
        self.proc = subprocess.Popen(
            [*self.serve_cmd, "--host", HOST, "--port", "0", "--port-file", str(port_file)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=logf,
        )
        logf.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"server exited with {self.proc.returncode}, see {self.log_path}:\n"
                    + self.log_path.read_text()[-2000:]
                )
            if port_file.exists() and port_file.read_text().strip():
                self.port = int(port_file.read_text())
                try:
                    with urllib.request.urlopen(self.base + "/readyz", timeout=2) as r:
                        if r.status == 200:
                            log(f"server pid {self.pid} ready on {self.base} (db {self.db})")
                            return
                except OSError:
                    pass
            time.sleep(0.1)
        raise SystemExit("server not ready within 60 s")

    def create_account(self) -> None:
        subprocess.run(
            [
                self.exe,
                "account",
                "create",
                "bench",
                "--email",
                "b@example.com",
                "--api-password",
                "bench",
                "--credits",
                "100000000",
            ],
            env=self.env,
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> int | None:
        """SIGTERM our server (by pid), SIGKILL after 30 s; its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                log(f"server pid {self.pid} did not stop in 30 s: SIGKILL")
                self.proc.kill()
                self.proc.wait(10)
        log(f"server pid {self.pid} stopped (exit {self.proc.returncode})")
        return self.proc.returncode

    def cleanup(self) -> None:
        if self.keep:
            log(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # read-only queries on the SQLite file (WAL: never blocks the writer)
    def query(self, sql: str, args: tuple[object, ...] = ()) -> int:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return int(conn.execute(sql, args).fetchone()[0])
        finally:
            conn.close()

    def count_messages(self) -> int:
        return self.query("SELECT count(*) FROM messages")


def metric_values(server: Server, *families: str) -> tuple[float, ...]:
    """The values of unlabelled (or last-labelled) samples of `families` in /metrics,
    names without their `_total`, one per family (0 when absent or unreachable)."""
    try:
        with urllib.request.urlopen(server.base + "/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return tuple(0.0 for _ in families)
    values = {}
    for line in text.splitlines():
        if line.startswith(families):
            name, _, value = line.rpartition(" ")
            values[name.split("{")[0].removesuffix("_total")] = float(value)
    return tuple(values.get(family, 0.0) for family in families)


def writer_counters(server: Server) -> tuple[float, float]:
    """(commits, operations) of the group-commit writer, from /metrics (0, 0 if absent)."""
    commits, operations = metric_values(
        server, "passerelle_store_commits", "passerelle_store_operations"
    )
    return commits, operations


# --- GET bench (wrk) ---------------------------------------------------------------


def run_wrk(
    server: Server, n: int, conc: int, first_msisdn: int, quiet_wait_s: float, label: str
) -> dict[str, object]:
    quiet = wait_quiet(quiet_wait_s) if quiet_wait_s > 0 else None
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    msgs0 = server.count_messages()
    commits0, ops0 = writer_counters(server)
    cpu0 = cpu_s(server.pid)
    sys0 = cpu_split(server.pid)[1]
    main0, other0 = thread_cpu_s(server.pid)
    busy0, _ = machine_busy()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    self0 = time.process_time()
    sampler = RssSampler(server.pid, WRK_BOUND_S + 60)
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
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WRK_BOUND_S + 30)
    window = time.monotonic() - t0
    rss_peak = sampler.stop()
    cpu = cpu_s(server.pid) - cpu0
    sys_cpu = cpu_split(server.pid)[1] - sys0
    main1, other1 = thread_cpu_s(server.pid)
    busy1, _ = machine_busy()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    driver_cpu = time.process_time() - self0
    lines = [x for x in proc.stdout.splitlines() if x.startswith("WRKJSON ")]
    if not lines:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit("wrk produced no result")
    w = json.loads(lines[0][len("WRKJSON ") :])
    accepted = w["answered"] - w["non_success"]
    # every accepted answer was sent after its commit: the rows are there already;
    # wait (bounded) only if something is still in flight after socket errors
    commits1, ops1 = writer_counters(server)
    added = server.count_messages() - msgs0
    deadline = time.monotonic() + 5
    while added != accepted and time.monotonic() < deadline:
        time.sleep(0.2)
        added = server.count_messages() - msgs0
    send_s = (w["send_window_us"] if w["send_window_us"] > 0 else w["wrk_duration_us"]) / 1e6
    ncpu = os.cpu_count() or 1
    machine_cpu = (busy1 - busy0) / TICK
    foreign = machine_cpu - cpu - wrk_cpu - driver_cpu
    res: dict[str, object] = {
        "kind": "get",
        "label": label,
        "n": n,
        "concurrency": conc,
        "access_log": server.env.get("PASSERELLE_ACCESS_LOG", "true(default)"),
        "started": started,
        "answered": w["answered"],
        "accepted": accepted,
        "non_success": w["non_success"],
        "socket_errors": sum(w[k] for k in ("err_connect", "err_read", "err_write", "err_timeout")),
        "socket_errors_by_kind": {
            k[4:]: w[k]
            for k in ("err_connect", "err_read", "err_write", "err_timeout", "err_status")
        },
        "bad_sample": w["bad_sample"],
        "accepted_rps": round(accepted / send_s, 1) if send_s > 0 else None,
        "send_phase_s": round(send_s, 3),
        "p50_ms": round(w["p50_us"] / 1000, 2),
        "p90_ms": round(w["p90_us"] / 1000, 2),
        "p99_ms": round(w["p99_us"] / 1000, 2),
        "max_ms": round(w["max_us"] / 1000, 2),
        "messages_rows_added": added,
        "rows_match": added == accepted,
        "server_rss_peak_mib": round(rss_peak / 1024, 1),
        "commits": commits1 - commits0,
        "mean_batch": round((ops1 - ops0) / (commits1 - commits0), 1)
        if commits1 > commits0
        else None,
        "server_cpu_s": round(cpu, 2),
        "server_cpu_us_per_req": round(1e6 * cpu / accepted, 1) if accepted else None,
        "server_cpu_system_pct": round(100 * sys_cpu / cpu, 1) if cpu else None,
        # share of one core used by the event-loop thread (the pid's main thread)
        # and by the other threads (SQLite writer, to_thread pool) over the send phase
        "server_main_thread_core_pct": round(100 * (main1 - main0) / send_s, 1) if send_s else None,
        "server_other_threads_core_pct": round(100 * (other1 - other0) / send_s, 1)
        if send_s
        else None,
        "wrk_cpu_s": round(wrk_cpu, 2),
        "machine_cpu_util_pct": round(100 * machine_cpu / (window * ncpu), 1),
        "foreign_cpu_s": round(foreign, 2),
        "pre_run_busy_pct": quiet,
    }
    res["contaminated"] = foreign > max(0.2, 0.05 * window * ncpu)
    return res


def print_get(r: dict[str, object]) -> None:
    print(
        f"  GET [{r['label']}] accepted {r['accepted']}/{r['n']}  {r['accepted_rps']} req/s"
        f"  p50 {r['p50_ms']} ms  p90 {r['p90_ms']} ms  p99 {r['p99_ms']} ms  max {r['max_ms']} ms"
        f"  non-success {r['non_success']}  socket errors {r['socket_errors_by_kind']}"
        + (f"  first bad: {r['bad_sample']}" if r["bad_sample"] else "")
    )
    print(
        f"      rows added {r['messages_rows_added']} ({'OK' if r['rows_match'] else 'MISMATCH'})"
        f"  server peak RSS {r['server_rss_peak_mib']} MiB  server CPU {r['server_cpu_s']} s"
        f" = {r['server_cpu_us_per_req']} us/req (main thread {r['server_main_thread_core_pct']} %"
        f" of a core, others {r['server_other_threads_core_pct']} %;"
        f" {r['server_cpu_system_pct']} % in the kernel)  wrk CPU {r['wrk_cpu_s']} s"
        f"  machine {r['machine_cpu_util_pct']} % busy  foreign {r['foreign_cpu_s']} s"
        + ("  CONTAMINATED" if r["contaminated"] else ""),
        flush=True,
    )
    print(
        f"      group commit: {r['commits']:.0f} commits, mean batch {r['mean_batch']} operations",
        flush=True,
    )


# --- POST bench ----------------------------------------------------------------------


def run_post(server: Server, recipients: int, first_msisdn: int, label: str) -> dict[str, object]:
    dests = ",".join(str(first_msisdn + i) for i in range(recipients))
    body = urllib.parse.urlencode(
        {
            "action": "envoi",
            "login": "bench",
            "apipasse": "bench",
            "origine": "12345",
            "msg": TEXT.replace("+", " "),
            "dest": dests,
        }
    ).encode()
    cpu0 = cpu_s(server.pid)
    conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
    t0 = time.perf_counter()
    conn.request(
        "POST",
        "/client/api",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    resp = conn.getresponse()
    answer = resp.read().decode("utf-8", "replace")
    elapsed = time.perf_counter() - t0
    conn.close()
    cpu = cpu_s(server.pid) - cpu0
    m = OK_RE.match(answer)
    rows = (
        server.query("SELECT count(*) FROM recipients WHERE msgid = ?", (int(m.group(1)),))
        if m
        else 0
    )
    return {
        "kind": "post",
        "label": label,
        "recipients": recipients,
        "body_bytes": len(body),
        "status": resp.status,
        "answer": answer[:60],
        "accepted": bool(m),
        "recipient_rows": rows,
        "rows_match": rows == recipients,
        "seconds": round(elapsed, 4),
        "server_cpu_s": round(cpu, 2),
        "server_rss_mib": round(status_kib(server.pid, "VmRSS") / 1024, 1),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


# --- py-spy ---------------------------------------------------------------------------


class Profiler:
    """`py-spy record --format raw` on the server for the measured runs."""

    def __init__(self, pyspy: str, pid: int, out: Path, rate: int, extra: list[str]) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [
                pyspy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--threads",
                "--nonblocking",
                *extra,
                "-o",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)
        if self.proc.poll() is not None:
            raise SystemExit("py-spy failed: " + self.proc.stderr.read().decode()[-1000:])  # type: ignore[union-attr]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        log(f"py-spy profile written to {self.out}")


# --- main ----------------------------------------------------------------------------


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--requests", type=int, default=20000, help="GETs per run (N)")
    ap.add_argument("-c", "--connections", type=int, default=50, help="wrk connections (C)")
    ap.add_argument("--runs", type=int, default=3, help="measured GET runs (own harness)")
    ap.add_argument(
        "--warmup", type=int, default=-1, help="warm-up GETs, not counted (default N/10)"
    )
    ap.add_argument(
        "--retry-contaminated",
        type=int,
        default=2,
        help="extra runs allowed to replace runs flagged as contaminated",
    )
    ap.add_argument("--post-recipients", type=int, default=10000)
    ap.add_argument("--post-runs", type=int, default=5, help="0 = no POST bench")
    ap.add_argument(
        "--access-log",
        choices=("true", "false"),
        default=None,
        help="PASSERELLE_ACCESS_LOG for the server (default: the server's default)",
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="wait up to this many s for the machine to be <= 15%% busy before a run",
    )
    ap.add_argument(
        "--profile",
        metavar="FILE",
        help="record the measured GET runs with py-spy "
        "(raw collapsed stacks to FILE); needs --py-spy",
    )
    ap.add_argument("--py-spy", default=shutil.which("py-spy") or "", help="py-spy executable")
    ap.add_argument("--profile-rate", type=int, default=250)
    ap.add_argument(
        "--profile-idle",
        action="store_true",
        help="py-spy --idle: also sample threads that wait (queue, fsync, GIL)",
    )
    ap.add_argument(
        "--profile-gil",
        action="store_true",
        help="py-spy --gil: only sample the thread holding the GIL",
    )
    ap.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="diagnostic: run the server with sys.setswitchinterval(S)",
    )
    ap.add_argument("--json", metavar="FILE", help="append one JSON line per run to FILE")
    ap.add_argument("--label", default="", help="tag for the JSON lines")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--passerelle", default=str(ROOT / ".venv" / "bin" / "passerelle"))
    args = ap.parse_args()
    n, conc = args.requests, args.connections
    if not (
        1 <= n <= 1_000_000
        and 1 <= conc <= 1000
        and 0 <= args.runs <= 20
        and 0 <= args.post_runs <= 20
        and 1 <= args.post_recipients <= 100_000
        and 0 <= args.retry_contaminated <= 10
    ):
        ap.error("out of bounds: N 1..1e6, C 1..1000, runs 0..20, post recipients 1..1e5")
    if shutil.which("wrk") is None and (args.runs or args.warmup):
        raise SystemExit("wrk not found: run bench/legacy.sh, which installs it")
    warmup = n // 10 if args.warmup < 0 else args.warmup
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    server = Server(args.passerelle, args.access_log, args.keep, {}, args.switch_interval)
    results: list[dict[str, object]] = []
    profiler: Profiler | None = None
    warmup_accepted = 0

    def record(r: dict[str, object]) -> None:
        r.setdefault("label", args.label)
        r["tag"] = args.label
        results.append(r)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(r) + "\n")

    try:
        server.create_account()
        server.start()
        print(
            f"passerelle legacy bench: N={n} C={conc} runs={args.runs}"
            f" post={args.post_runs}x{args.post_recipients} access_log="
            f"{args.access_log or 'default'}"
            + (f" switch_interval={args.switch_interval}" if args.switch_interval else "")
            + f"  server pid {server.pid} {server.base}",
            flush=True,
        )
        msisdn = 33600000000
        if warmup:
            r = run_wrk(server, warmup, conc, msisdn, 0, "warmup")
            msisdn += 1_000_000
            print_get(r)
            warmup_accepted = int(r["accepted"])  # type: ignore[call-overload]
        if args.profile:
            if not args.py_spy:
                raise SystemExit("--profile needs py-spy (--py-spy PATH)")
            profiler = Profiler(
                args.py_spy,
                server.pid,
                Path(args.profile),
                args.profile_rate,
                (["--idle"] if args.profile_idle else []) + (["--gil"] if args.profile_gil else []),
            )
        done, extra = 0, args.retry_contaminated
        while done < args.runs:
            r = run_wrk(
                server, n, conc, msisdn, args.quiet_wait, "profiled" if profiler else "measured"
            )
            msisdn += 1_000_000
            print_get(r)
            record(r)
            if r["contaminated"] and extra > 0:
                extra -= 1
                continue
            done += 1
        if profiler:
            profiler.stop()
            profiler = None
        for i in range(args.post_runs):
            r = run_post(server, args.post_recipients, 33700000000 + i * 100_000, "post")
            print(
                f"  POST {r['recipients']} recipients ({r['body_bytes']} bytes): {r['seconds']} s"
                f"  answer {r['answer']!r}  recipient rows {r['recipient_rows']}"
                f" ({'OK' if r['rows_match'] else 'MISMATCH'})  server CPU {r['server_cpu_s']} s"
                f"  RSS {r['server_rss_mib']} MiB",
                flush=True,
            )
            record(r)
    finally:
        if profiler:
            profiler.stop()
        hwm = status_kib(server.pid, "VmHWM") if server.proc else 0
        rc = server.stop()
        total_rows = server.count_messages() if server.db.exists() else -1
        server_log = server.log_path.stat().st_size if server.log_path.exists() else 0
        server.cleanup()

    gets = [
        r
        for r in results
        if r["kind"] == "get" and r["label"] == "measured" and not r["contaminated"]
    ] or [r for r in results if r["kind"] == "get"]
    posts = [r for r in results if r["kind"] == "post"]
    expected = sum(int(r["accepted"]) for r in results if r["kind"] == "get")  # type: ignore[call-overload]
    expected += warmup_accepted
    expected += sum(1 for r in posts if r["accepted"])
    print("summary")
    if gets:
        print(
            f"  own harness, median of {len(gets)}: "
            f"{median([float(r['accepted_rps']) for r in gets])} req/s accepted"  # type: ignore[arg-type]
            f"  p50 {median([float(r['p50_ms']) for r in gets])} ms"  # type: ignore[arg-type]
            f"  p99 {median([float(r['p99_ms']) for r in gets])} ms"  # type: ignore[arg-type]
            f"  CPU {median([float(r['server_cpu_us_per_req']) for r in gets])} us/req"  # type: ignore[arg-type]
            f"  peak RSS {max(float(r['server_rss_peak_mib']) for r in gets)} MiB"
        )  # type: ignore[arg-type]
    if posts:
        secs = [float(r["seconds"]) for r in posts]  # type: ignore[arg-type]
        print(
            f"  POST {args.post_recipients} recipients: min {min(secs):.3f} s"
            f"  median {statistics.median(secs):.3f} s  max {max(secs):.3f} s"
            f"  all accepted: {all(r['accepted'] for r in posts)}"
            f"  rows: {all(r['rows_match'] for r in posts)}"
        )
    print(
        f"  server VmHWM {hwm / 1024:.1f} MiB, exit code {rc}, log {server_log} bytes;"
        f" messages rows at the end {total_rows}, accepted in total {expected}"
        f" ({'OK' if total_rows == expected else 'MISMATCH'})"
    )
    bad = any(not r.get("rows_match", True) for r in results) or total_rows != expected
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
