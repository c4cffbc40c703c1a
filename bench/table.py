#!/usr/bin/env python3
"""The comparison table with Kannel, in one sitting (run by hand, never in CI).

Use it through bench/table.sh. It runs, one after the other on this machine, the
configurations below, each RUNS times (after the warm-up each harness does), and
writes a Markdown table of the medians of the undisturbed runs with their ratios to
Kannel measured in the same sitting, and the target each figure is held to:

  1   Kannel 1.4.5, window 10, no delivery reports          (bench/kannel.sh)
  2   Kannel asking for delivery reports                     (DLR=1 bench/kannel.sh)
  3   Passerelle on its defaults (SQLite file, delivery on) plus one connector at
      window 10 to a separate simulator process              (bench/e2e_bench.py)
  4   Passerelle with no connector: the simulator built into `serve`
                                                             (e2e_bench.py --builtin-simulator)
  5   Passerelle accepting only (PASSERELLE_DELIVERY=false)  (bench/legacy_bench.py)
  6a  row 3 on a fresh PostgreSQL database, one process      (e2e_bench.py --database-url)
  6b  the same with two API processes (`serve --workers 2`)  (e2e_bench.py --workers 2)

The harnesses do the measuring; this script only starts them, one at a time, with the
same N, C and number of runs, collects their JSON lines and makes the table. Kannel is
started afresh for each of its runs (bench/kannel.sh with one run), so that every run
can be checked for foreign load like Passerelle's: before a run it waits (bounded) for
a quiet machine, and a run during which processes we did not start took more than 5 %
of the machine is flagged, left out of the medians and run again (at most
--retry-contaminated more times per row).

Everything binds and targets 127.0.0.1; the PostgreSQL rows create a database of their
own on the server of --pg-url and drop it afterwards. Each harness is bounded in time;
one that overruns is sent SIGTERM (it then stops what it started), then SIGKILL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster_bench import ensure_wrk
from legacy_bench import TICK, log, machine_busy, wait_quiet

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
Result = dict[str, object]


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    harness: str  # "kannel", "e2e" or "accept"
    options: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    postgres: bool = False


ROWS = (
    Row("1", "Kannel 1.4.5, window 10, no delivery reports", "kannel"),
    Row("2", "Kannel 1.4.5, window 10, delivery reports (`DLR=1`)", "kannel", env={"DLR": "1"}),
    Row("3", "Passerelle defaults (SQLite, delivery on) + connector, window 10", "e2e",
        ("--window", "10")),
    Row("4", "Passerelle defaults, built-in simulator (no connector)", "e2e",
        ("--builtin-simulator",)),
    Row("5", "Passerelle accept only (`PASSERELLE_DELIVERY=false`)", "accept",
        ("--post-runs", "0")),
    Row("6a", "Passerelle on PostgreSQL, one process, + connector, window 10", "e2e",
        ("--window", "10"), postgres=True),
    Row("6b", "Passerelle on PostgreSQL, 2 API processes (`--workers 2`)", "e2e",
        ("--window", "10", "--workers", "2"), postgres=True),
)  # fmt: skip


def chosen(only: str | None) -> list[Row]:
    """The rows of `--only 1,3,6` ("6" is 6a and 6b), in table order."""
    if not only:
        return list(ROWS)
    keys = {k.strip() for k in only.split(",") if k.strip()}
    unknown = keys - {r.key for r in ROWS} - {r.key[0] for r in ROWS}
    if unknown:
        raise SystemExit(f"--only: no row {', '.join(sorted(unknown))} (rows 1-5, 6a, 6b, 6)")
    return [r for r in ROWS if r.key in keys or r.key[0] in keys]


# --- running the harnesses ---------------------------------------------------------------


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM (a harness then stops what it started), SIGKILL after 90 s; exit code."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(90)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


def run_bounded(cmd: list[str], env: dict[str, str], bound_s: float, log_path: Path) -> int:
    """Run `cmd` (its output appended to log_path), stopped by pid past bound_s."""
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)
        try:
            return proc.wait(bound_s)
        except subprocess.TimeoutExpired:
            log(f"{cmd[1]} (pid {proc.pid}) ran over {bound_s:.0f} s: stopping it")
            return stop(proc)
        finally:
            if proc.poll() is None:  # we were stopped ourselves meanwhile
                stop(proc)


def read_lines(path: Path) -> list[Result]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def kannel_runs(row: Row, args: argparse.Namespace, out: Path) -> list[Result]:
    """RUNS runs of bench/kannel.sh, each a fresh Kannel with its warm-up, each checked
    for foreign load: the machine's CPU over the call minus the CPU of everything the
    call started (bearerbox, smsbox, the simulator, wrk: all waited for, so all in our
    RUSAGE_CHILDREN) and of this script."""
    results: list[Result] = []
    done, extra = 0, args.retry_contaminated
    ncpu = os.cpu_count() or 1
    while done < args.runs:  # each turn adds to `done` or takes from `extra`: bounded
        quiet = wait_quiet(args.quiet_wait) if args.quiet_wait > 0 else None
        lines = Path(tempfile.mkstemp(prefix="passerelle-table-", suffix=".jsonl")[1])
        env = {**os.environ, **row.env, "JSON": str(lines), "SERIES": f"row{row.key}"}
        env.setdefault("PASSERELLE", str(ROOT / ".venv" / "bin" / "passerelle"))
        busy0, _ = machine_busy()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self0, t0 = time.process_time(), time.monotonic()
        cmd = ["bash", str(HERE / "kannel.sh"), str(args.n), str(args.c), "1"]
        rc = run_bounded(cmd, env, 240 + args.n / 100, out / f"row{row.key}.log")
        window = time.monotonic() - t0
        busy1, _ = machine_busy()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) + (
            time.process_time() - self0
        )
        foreign = (busy1 - busy0) / TICK - ours
        found = read_lines(lines)
        lines.unlink(missing_ok=True)
        if rc != 0 or not found:
            log(f"row {row.key}: bench/kannel.sh exited {rc}, see {out}/row{row.key}.log")
            break
        r = found[-1]
        r.update(
            row=row.key,
            started=time.strftime("%Y-%m-%dT%H:%M:%S"),
            call_s=round(window, 2),
            foreign_cpu_s=round(foreign, 2),
            pre_run_busy_pct=quiet,
            contaminated=foreign > max(0.2, 0.05 * window * ncpu),
        )
        with open(out / f"row{row.key}.jsonl", "a") as f:
            f.write(json.dumps(r) + "\n")
        results.append(r)
        if r["contaminated"] and extra > 0:
            extra -= 1
            continue
        done += 1
    return results


@contextmanager
def fresh_database(admin_url: str, name: str) -> Iterator[str]:
    """An empty database `name` on the server of admin_url, dropped afterwards."""

    async def do(sql: str) -> None:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(do(f'CREATE DATABASE "{name}"'))
    log(f"created database {name}")
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(do(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        log(f"dropped database {name}")


def harness_runs(row: Row, args: argparse.Namespace, out: Path) -> list[Result]:
    """One call of e2e_bench.py or legacy_bench.py: warm-up, RUNS runs, flagged runs
    repeated (their own --retry-contaminated); their JSON lines, tagged with the row."""
    script = "e2e_bench.py" if row.harness == "e2e" else "legacy_bench.py"
    jsonl = out / f"row{row.key}.jsonl"
    cmd = [
        PYTHON, str(HERE / script), "-n", str(args.n), "-c", str(args.c),
        "--runs", str(args.runs), "--retry-contaminated", str(args.retry_contaminated),
        "--quiet-wait", str(args.quiet_wait), "--json", str(jsonl), "--label", f"row{row.key}",
        *row.options,
    ]  # fmt: skip
    if row.harness == "e2e":
        cmd += ["--no-timeline", "--drain-bound", str(args.drain_bound)]
    per_run = 60 + args.n / 200 + args.quiet_wait + args.drain_bound
    bound = 120 + (args.runs + args.retry_contaminated + 1) * per_run
    env = {**os.environ, **row.env}
    if row.postgres:
        name = f"passerelle_table_{os.getpid()}_{row.key}"
        with fresh_database(args.pg_url, name) as url:
            rc = run_bounded([*cmd, "--database-url", url], env, bound, out / f"row{row.key}.log")
    else:
        rc = run_bounded(cmd, env, bound, out / f"row{row.key}.log")
    found = read_lines(jsonl)
    if rc != 0:
        log(f"row {row.key}: {script} exited {rc}, see {out}/row{row.key}.log")
    for r in found:
        r["row"] = row.key
    return found


# --- the table -----------------------------------------------------------------------------


@dataclass
class Figures:
    """Medians of a row's clean runs (all its runs if every one was flagged)."""

    row: Row
    runs: list[Result]
    clean: list[Result]
    flagged: list[Result]

    @classmethod
    def of(cls, row: Row, runs: list[Result]) -> Figures:
        if row.harness == "accept":
            runs = [r for r in runs if r.get("kind") == "get"]
        flagged = [r for r in runs if r.get("contaminated")]
        clean = [r for r in runs if not r.get("contaminated")]
        return cls(row, runs, clean, flagged)

    def med(self, key: str) -> float | None:
        vals = [float(r[key]) for r in (self.clean or self.runs) if r.get(key) is not None]  # type: ignore[arg-type]
        return statistics.median(vals) if vals else None

    @property
    def accept(self) -> float | None:
        return self.med("accepted_rps")

    @property
    def p99(self) -> float | None:
        return self.med("p99_ms")

    @property
    def msgs(self) -> float | None:
        return self.med("to_smsc_msg_per_s" if self.row.harness == "kannel" else "e2e_msg_per_s")

    @property
    def cpu(self) -> float | None:
        key = {"kannel": "cpu_us_per_req", "e2e": "gateway_cpu_us_per_msg"}
        return self.med(key.get(self.row.harness, "server_cpu_us_per_req"))

    @property
    def all_delivered(self) -> bool:
        return all(r.get("delivered", r.get("accepted")) == r.get("accepted") for r in self.runs)


