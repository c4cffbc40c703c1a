"""`passerelle serve --workers 2`: several processes, one database, the same promises."""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import time

import httpx

from tests.acceptance.conftest import Servers

PASSWORD = "Workers-Pass-1"


def worker_pids(log: str) -> list[int]:
    """Pids of the workers the supervisor logged as started."""
    return [int(p) for p in re.findall(r'"msg": "worker started".*?"pid": (\d+)', log)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_workers_share_credits_deliver_and_stop_cleanly(servers: Servers) -> None:
    """50 concurrent envoi on 20 credits over 2 workers: exactly 20 accepted, one charge
    each; a message accepted by any worker is delivered; SIGTERM stops every worker, exit 0."""
    server = servers.new("workers", log_level="info", PASSERELLE_WORKERS="2")
    server.create_account("duo", PASSWORD, 20)
    server.start()
    base = f"/client/api?action=envoi&login=duo&apipasse={PASSWORD}&origine=Duo&msg=hi"

    def send(i: int) -> str:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            return client.get(f"{base}&dest=336123456{i:02d}").text

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(send, range(50)))
    accepted = [a.split("|")[0] for a in answers if a.endswith("|Message envoyé")]
    assert len(accepted) == 20
    assert answers.count("02|Vous n'avez pas assez de crédit") == 30
    with server.db() as db:
        credits = db.execute("SELECT credits FROM accounts WHERE login = 'duo'").fetchone()[0]
        ledger = db.execute("SELECT sum(delta) FROM ledger").fetchone()[0]
        debits = db.execute("SELECT count(*) FROM ledger WHERE kind = 'debit'").fetchone()[0]
    assert (credits, ledger, debits) == (0, 0, 20)
    statut = f"/client/api?action=statut&login=duo&apipasse={PASSWORD}&msgid="
    deadline = time.monotonic() + 20
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        pending = set(accepted)
        while pending and time.monotonic() < deadline:
            pending = {m for m in pending if not client.get(statut + m).text.startswith("1|")}
            time.sleep(0.1)
    assert not pending
    pids = worker_pids(server.log_text())
    assert len(pids) == 2 and all(alive(p) for p in pids)
    assert server.stop() == 0
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)


def test_workers_die_with_a_killed_supervisor(servers: Servers) -> None:
    """kill -9 of the supervisor takes its workers down too (no orphan keeps serving)."""
    server = servers.new(
        "orphans", log_level="info", PASSERELLE_WORKERS="2", PASSERELLE_DELIVERY="false"
    )
    server.start()
    pids = worker_pids(server.log_text())
    assert len(pids) == 2
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)
