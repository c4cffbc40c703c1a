"""Delivery faults (docs/smpp.md): operator restart, gateway kill -9, refusals, throttling.

Real subprocesses: `passerelle serve` and standalone `passerelle simulator` processes
on 127.0.0.1, stopped by pid. Every wait is bounded.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

LOGIN, PASSWORD = "Panne", "Panne-Pass-1"
CREDITS = 10_000
SETTLE_S = 45.0
DELIVERED_STATE, FAILED_STATE = 2, 6


def wait_until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    """Poll `predicate` until true or `timeout`; its last value."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def settled(smsc: Any, destinations: int) -> bool:
    """The simulator saw `destinations` numbers and every accepted submit's receipt was acked."""
    stats = smsc.stats()
    return bool(
        stats["destinations"] >= destinations
        and stats["receipts_acked"] >= stats["submits_accepted"]
    )


# --- operator restart mid-load ---------------------------------------------------------

RESTART_MESSAGES = 300
RESTART_AFTER = 100  # accepted submits before the operator stops


@pytest.mark.slow
def test_operator_restart_mid_load_loses_nothing(servers: Any, smscs: Any, delivery: Any) -> None:
    """The operator stops (SIGTERM) and restarts on its port mid-load: every SMS is delivered."""
    smsc = smscs.new("restart", "--delay", "0.5", keep_state=True).start()
    server = servers.new("restart")
    server.create_account(LOGIN, PASSWORD, CREDITS)
    # 100 submits/s: the 300 SMS take about 3 s to reach the operator, who stops meanwhile
    server.add_connector("op", smsc.port, "--throughput", "100")
    server.start()
    sender = delivery.Sender(server, LOGIN, PASSWORD)
    sent: dict[int, list[str]] = {}
    batches = [[f"3361{i:07d}"] for i in range(RESTART_MESSAGES)]
    load = threading.Thread(target=lambda: sent.update(sender.send_all(batches)), daemon=True)
    try:
        load.start()
        assert smsc.wait_for("submits_accepted", RESTART_AFTER, timeout=30.0) >= RESTART_AFTER
        port = smsc.port
        assert smsc.stop() == 0
        first = smsc.runs[-1]
        time.sleep(0.3)  # the gateway sees the operator gone while the load goes on
        smsc.start()
        assert smsc.port == port
        load.join(60.0)
        assert not load.is_alive(), "the load did not finish"
        assert len(sent) == RESTART_MESSAGES
        answers = sender.wait_final(list(sent), timeout=SETTLE_S)
        late = {m: a for m, a in answers.items() if a != delivery.DELIVERED}
        assert late == {}, f"{len(late)} msgids not delivered, e.g. {list(late.items())[:5]}"
        # the restart happened mid-load, and the receipts it owed came back from its state
        assert first["submits_accepted"] < RESTART_MESSAGES
        assert smsc.counter("receipts_loaded") == first["pending_receipts"]
        states = delivery.recipients(server)
        assert {states[(m, d[0])][0] for m, d in sent.items()} == {DELIVERED_STATE}
        assert [r for r in delivery.ledger(server, LOGIN) if r[0] == "refund"] == []
    finally:
        sender.close()


# --- gateway kill -9 mid-load ----------------------------------------------------------

THREADS = 8
KILL_AFTER_ANSWERS = 400
LOAD_SECONDS = 15.0
WINDOW = 10
BATCH = 20
LEASE_S = 2


