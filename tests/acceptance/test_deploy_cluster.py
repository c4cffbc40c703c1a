"""A cluster on one database (`deploy/cluster.sh`): its own PostgreSQL, the simulator,
API processes, delivery workers and a callback worker, as separate processes. Many
workers deliver everything once; killing a worker, or an API process, loses nothing
and charges nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import pgserver
from tests.acceptance.conftest import PASSERELLE, legacy_text

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "cluster.sh"
LOGIN, PASSWORD = "Cluster", "Cluster-pass-1"
DELIVERED = 2


@dataclass
class Cluster:
    """A running `deploy/cluster.sh` cluster: its folder, database and API addresses."""

    folder: Path
    url: str
    api: list[str]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
        return {**env, "PASSERELLE_DATABASE_URL": self.url, "PASSERELLE": str(PASSERELLE)}

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [str(PASSERELLE), *args], env=self.env(), capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def pids(self) -> dict[str, int]:
        lines = (self.folder / "pids").read_text().split("\n")
        return {name: int(pid) for name, pid in (line.split() for line in lines if line)}

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        return pgserver.fetch(self.url, sql)

    def simulator(self) -> dict[str, object]:
        stats: dict[str, object] = json.loads((self.folder / "simulator.json").read_text())
        return stats

    def delivered(self) -> int:
        ((count,),) = self.rows(f"SELECT count(*) FROM recipients WHERE state = {DELIVERED}")
        assert isinstance(count, int)
        return count


def running(pid: int) -> bool:
    """True while `pid` runs (a zombie, ended and not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def run_script(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=env or {**os.environ, "PASSERELLE": str(PASSERELLE)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def start_cluster(folder: Path, **counts: int) -> Cluster:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSERELLE_")}
    env.update({"PASSERELLE": str(PASSERELLE), **{k: str(v) for k, v in counts.items()}})
    run_script("start", str(folder), env=env)
    values = dict(
        line.split("=", 1) for line in (folder / "cluster.env").read_text().split("\n") if line
    )
    return Cluster(folder, values["PASSERELLE_DATABASE_URL"], values["API_URLS"].strip('"').split())


@pytest.fixture
def cluster_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "cluster"
    yield folder
    if (folder / "pids").exists():
        run_script("stop", str(folder))


def wait_until(predicate: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def send_batches(api: list[str], count: int, per_request: int, offset: int = 0) -> list[int]:
    """`count` recipients in POSTs of `per_request`, spread over the API processes; the
    msgids answered."""

    def one(i: int) -> int:
        dests = ",".join(f"336{offset + i * per_request + j:08d}" for j in range(per_request))
        data = {
            "action": "envoi",
            "login": LOGIN,
            "apipasse": PASSWORD,
            "origine": "Cluster",
            "msg": "bonjour",
            "dest": dests,
        }
        with httpx.Client(timeout=60.0) as http:
            answer = legacy_text(http.post(api[i % len(api)] + "/client/api", data=data))
        assert answer.endswith("|Message envoyé"), answer
        return int(answer.split("|")[0])

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count // per_request)))


def test_cluster_starts_delivers_and_stops(cluster_folder: Path) -> None:
    """The script's cluster answers on both API processes, delivers by its workers, and
    `stop` ends every process it started."""
    cluster = start_cluster(cluster_folder)
    assert len(cluster.api) == 2
    pids = cluster.pids()
    assert set(pids) == {"postgres", "simulator", "api1", "api2", "delivery1", "delivery2",
                         "callbacks1"}  # fmt: skip
    cluster.cli("account", "create", LOGIN, "--email", "c@example.com",
                "--api-password", PASSWORD, "--credits", "100")  # fmt: skip
    time.sleep(1.2)  # the API processes' account snapshots (1 s)
    send_batches(cluster.api, 40, 4)
    assert wait_until(lambda: cluster.delivered() == 40, 60), cluster.delivered()
    owners = cluster.rows("SELECT owner FROM connector_owners")
    assert len({o for (o,) in owners}) == 2  # each delivery worker binds its connector
    run_script("stop", str(cluster_folder))
    assert not [pid for pid in pids.values() if running(pid)]


def test_four_workers_deliver_20000_once(cluster_folder: Path) -> None:
    """4 delivery workers on one database deliver 20 000 recipients: every one, none
    submitted twice, each charged once."""
    cluster = start_cluster(cluster_folder, API=1, DELIVERY=4, CALLBACKS=0)
    cluster.cli("account", "create", LOGIN, "--email", "c@example.com",
                "--api-password", PASSWORD, "--credits", "20000")  # fmt: skip
    time.sleep(1.2)
    msgids = send_batches(cluster.api, 20_000, 200)
    assert len(msgids) == 100
    assert wait_until(lambda: cluster.delivered() == 20_000, 240), cluster.delivered()
    assert wait_until(lambda: cluster.simulator().get("submits_accepted") == 20_000, 10)
    stats = cluster.simulator()
    assert stats["duplicate_accepts"] == 0
    assert stats["destinations"] == 20_000
    owners = {o for (o,) in cluster.rows("SELECT owner FROM connector_owners")}
    assert len(owners) == 4  # the connectors were shared out, one per worker
    ((credits, ledger, debits),) = cluster.rows(
        "SELECT a.credits, (SELECT sum(delta) FROM ledger l WHERE l.account_id = a.id),"
        " (SELECT count(*) FROM ledger l WHERE l.account_id = a.id AND kind = 'debit')"
        " FROM accounts a"
    )
    assert (credits, ledger, debits) == (0, 0, 100)


def test_kill9_of_a_connector_owner_hands_over(cluster_folder: Path) -> None:
    """kill -9 of the worker that binds a connector: the other worker binds it within
    seconds, takes over the recipients it had claimed, and everything is delivered
    and charged once."""
    cluster = start_cluster(cluster_folder, API=1, DELIVERY=2, CALLBACKS=0, CONNECTORS=1)
    cluster.cli("account", "create", LOGIN, "--email", "c@example.com",
                "--api-password", PASSWORD, "--credits", "4000")  # fmt: skip
    time.sleep(1.2)
    assert wait_until(lambda: cluster.rows("SELECT owner FROM connector_owners"), 15)
    ((owner,),) = cluster.rows("SELECT owner FROM connector_owners")
    assert isinstance(owner, str)
    victim = int(owner.split(":")[1])
    assert victim in (cluster.pids()["delivery1"], cluster.pids()["delivery2"])
    send_batches(cluster.api, 2000, 100)
    assert wait_until(lambda: cluster.delivered() > 0, 30)
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    assert wait_until(
        lambda: {o for (o,) in cluster.rows("SELECT owner FROM connector_owners")} - {owner}, 15
    )
    assert time.monotonic() - killed_at < 5.0  # lease 3 s + one refresh of 1 s
    send_batches(cluster.api, 2000, 100, offset=2000)
    assert wait_until(lambda: cluster.delivered() == 4000, 120), cluster.delivered()
    ((credits, ledger, debits),) = cluster.rows(
        "SELECT a.credits, (SELECT sum(delta) FROM ledger l WHERE l.account_id = a.id),"
        " (SELECT count(*) FROM ledger l WHERE l.account_id = a.id AND kind = 'debit')"
        " FROM accounts a"
    )
    assert (credits, ledger, debits) == (0, 0, 40)


def test_kill9_of_an_api_process_under_load_loses_nothing(cluster_folder: Path) -> None:
    """kill -9 of an API process while clients send: every msgid a client read is in the
    database with its recipient and one debit."""
    cluster = start_cluster(cluster_folder, API=2, DELIVERY=1, CALLBACKS=0)
    cluster.cli("account", "create", LOGIN, "--email", "c@example.com",
                "--api-password", PASSWORD, "--credits", "100000")  # fmt: skip
    time.sleep(1.2)
    answered: dict[int, str] = {}
    stop_at = time.monotonic() + 8.0

    def client(n: int) -> None:
        with httpx.Client(base_url=cluster.api[0], timeout=10.0) as http:
            for i in range(2000):
                if time.monotonic() > stop_at:
                    return
                dest = f"337{n:02d}{i:06d}"
                params = {"action": "envoi", "login": LOGIN, "apipasse": PASSWORD,
                          "origine": "Cluster", "msg": "x", "dest": dest}  # fmt: skip
                try:
                    text = http.get("/client/api", params=params).text
                except httpx.TransportError:
                    return
                if text.endswith("|Message envoyé"):
                    answered[int(text.split("|")[0])] = dest

    with ThreadPoolExecutor(max_workers=8) as pool:
        running = [pool.submit(client, n) for n in range(8)]
        assert wait_until(lambda: len(answered) >= 300, 20)
        os.kill(cluster.pids()["api1"], signal.SIGKILL)
        for future in running:
            future.result(timeout=30)
    assert len(answered) >= 300
    stored = dict(cluster.rows("SELECT m.msgid, r.dest FROM messages m JOIN recipients r"
                               " ON r.msgid = m.msgid"))  # fmt: skip
    lost = [m for m in answered if m not in stored]
    assert lost == [], f"{len(lost)} answered msgids lost"
    assert all(stored[m] == dest for m, dest in answered.items())
    debits = dict(cluster.rows("SELECT msgid, count(*) FROM ledger WHERE kind = 'debit'"
                               " GROUP BY msgid"))  # fmt: skip
    assert all(debits.get(m) == 1 for m in answered)
