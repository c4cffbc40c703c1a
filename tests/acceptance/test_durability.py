"""Durability: a `kill -9` of the gateway under load loses no answered message.

Eight client threads send `envoi` requests (each to its own number) and record every
msgid they read. The server is SIGKILLed mid-load, restarted on the same SQLite file,
and the file must hold every answered msgid with its recipient and exactly one debit;
the balance must equal the ledger sum, and `solde` must answer it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

THREADS = 8
PER_THREAD = 300
LOAD_SECONDS = 10.0
KILL_AFTER_ANSWERS = 400
KILL_AFTER_SECONDS = 5.0
CREDITS = 100_000
LOGIN, PASSWORD = "Durable", "Durable-Pass-1"


def dest_of(thread: int, i: int) -> str:
    """A distinct valid French number per request: 336 + thread + index (10 digits)."""
    return f"336{thread:02d}{i:05d}"


class Load:
    """Concurrent `envoi` senders; `answered` maps msgid to the number it was sent to."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.answered: dict[int, str] = {}
        self.refusals: list[str] = []
        self.errors = 0
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + LOAD_SECONDS
        self.threads = [
            threading.Thread(target=self.run, args=(n,), daemon=True) for n in range(THREADS)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, end - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "load threads did not stop"

    def count(self) -> int:
        with self.lock:
            return len(self.answered)

    def run(self, n: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            for i in range(PER_THREAD):
                if time.monotonic() > self.deadline:
                    return
                dest = dest_of(n, i)
                try:
                    response = client.get(
                        "/client/api/",
                        params={
                            "action": "envoi",
                            "login": LOGIN,
                            "apipasse": PASSWORD,
                            "msg": f"charge {n}/{i}",
                            "dest": dest,
                            "origine": "Durable",
                        },
                    )
                except httpx.TransportError:
                    with self.lock:
                        self.errors += 1
                    return  # the server is gone: stop this client
                text = response.text
                with self.lock:
                    if response.status_code == 200 and text.endswith("|Message envoyé"):
                        msgid = int(text.split("|")[0])
                        assert msgid not in self.answered, f"msgid {msgid} answered twice"
                        self.answered[msgid] = dest
                    else:
                        self.refusals.append(f"{response.status_code} {text}")


@pytest.fixture(scope="module")
def after_crash(servers: Any) -> tuple[Any, Load]:
    """Run the load, SIGKILL the server mid-load, restart it on the same database."""
    server = servers.new("durability")
    server.create_account(LOGIN, PASSWORD, CREDITS)
    server.start()
    load = Load(server.base_url)
    load.start()
    started = time.monotonic()
    while load.count() < KILL_AFTER_ANSWERS and time.monotonic() - started < KILL_AFTER_SECONDS:
        time.sleep(0.005)
    server.kill9()
    load.join(timeout=30.0)
    server.start()
    return server, load


def test_kill9_happened_mid_load(after_crash: tuple[Any, Load]) -> None:
    """The SIGKILL interrupted a load that had answered messages and had more to send."""
    _, load = after_crash
    assert load.refusals == []
    assert len(load.answered) > 0
    assert len(load.answered) < THREADS * PER_THREAD
    assert load.errors > 0


def test_every_answered_msgid_is_on_disk_with_one_debit(after_crash: tuple[Any, Load]) -> None:
    """Each msgid a client read is stored, for its number, with exactly one debit of 1 SMS."""
    server, load = after_crash
    with server.db() as conn:
        (account_id,) = conn.execute("SELECT id FROM accounts WHERE login = ?", (LOGIN,)).fetchone()
        messages = {
            row[0]: row[1:] for row in conn.execute("SELECT msgid, account_id, cost FROM messages")
        }
        recipients: dict[int, list[str]] = {}
        for msgid, dest in conn.execute("SELECT msgid, dest FROM recipients"):
            recipients.setdefault(msgid, []).append(dest)
        debits: dict[int, list[int]] = {}
        for msgid, delta in conn.execute(
            "SELECT msgid, delta FROM ledger WHERE kind = 'debit' AND account_id = ?",
            (account_id,),
        ):
            debits.setdefault(msgid, []).append(delta)
    missing = [m for m in load.answered if m not in messages]
    assert missing == [], f"{len(missing)} answered msgids lost, e.g. {missing[:5]}"
    for msgid, dest in load.answered.items():
        assert messages[msgid] == (account_id, 1), msgid
        assert recipients.get(msgid) == [dest], msgid
        assert debits.get(msgid) == [-1], msgid
    # messages committed but not answered before the kill are charged once too
    for msgid, (_owner, cost) in messages.items():
        assert debits.get(msgid) == [-cost], msgid
    assert set(debits) <= set(messages)


def test_balance_equals_ledger_sum_after_crash(after_crash: tuple[Any, Load]) -> None:
    """After the crash, accounts.credits equals the ledger sum, and `solde` answers it."""
    server, load = after_crash
    with server.db() as conn:
        account_id, credits = conn.execute(
            "SELECT id, credits FROM accounts WHERE login = ?", (LOGIN,)
        ).fetchone()
        (ledger_sum,) = conn.execute(
            "SELECT coalesce(sum(delta), 0) FROM ledger WHERE account_id = ?", (account_id,)
        ).fetchone()
        (charged,) = conn.execute(
            "SELECT coalesce(sum(cost), 0) FROM messages WHERE account_id = ?", (account_id,)
        ).fetchone()
    assert credits == ledger_sum
    assert credits <= CREDITS - len(load.answered)
    assert charged >= len(load.answered)
    with server.client() as client:
        assert server.solde(client, LOGIN, PASSWORD) == credits