class Load:
    """Concurrent one-recipient `envoi` until the server dies; `answered`: msgid → number."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.answered: dict[int, str] = {}
        self.refusals: list[str] = []
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
            for i in range(100_000):
                if time.monotonic() > self.deadline:
                    return
                dest = f"336{n:02d}{i:06d}"
                params = {"action": "envoi", "login": LOGIN, "apipasse": PASSWORD}
                params.update(msg=f"kill {n}/{i}", dest=dest, origine="Panne")
                try:
                    response = client.get("/client/api/", params=params)
                except httpx.TransportError:
                    return  # the server is gone: stop this client
                with self.lock:
                    if response.text.endswith("|Message envoyé"):
                        self.answered[int(response.text.split("|")[0])] = dest
                    else:
                        self.refusals.append(f"{response.status_code} {response.text}")


def unfinished(server: Any) -> int:
    """Recipients still queued or waiting for their receipt."""
    with server.db() as conn:
        (count,) = conn.execute("SELECT count(*) FROM recipients WHERE state IN (0, 1)").fetchone()
    return int(count)


@pytest.mark.slow
def test_gateway_kill9_mid_load_delivers_all_charges_once(
    servers: Any, smscs: Any, delivery: Any
) -> None:
    """kill -9 mid-load, restart: every msgid delivered, one debit each, resends few and counted."""
    smsc = smscs.new("steady").start()
    server = servers.new(
        "kill9", PASSERELLE_DISPATCH_LEASE_S=str(LEASE_S), PASSERELLE_DISPATCH_BATCH=str(BATCH)
    )
    server.create_account(LOGIN, PASSWORD, CREDITS)
    server.add_connector("op", smsc.port, "--window", str(WINDOW), "--throughput", "250")
    server.start()
    load = Load(server.base_url)
    load.start()
    wait_until(lambda: load.count() >= KILL_AFTER_ANSWERS, timeout=LOAD_SECONDS)
    server.kill9()
    load.join(timeout=30.0)
    assert load.refusals == []
    with server.db() as conn:
        (backlog,) = conn.execute("SELECT count(*) FROM recipients WHERE state = 0").fetchone()
        (claimed,) = conn.execute(
            "SELECT count(*) FROM recipients WHERE state = 0 AND claimed_until IS NOT NULL"
        ).fetchone()
    assert backlog > 0, "the kill did not happen mid-delivery"
    assert claimed <= WINDOW + BATCH
    server.start()
    sender = delivery.Sender(server, LOGIN, PASSWORD)
    try:
        answers = sender.wait_final(list(load.answered), timeout=SETTLE_S)
        late = {m: a for m, a in answers.items() if a != delivery.DELIVERED}
        assert late == {}, f"{len(late)} msgids not delivered, e.g. {list(late.items())[:5]}"
        # messages stored but not answered before the kill are delivered too, once the
        # lease of the dead process's claim on them has run out
        assert wait_until(lambda: unfinished(server) == 0, SETTLE_S, step=0.1)
        with server.db() as conn:
            messages = dict(conn.execute("SELECT msgid, cost FROM messages").fetchall())
            counts = dict(
                conn.execute("SELECT msgid, count(*) FROM recipients GROUP BY msgid").fetchall()
            )
            states = dict(conn.execute("SELECT state, count(*) FROM recipients GROUP BY state"))
            (reclaims,) = conn.execute(
                "SELECT coalesce(sum(reclaims), 0) FROM recipients"
            ).fetchone()
        # charged exactly once: one debit per stored message, of its recipient count
        debits: dict[int, list[int]] = {}
        for kind, delta, msgid in delivery.ledger(server, LOGIN):
            assert kind in ("grant", "debit"), (kind, delta, msgid)  # no refund
            if kind == "debit":
                debits.setdefault(msgid, []).append(delta)
        assert set(load.answered) <= set(messages)
        assert debits == {m: [-cost] for m, cost in messages.items()}
        assert all(messages[m] == counts[m] == 1 for m in messages)
        assert sender.solde() == CREDITS - len(messages)
        # every stored recipient (answered or not before the kill) ends delivered
        assert states == {DELIVERED_STATE: len(messages)}
        # at-least-once toward the operator: duplicates only among the claims of the kill,
        # each one counted by the gateway (recipients.reclaims and /metrics)
        assert wait_until(lambda: settled(smsc, len(messages)), 10.0, step=0.1)
        stats = smsc.stats()
        duplicates = stats["duplicate_accepts"]
        assert stats["destinations"] == len(messages)
        assert stats["submits_accepted"] == len(messages) + duplicates
        assert duplicates <= claimed
        assert reclaims == claimed
        assert server.metric("passerelle_possible_duplicates_total") == claimed
    finally:
        sender.close()


# --- refusals and throttling -----------------------------------------------------------

THROTTLED = 10


@pytest.fixture(scope="module")
def refusing(servers: Any, smscs: Any) -> Any:
    """A gateway whose 336 numbers go to a rejecting operator, others to a throttling one."""
    refuse = smscs.new("refuse", "--mode", "reject")
    slow = smscs.new("slow", "--mode", "throttle", "--every", "3")
    smscs.start_all(refuse, slow)
    server = servers.new("refusals")
    server.create_account(LOGIN, PASSWORD, CREDITS)
    server.add_connector("refuse", refuse.port)
    server.add_connector("slow", slow.port)
    server.add_route("336", "refuse", position=10)
    server.add_route("default", "slow")
    server.start()
    return server, refuse, slow


def test_permanent_rejection_fails_and_refunds(refusing: Any, delivery: Any) -> None:
    """An operator's permanent error fails the recipient: statut 2, refunded, balance restored."""
    server, refuse, _ = refusing
    sender = delivery.Sender(server, LOGIN, PASSWORD)
    try:
        before = sender.solde()
        sent = sender.send_all([["33611111111"], ["33622222222", "33633333333"]])
        assert sender.wait_final(list(sent), timeout=15.0) == dict.fromkeys(
            sent, delivery.NOT_DELIVERED
        )
        assert refuse.wait_for("rejected", 3, timeout=5.0) == 3
        assert refuse.counter("submits_accepted") == 0
        stored = delivery.recipients(server)
        for msgid, dests in sent.items():
            for dest in dests:
                assert stored[(msgid, dest)][0] == FAILED_STATE, dest
        refunds = [
            (delta, m) for kind, delta, m in delivery.ledger(server, LOGIN) if kind == "refund"
        ]
        assert sorted(refunds) == sorted((1, m) for m, dests in sent.items() for _ in dests)
        assert sender.solde() == before
    finally:
        sender.close()


def test_throttling_operator_delivers_everything(refusing: Any, delivery: Any) -> None:
    """An operator throttling every 3rd submit: all recipients end delivered after retries."""
    server, _, slow = refusing
    sender = delivery.Sender(server, LOGIN, PASSWORD)
    try:
        before = sender.solde()
        sent = sender.send_all([[f"4477{i:08d}"] for i in range(THROTTLED)])
        answers = sender.wait_final(list(sent), timeout=30.0)
        assert answers == dict.fromkeys(sent, delivery.DELIVERED)
        assert slow.wait_for("submits_accepted", THROTTLED, timeout=5.0) == THROTTLED
        assert slow.counter("throttled") > 0
        assert slow.counter("duplicate_accepts") == 0
        with server.db() as conn:
            attempts = [
                a for (a,) in conn.execute("SELECT attempts FROM recipients WHERE dest LIKE '44%'")
            ]
        assert max(attempts) > 1
        assert sender.solde() == before - THROTTLED
        assert [
            r for r in delivery.ledger(server, LOGIN) if r[0] == "refund" and r[2] in sent
        ] == []
    finally:
        sender.close()
