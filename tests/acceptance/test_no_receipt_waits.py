"""No recipient waits for ever (real `passerelle serve` subprocesses, built-in simulator).

The built-in simulator's pending receipts survive a kill -9 and a SIGTERM of `serve`:
after a restart on the same database every message reaches statut 1. A receipt that
never comes ends at the receipt deadline: statut 2, one callback event, no refund.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

LOGIN, PASSWORD = "Patient", "Patient-Pass-1"
CREDITS = 100
MESSAGES = 40
DELAY_S = "8"  # receipts are still owed when the server is stopped
FINAL_TIMEOUT_S = 40.0
IN_FLIGHT_STATE = 1


def numbers(count: int, prefix: str) -> list[list[str]]:
    """One number per message."""
    return [[f"{prefix}{i:08d}"] for i in range(count)]


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` (bounded); its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def submitted(server: Any) -> int:
    """Recipients handed to the operator and waiting for their receipt."""
    with server.db() as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM recipients WHERE state = ?", (IN_FLIGHT_STATE,)
        ).fetchone()
    return int(count)


def saved_receipts(server: Any) -> int:
    """Receipts listed in the built-in simulator's state file (0 when not written yet)."""
    path = server.db_path.with_name(server.db_path.name + ".simulator.json")
    try:
        return len(json.loads(path.read_text("utf-8"))["pending"])
    except (OSError, ValueError, KeyError):
        return 0


def restart_delivers_everything(servers: Any, delivery: Any, name: str, kill9: bool) -> None:
    """Send MESSAGES, stop the server while their receipts are owed, start it again on the
    same database: every message reaches statut 1, each charged once."""
    server = servers.new(name, PASSERELLE_SIMULATOR_DELAY_S=DELAY_S)
    server.create_account(LOGIN, PASSWORD, CREDITS)
    server.start()
    sender = delivery.Sender(server, LOGIN, PASSWORD)
    try:
        sent = list(sender.send_all(numbers(MESSAGES, "336")))
        if kill9:
            # every submit recorded and every receipt saved: the kill loses nothing
            assert wait_until(
                lambda: submitted(server) == MESSAGES and saved_receipts(server) == MESSAGES,
                timeout=15.0,
            ), (submitted(server), saved_receipts(server))
            before = sender.wait_final(sent, timeout=0)
            assert set(before.values()) == {delivery.IN_FLIGHT}, before
            server.kill9()
        else:
            assert server.stop() == 0
    finally:
        sender.close()
    server.start()
    sender = delivery.Sender(server, LOGIN, PASSWORD)
    try:
        answers = sender.wait_final(sent, timeout=FINAL_TIMEOUT_S)
        assert answers == dict.fromkeys(sent, delivery.DELIVERED)
        assert sender.solde() == CREDITS - MESSAGES
    finally:
        sender.close()


def test_builtin_receipts_survive_kill9(servers: Any, delivery: Any) -> None:
    """kill -9 while the built-in simulator owes every receipt: all reach statut 1 after
    a restart on the same database."""
    restart_delivers_everything(servers, delivery, "kill9", kill9=True)


def test_builtin_receipts_survive_sigterm(servers: Any, delivery: Any) -> None:
    """SIGTERM right after the messages are accepted: all reach statut 1 after a restart."""
    restart_delivers_everything(servers, delivery, "sigterm", kill9=False)


def test_receipt_deadline_ends_the_wait(servers: Any, delivery: Any) -> None:
    """A receipt slower than PASSERELLE_RECEIPT_DEADLINE_S: statut 2 (EXPIRED, no-receipt),
    one callback event for the callback=1 message only, no refund."""
    server = servers.new(
        "deadline", PASSERELLE_SIMULATOR_DELAY_S="600", PASSERELLE_RECEIPT_DEADLINE_S="2"
    )
    server.create_account(LOGIN, PASSWORD, CREDITS)
    server.start()
    sent = []
    with server.client() as client:
        for callback, dest in (("1", "33611111111"), ("0", "33622222222")):
            params = {"action": "envoi", "login": LOGIN, "apipasse": PASSWORD, "msg": "x"}
            params |= {"dest": dest, "origine": "Shop", "callback": callback}
            answer = client.get("/client/api/", params=params).text
            assert answer.endswith("|Message envoyé"), answer
            sent.append(int(answer.split("|")[0]))
    sender = delivery.Sender(server, LOGIN, PASSWORD)
    try:
        answers = sender.wait_final(sent, timeout=FINAL_TIMEOUT_S)
        assert answers == dict.fromkeys(sent, delivery.NOT_DELIVERED)
        assert sender.solde() == CREDITS - 2
    finally:
        sender.close()
    with server.db() as conn:
        rows = conn.execute("SELECT stat, err FROM recipients").fetchall()
        events = conn.execute("SELECT msgid, statut, stat, err FROM callback_events").fetchall()
    assert rows == [("EXPIRED", "no-receipt")] * 2
    assert events == [(sent[0], 2, "EXPIRED", "no-receipt")]
    assert [kind for kind, _, _ in delivery.ledger(server, LOGIN)] == ["grant", "debit", "debit"]
