"""Two `passerelle serve` processes on one database never bind one connector twice, and
when the owner dies, the other binds it within seconds (its lease on the database's
clock ends) and delivers what was queued. Real subprocesses, stopped by pid."""

from __future__ import annotations

import time
from typing import Any

import httpx

LOGIN, PASSWORD = "Duo", "Duo-Pass-123"
LEASE_S = "2"


def wait_until(predicate: Any, timeout: float, step: float = 0.1) -> bool:
    """Poll `predicate` until true or `timeout`; its last value."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def owner_of(server: Any, name: str) -> str | None:
    with server.db() as conn:
        row = conn.execute("SELECT owner FROM connector_owners WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def test_one_bind_per_connector_and_a_takeover_after_kill9(
    servers: Any, smscs: Any, delivery: Any
) -> None:
    """The operator sees one bind while two gateways run; kill -9 of the owner: the other
    binds within seconds, and messages sent to it are delivered."""
    smsc = smscs.new("owner", "--delay", "0.05").start()
    first = servers.new(
        "owner-a", PASSERELLE_CONNECTOR_LEASE_S=LEASE_S, PASSERELLE_CONNECTOR_REFRESH_S="0.5"
    )
    first.create_account(LOGIN, PASSWORD, 1000)
    first.add_connector("op", smsc.port)
    second = servers.new(
        "owner-b",
        PASSERELLE_DATABASE_URL=f"sqlite:///{first.db_path}",
        PASSERELLE_CONNECTOR_LEASE_S=LEASE_S,
        PASSERELLE_CONNECTOR_REFRESH_S="0.5",
    )
    first.start()
    second.start()
    assert wait_until(lambda: smsc.total("binds") >= 1, 15)
    time.sleep(3)  # several refreshes of both: the second never binds
    assert smsc.total("binds") == 1
    owner = owner_of(first, "op")
    assert owner is not None
    pid = int(owner.split(":")[1])
    assert pid in first.pids() | second.pids()  # a server or its delivery process
    dead, alive = (first, second) if pid in first.pids() else (second, first)
    sender = delivery.Sender(alive, LOGIN, PASSWORD)
    try:
        before = sender.send_all([[f"3361{i:07d}"] for i in range(20)])
        assert set(sender.wait_final(list(before), 30).values()) == {
            "1|SMS reçu par le destinataire"
        }
        dead.kill9()
        taken_at = time.monotonic()
        assert wait_until(lambda: smsc.total("binds") == 2, 20)
        assert time.monotonic() - taken_at < 10
        assert owner_of(first, "op") not in (None, owner)
        after = sender.send_all([[f"3362{i:07d}"] for i in range(20)])
        assert set(sender.wait_final(list(after), 30).values()) == {
            "1|SMS reçu par le destinataire"
        }
    finally:
        sender.close()
    time.sleep(2)
    assert smsc.total("binds") == 2  # nobody bound it a third time


def test_the_builtin_simulator_runs_in_one_process(servers: Any, delivery: Any) -> None:
    """With no connector configured, only one of two gateways runs the built-in simulator;
    both accept, and every message reaches statut 1."""
    first = servers.new("builtin-a", log_level="info", PASSERELLE_CONNECTOR_REFRESH_S="0.5")
    first.create_account(LOGIN, PASSWORD, 1000)
    second = servers.new(
        "builtin-b",
        log_level="info",
        PASSERELLE_DATABASE_URL=f"sqlite:///{first.db_path}",
        PASSERELLE_CONNECTOR_REFRESH_S="0.5",
    )
    first.start()
    second.start()
    time.sleep(2)
    started = [s.log_text().count("built-in simulator listening") for s in (first, second)]
    assert sorted(started) == [0, 1]
    msgids: list[int] = []
    for server in (first, second):
        sender = delivery.Sender(server, LOGIN, PASSWORD)
        try:
            msgids += list(sender.send_all([[f"3363{i:07d}"] for i in range(10)]))
            assert set(sender.wait_final(msgids, 30).values()) == {"1|SMS reçu par le destinataire"}
        finally:
            sender.close()


def test_an_api_process_and_a_delivery_process(servers: Any, delivery: Any) -> None:
    """`serve --role api` accepts and binds nothing; `serve --role delivery` on the same
    database delivers what it accepted and does not answer the legacy API."""
    api = servers.new("role-api", log_level="info")
    api.serve_args = ("--role", "api")
    api.create_account(LOGIN, PASSWORD, 1000)
    worker = servers.new(
        "role-delivery", log_level="info", PASSERELLE_DATABASE_URL=f"sqlite:///{api.db_path}"
    )
    worker.serve_args = ("--role", "delivery")
    api.start()
    worker.start()
    sender = delivery.Sender(api, LOGIN, PASSWORD)
    try:
        msgids = list(sender.send_all([[f"3364{i:07d}"] for i in range(10)]))
        assert set(sender.wait_final(msgids, 30).values()) == {"1|SMS reçu par le destinataire"}
    finally:
        sender.close()
    assert '"roles": "api"' in api.log_text()
    assert '"roles": "delivery"' in worker.log_text()
    answer = httpx.get(f"{worker.base_url}/client/api?action=solde&login={LOGIN}&apipasse=x")
    assert answer.status_code == 404 and "does not serve the API" in answer.text
    assert httpx.get(f"{worker.base_url}/healthz").status_code == 200
    assert "built-in simulator listening" not in api.log_text()
    assert "built-in simulator listening" in worker.log_text()
