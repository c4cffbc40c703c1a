"""Scale-out benchmark: a PostgreSQL cluster of API processes and delivery workers.

For each shape (API processes x delivery workers) it starts a cluster with
`deploy/cluster.sh` (its own PostgreSQL, the SMSC simulator as the operator with
receipts on, one connector per delivery worker at window 10), creates an account,
sends N single-recipient `envoi` GETs with wrk at C connections (split evenly across
the API processes, one wrk each, at the same time), and measures:

- accepted req/s: N / the time from the first request sent to the last answer read;
- p99 of the answers (the worst wrk's);
- end to end msg/s: N / the time from the first request to the last recipient
  DELIVERED in the database (receipts stored);
- CPU seconds per message of the gateway processes, of PostgreSQL and of wrk (read
  from /proc), which says where the shared bottleneck is.

Then it stops the cluster (by pid). Usage (by hand, never in CI):

  .venv/bin/python bench/cluster_bench.py [-n 20000] [-c 50] [--shapes 1x1,2x1,1x2,2x2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import asyncpg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRIPT = ROOT / "deploy" / "cluster.sh"
LUA = HERE / "sendsms.lua"
TICK = os.sysconf("SC_CLK_TCK")
LOGIN, PASSWORD = "bench", "bench-pass-1"
QUERY = f"/client/api?action=envoi&login={LOGIN}&apipasse={PASSWORD}&origine=12345&msg=Benchmark"


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid` (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def postgres_cpu(pid: int) -> float:
    """The postmaster and its backends (children exit: sampled, see `CpuSampler`)."""
    return cpu_s(pid) + sum(cpu_s(c) for c in children(pid))


class CpuSampler(threading.Thread):
    """PostgreSQL's CPU, summed over backends that come and go (sampled every 0.2 s)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.last: dict[int, float] = {}
        self.halt = threading.Event()

    def sample(self) -> None:
        for p in (self.pid, *children(self.pid)):
            self.last[p] = max(self.last.get(p, 0.0), cpu_s(p))

    def run(self) -> None:
        while not self.halt.wait(0.2):
            self.sample()

    def total(self) -> float:
        self.halt.set()
        self.join(2)
        self.sample()
        return sum(self.last.values())


def wrk(port: int, n: int, c: int, first: int, results: list[dict[str, float]]) -> None:
    """One wrk of `n` GETs at `c` connections against 127.0.0.1:`port`."""
    started = time.perf_counter()
    cpu0 = os.times()
    done = subprocess.run(
        ["wrk", "-t1", f"-c{c}", "-d300s", "--timeout", "30s", "-s", str(LUA),
         f"http://127.0.0.1:{port}", "--", str(n), QUERY, "200",
         "~^%d%d%d%d%d%d%d%d%d|Message envoy", str(first), "dest"],
        capture_output=True, text=True, timeout=330, check=False,
    )  # fmt: skip
    cpu1 = os.times()
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRKJSON"))
    w = json.loads(line[8:])
    results.append(
        {
            "ok": w["answered"] - w["non_success"],
            "window_s": w["send_window_us"] / 1e6,
            "p99_ms": w["p99_us"] / 1e3,
            "started": started,
            "ended": started + w["send_window_us"] / 1e6,
            "cpu": (cpu1.children_user - cpu0.children_user)
            + (cpu1.children_system - cpu0.children_system),
        }
    )