def num(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "-"
    return f"{x:,.{digits}f}".replace(",", " ")


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def times(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}×"


def check(label: str, value: float | None, ok: Callable[[float], bool], shown: str) -> str:
    if value is None:
        return f"{label}: not measured"
    return f"{label}: {shown} {'✅' if ok(value) else '❌'}"


def targets(key: str, fig: dict[str, Figures]) -> list[str]:
    """The targets a row is held to, with the figures of this sitting."""
    f = fig[key]
    k1, k2 = fig.get("1"), fig.get("2")
    acc1 = ratio(f.accept, k1.accept if k1 else None)
    if key == "3":
        e2e1 = ratio(f.msgs, k1.msgs if k1 else None)
        e2e2 = ratio(f.msgs, k2.msgs if k2 else None)
        return [
            check("accept ≥ 1.0× Kannel", acc1, lambda v: v >= 1.0, times(acc1)),
            check("p99 < 20 ms", f.p99, lambda v: v < 20, f"{num(f.p99, 1)} ms"),
            check("end to end ≥ 0.5× Kannel", e2e1, lambda v: v >= 0.5, times(e2e1)),
            check("≥ 3× Kannel with reports", e2e2, lambda v: v >= 3.0, times(e2e2)),
            check("CPU ≤ 200 µs/msg", f.cpu, lambda v: v <= 200, f"{num(f.cpu)} µs"),
        ]
    if key == "4":
        r = ratio(f.accept, fig["3"].accept if "3" in fig else None)
        return [check("accept ≥ 0.5× row 3", r, lambda v: v >= 0.5, times(r))]
    if key == "5":
        return [check("accept ≥ 1.2× Kannel", acc1, lambda v: v >= 1.2, times(acc1))]
    if key == "6a":
        r = ratio(f.accept, fig["3"].accept if "3" in fig else None)
        return [check("accept ≥ 0.8× SQLite (row 3)", r, lambda v: v >= 0.8, times(r))]
    if key == "6b":
        r = ratio(f.accept, fig["6a"].accept if "6a" in fig else None)
        return [check("accept ≥ 1.6× one process (6a)", r, lambda v: v >= 1.6, times(r))]
    return []


def table(fig: dict[str, Figures]) -> list[str]:
    k1, k2 = fig.get("1"), fig.get("2")
    lines = [
        "| # | configuration | runs (clean + flagged) | accepted req/s (runs) | × Kannel (1)"
        " | p99 ms | msg/s (Kannel: to the SMSC; Passerelle: end to end, receipts stored)"
        " | × Kannel (1) | × Kannel with reports (2) | CPU µs/msg | targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, f in fig.items():
        runs = " / ".join(num(float(r["accepted_rps"])) for r in f.clean)  # type: ignore[arg-type]
        cpu = num(f.cpu)
        if f.row.postgres:
            cpu += f" + PostgreSQL {num(f.med('postgres_cpu_us_per_msg'))}"
        msgs = "-" if f.row.harness == "accept" else num(f.msgs)
        if f.runs and not f.all_delivered:
            msgs += " (not all delivered)"
        mine = f.row.harness != "kannel"
        lines.append(
            f"| {key} | {f.row.title} | {len(f.clean)} + {len(f.flagged)}"
            f" | **{num(f.accept)}** ({runs or 'every run flagged: their median'})"
            f" | {times(ratio(f.accept, k1.accept if k1 else None))} | {num(f.p99, 1)} | {msgs}"
            f" | {times(ratio(f.msgs, k1.msgs if k1 else None)) if mine else '-'}"
            f" | {times(ratio(f.msgs, k2.msgs if k2 else None)) if mine else '-'}"
            f" | {cpu} | {'; '.join(targets(key, fig))} |"
        )
    return lines


def wrk_us(f: Figures) -> float | None:
    """wrk's CPU per accepted request, median over the row's runs (Passerelle's rows)."""
    vals = [
        1e6 * float(r["wrk_cpu_s"]) / float(r["accepted"])  # type: ignore[arg-type]
        for r in (f.clean or f.runs)
        if r.get("wrk_cpu_s") is not None and r.get("accepted")
    ]
    return statistics.median(vals) if vals else None


def notes(fig: dict[str, Figures]) -> list[str]:
    wrk = ", ".join(f"row {k} {num(wrk_us(f))} µs" for k, f in fig.items() if wrk_us(f) is not None)
    flagged = [
        f"row {k}: {' / '.join(num(float(r['accepted_rps'])) for r in f.flagged)} req/s"  # type: ignore[arg-type]
        for k, f in fig.items()
        if f.flagged
    ]
    return [
        "- Medians of the clean runs; a run is flagged (and repeated) when processes we did"
        " not start took more than 5 % of the machine during it (at least 0.2 CPU-s);"
        f" flagged runs: {'; '.join(flagged) if flagged else 'none'}.",
        "- CPU µs/msg: Kannel, bearerbox + smsbox per request (to the last message sent to the"
        " SMSC); Passerelle end to end, the `serve` process and all its descendants (threads,"
        " worker processes, children that ended) from the first request to the last receipt"
        " stored, the simulator apart (in row 4 it is built in: counted); accept only,"
        " the server over the wrk run. PostgreSQL rows add the CPU of the PostgreSQL"
        " processes serving their database (sampled every 0.2 s), counted as ours.",
        "- wrk (1 thread, the load generator) shares the cores with what it measures; its"
        " CPU is read from its rusage and counted apart: in no CPU µs/msg column, and not as"
        f" foreign load{' (per request: ' + wrk + ')' if wrk else ''}; for Kannel it is among"
        " the processes bench/kannel.sh started. In row 6b the one wrk spreads its C"
        " connections over the two API processes (they share the listening socket).",
        *(
            [
                "- Row 4's end to end includes the built-in simulator's receipt delay (its"
                " default, `PASSERELLE_SIMULATOR_DELAY_S`, 0.2 s) once, at the end of each run."
            ]
            if "4" in fig
            else []
        ),
    ]


# --- the sitting ---------------------------------------------------------------------------


def commit() -> str:
    def git(*cmd: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *cmd], capture_output=True, text=True)
        return done.stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (" dirty" if git("status", "--porcelain") else "")


def shown_options(argv: list[str]) -> str:
    """The options that shape the figures (not --out's folder, not --write-docs)."""
    kept: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == "--out":
            skip = True
        elif not a.startswith(("--out=", "--write-docs")):
            kept.append(a)
    return " ".join(kept)


def write_docs(lines: list[str], started: str, ended: str, code: str, argv: str) -> Path:
    docs = ROOT / "docs" / "performance.md"
    section = [
        "",
        f"## Comparison table ({started[:10]}, {started[11:16]}–{ended[11:16]} UTC, code `{code}`)",
        "",
        f"`{argv}`, {os.cpu_count()} cores, everything on 127.0.0.1; ratios to Kannel of"
        " the same sitting.",
        "",
        *lines,
    ]
    # newest first: after the file's introduction, before its first section
    text = docs.read_text()
    at = text.find("\n## ")
    at = len(text) if at < 0 else at
    docs.write_text(text[:at] + "\n".join(section) + "\n" + text[at:])
    return docs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=20000, help="single-recipient GETs per run (N)")
    ap.add_argument("-c", type=int, default=50, help="wrk connections (C)")
    ap.add_argument("--runs", type=int, default=3, help="measured runs per row")
    ap.add_argument("--only", metavar="ROWS", help="a subset, e.g. 1,3,5 (6 = 6a and 6b)")
    ap.add_argument("--out", metavar="DIR", help="folder for the JSON lines, logs and table")
    ap.add_argument(
        "--write-docs",
        action="store_true",
        help="add the table to docs/performance.md, above the earlier sittings",
    )
    ap.add_argument("--retry-contaminated", type=int, default=2, help="extra runs per row")
    ap.add_argument("--quiet-wait", type=float, default=30.0, help="s to wait for a quiet box")
    ap.add_argument("--drain-bound", type=float, default=120.0, help="s to wait for receipts")
    ap.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL database to connect to for creating and dropping the rows' own",
    )
    args = ap.parse_args()
    if not (
        1 <= args.n <= 1_000_000
        and 1 <= args.c <= 1000
        and 1 <= args.runs <= 20
        and 0 <= args.retry_contaminated <= 10
        and 0 <= args.quiet_wait <= 600
        and 1 <= args.drain_bound <= 3600
    ):
        ap.error("out of bounds: N 1..1e6, C 1..1000, runs 1..20, retries 0..10")
    rows = chosen(args.only)
    out = Path(args.out or f"/tmp/passerelle-table-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_wrk()
    code = commit()
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    log(f"sitting: rows {','.join(r.key for r in rows)} N={args.n} C={args.c}"
        f" runs={args.runs} code {code}; raw JSON lines and logs in {out}")  # fmt: skip
    fig: dict[str, Figures] = {}
    for row in rows:
        log(f"row {row.key}: {row.title}")
        runs = kannel_runs(row, args, out) if row.harness == "kannel" else harness_runs(
            row, args, out
        )  # fmt: skip
        fig[row.key] = Figures.of(row, runs)
        f = fig[row.key]
        log(f"row {row.key}: {len(f.clean)} clean, {len(f.flagged)} flagged runs;"
            f" accepted {num(f.accept)} req/s, p99 {num(f.p99, 1)} ms, msg/s {num(f.msgs)},"
            f" CPU {num(f.cpu)} µs/msg")  # fmt: skip
    ended = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    lines = [*table(fig), "", *notes(fig)]
    argv = "bench/table.sh " + shown_options(sys.argv[1:])
    header = f"# {argv}: code {code}, {started}–{ended[11:]} UTC, {os.cpu_count()} cores"
    (out / "table.md").write_text("\n".join([header, "", *lines]) + "\n")
    summary = {
        k: {
            "title": f.row.title,
            "clean_runs": len(f.clean),
            "flagged_runs": len(f.flagged),
            "accepted_rps": f.accept,
            "p99_ms": f.p99,
            "msg_per_s": f.msgs,
            "cpu_us_per_msg": f.cpu,
            "targets": targets(k, fig),
        }
        for k, f in fig.items()
    }
    (out / "summary.json").write_text(json.dumps({"code": code, "rows": summary}, indent=1))
    print(header + "\n\n" + "\n".join(lines), flush=True)
    if args.write_docs:
        log(f"written into {write_docs(lines, started, ended, code, argv)}")
    log(f"table, JSON lines and logs in {out}")
    return 0 if all(f.runs for f in fig.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
