"""Graceful shutdown: SIGTERM under load ends the process cleanly, answered work is kept.

Client threads send `envoi` requests; the server gets SIGTERM by pid while they run.
It must exit with status 0 within a bounded time, and every msgid a client read must
be in the database with its debit.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

LOGIN, PASSWORD = "Graceful", "Graceful-Pass-1"
THREADS = 4
PER_THREAD = 500
TERM_AFTER_ANSWERS = 150
EXIT_WITHIN_S = 20.0


@dataclass
class Outcome:
    """What the SIGTERM scenario observed."""

    server: Any
    returncode: int | None
    exit_seconds: float
    answered: dict[int, str] = field(default_factory=dict)
    stopped_by_server: int = 0


def sender(base_url: str, n: int, outcome: Outcome, lock: threading.Lock) -> None:
    """Send envoi requests until the server stops answering."""
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        for i in range(PER_THREAD):
            dest = f"337{n:02d}{i:05d}"
            try:
                response = client.get(
                    "/client/api/",
                    params={
                        "action": "envoi",
                        "login": LOGIN,
                        "apipasse": PASSWORD,
                        "msg": "arret",
                        "dest": dest,
                        "origine": "Graceful",
                    },
                )
            except httpx.TransportError:
                with lock:
                    outcome.stopped_by_server += 1
                return
            if response.status_code == 200 and response.text.endswith("|Message envoyé"):
                with lock:
                    outcome.answered[int(response.text.split("|")[0])] = dest


@pytest.fixture(scope="module")
def terminated(servers: Any) -> Outcome:
    """Load the server, SIGTERM it mid-load, and wait for it to exit (bounded)."""
    server = servers.new("shutdown", log_level="info")  # info: to read the shutdown events
    server.create_account(LOGIN, PASSWORD, credits=10_000)
    server.start()
    outcome = Outcome(server, None, 0.0)
    lock = threading.Lock()
    threads = [
        threading.Thread(target=sender, args=(server.base_url, n, outcome, lock), daemon=True)
        for n in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        with lock:
            if len(outcome.answered) >= TERM_AFTER_ANSWERS:
                break
        time.sleep(0.005)
    server.process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    try:
        outcome.returncode = server.process.wait(EXIT_WITHIN_S)
    except subprocess.TimeoutExpired:
        outcome.returncode = None  # still running: the fixture teardown kills it
    outcome.exit_seconds = time.monotonic() - signalled
    for thread in threads:
        thread.join(15.0)
    return outcome


def test_sigterm_exits_with_status_0_in_bounded_time(terminated: Outcome) -> None:
    """On SIGTERM under load the process exits by itself, with status 0, within 20 s."""
    assert terminated.returncode is not None, f"still running {EXIT_WITHIN_S} s after SIGTERM"
    assert terminated.exit_seconds < EXIT_WITHIN_S
    assert terminated.returncode == 0, (
        f"exit status {terminated.returncode} (-15: killed by SIGTERM)"
    )


def test_sigterm_keeps_every_answered_message(terminated: Outcome) -> None:
    """Every msgid answered before the shutdown is in the database, with one debit."""
    assert len(terminated.answered) >= TERM_AFTER_ANSWERS
    server = terminated.server
    with server.db() as conn:
        stored = {
            msgid: dest
            for msgid, dest in conn.execute(
                "SELECT m.msgid, r.dest FROM messages m JOIN recipients r ON r.msgid = m.msgid"
            )
        }
        debits: dict[int, int] = {}
        for (msgid,) in conn.execute("SELECT msgid FROM ledger WHERE kind = 'debit'"):
            debits[msgid] = debits.get(msgid, 0) + 1
        credits, ledger_sum = conn.execute(
            "SELECT a.credits, (SELECT sum(delta) FROM ledger l WHERE l.account_id = a.id)"
            " FROM accounts a WHERE a.login = ?",
            (LOGIN,),
        ).fetchone()
    for msgid, dest in terminated.answered.items():
        assert stored.get(msgid) == dest, msgid
        assert debits.get(msgid) == 1, msgid
    assert credits == ledger_sum


def test_sigterm_drains_writes_before_exit(terminated: Outcome) -> None:
    """The shutdown runs the application's shutdown, which commits queued writes, before exit."""
    assert terminated.returncode is not None
    messages = [json.loads(line)["msg"] for line in terminated.server.log_text().splitlines()]
    assert "stopped: every accepted write is committed" in messages