async def count_delivered(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM recipients WHERE state = 2"))
    finally:
        await conn.close()


def shape_run(api: int, delivery: int, n: int, c: int, bound_s: float) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="passerelle-cluster-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env.update(API=str(api), DELIVERY=str(delivery), CALLBACKS="0",
               PASSERELLE=str(ROOT / ".venv" / "bin" / "passerelle"))  # fmt: skip
    subprocess.run(["bash", str(SCRIPT), "start", str(folder)], env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    try:
        values = dict(
            line.split("=", 1) for line in (folder / "cluster.env").read_text().splitlines()
        )
        url = values["PASSERELLE_DATABASE_URL"]
        ports = [int(u.rsplit(":", 1)[1]) for u in values["API_URLS"].strip('"').split()]
        pids = dict(
            (name, int(pid))
            for name, pid in (line.split() for line in (folder / "pids").read_text().splitlines())
        )
        cli = {**env, "PASSERELLE_DATABASE_URL": url}
        subprocess.run([env["PASSERELLE"], "account", "create", LOGIN, "--email", "b@example.com",
                        "--api-password", PASSWORD, "--credits", str(2 * n)],
                       env=cli, check=True, capture_output=True)  # fmt: skip
        time.sleep(2.5)  # connectors bound, account snapshots fresh
        gateway = [p for name, p in pids.items() if name not in ("postgres", "simulator")]
        g0 = sum(cpu_s(p) for p in gateway)
        sim0 = cpu_s(pids["simulator"])
        pg = CpuSampler(pids["postgres"])
        pg.sample()
        pg0 = sum(pg.last.values())
        pg.start()
        results: list[dict[str, float]] = []
        threads = [
            threading.Thread(
                target=wrk, args=(port, n // api, max(1, c // api), 33600000000 + i * n, results)
            )
            for i, port in enumerate(ports)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted_s = max(r["ended"] for r in results) - min(r["started"] for r in results)
        delivered, deadline = 0, time.monotonic() + bound_s
        while delivered < n and time.monotonic() < deadline:
            delivered = asyncio.run(count_delivered(url))
            if delivered < n:
                time.sleep(0.1)
        e2e_s = time.perf_counter() - t0
        g1 = sum(cpu_s(p) for p in gateway)
        pg1 = pg.total()
        sim1 = cpu_s(pids["simulator"])
        ok = sum(int(r["ok"]) for r in results)
        return {
            "shape": f"{api} API x {delivery} delivery",
            "accepted": ok,
            "accept_rps": ok / accepted_s,
            "p99_ms": max(r["p99_ms"] for r in results),
            "delivered": delivered,
            "e2e_mps": delivered / e2e_s,
            "gateway_us": (g1 - g0) / n * 1e6,
            "postgres_us": (pg1 - pg0) / n * 1e6,
            "simulator_us": (sim1 - sim0) / n * 1e6,
            "wrk_us": sum(r["cpu"] for r in results) / n * 1e6,
        }
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], env=env,
                       capture_output=True, timeout=120, check=False)  # fmt: skip


def ensure_wrk() -> None:
    """Install Debian's wrk when it is missing (as bench/legacy.sh does)."""
    if shutil.which("wrk") is None:
        print("[bench] apt-get install wrk", flush=True)
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "wrk"],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )


def main() -> None:
    ensure_wrk()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("-c", type=int, default=50)
    parser.add_argument("--shapes", default="1x1,2x1,1x2,2x2", help="APIxDELIVERY,…")
    parser.add_argument("--drain-bound", type=float, default=180.0)
    args = parser.parse_args()
    print(f"# N={args.n} C={args.c}, {os.cpu_count()} cores, {time.strftime('%F %T %Z')}")
    print("| shape | accepted req/s | p99 ms | end to end msg/s | CPU µs/msg: gateway |"
          " PostgreSQL | simulator | wrk |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for shape in args.shapes.split(","):
        api, delivery = (int(x) for x in shape.split("x"))
        r = shape_run(api, delivery, args.n, args.c, args.drain_bound)
        print(
            f"| {r['shape']} | {r['accept_rps']:.0f} | {r['p99_ms']:.1f} | {r['e2e_mps']:.0f}"
            f" ({r['delivered']}/{args.n}) | {r['gateway_us']:.0f} | {r['postgres_us']:.0f} |"
            f" {r['simulator_us']:.0f} | {r['wrk_us']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
