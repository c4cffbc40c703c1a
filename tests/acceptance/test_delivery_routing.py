"""Routing (docs/smpp.md): prefix rules to connectors, failover, and numbers no rule takes.

Two standalone simulators A and B; the gateway is configured with the CLI before it
starts (`route add 336 A,B --position 10`, `route add default B`), then changed while
it runs (connector and route removal), relying on its refresh. The tests run in file
order on one gateway: prefix routing, then failover when A stops, then no route.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

LOGIN, PASSWORD = "Aiguilleur", "Aiguilleur-Pass-1"
CREDITS = 1_000
COUNT = 10
SETTLE_S = 20.0
REFRESH_S = 0.5
DELIVERED_STATE, FAILED_STATE = 2, 6


@dataclass
class Routed:
    """The routing gateway, its two operators and a sender."""

    server: Any
    a: Any
    b: Any
    sender: Any


@pytest.fixture(scope="module")
def routed(servers: Any, smscs: Any, delivery: Any) -> Iterator[Routed]:
    """Simulators A and B; 336… to A then B, everything else to B; refresh every 0.5 s."""
    a, b = smscs.new("A"), smscs.new("B")
    smscs.start_all(a, b)
    server = servers.new("routing", PASSERELLE_CONNECTOR_REFRESH_S=str(REFRESH_S))
    server.create_account(LOGIN, PASSWORD, CREDITS)
    server.add_connector("A", a.port)
    server.add_connector("B", b.port)
    server.add_route("336", "A,B", position=10)
    server.add_route("default", "B")
    server.start()
    sender = delivery.Sender(server, LOGIN, PASSWORD)
    try:
        yield Routed(server, a, b, sender)
    finally:
        sender.close()


def send_and_settle(routed: Routed, delivery: Any, dests: list[str]) -> dict[int, list[str]]:
    """One `envoi` per number; wait until all are delivered; msgid → [number]."""
    sent = routed.sender.send_all([[d] for d in dests])
    answers = routed.sender.wait_final(list(sent), timeout=SETTLE_S)
    assert answers == dict.fromkeys(sent, delivery.DELIVERED)
    return sent


def connectors_of(routed: Routed, delivery: Any, sent: dict[int, list[str]]) -> dict[str, str]:
    """number → the connector the gateway recorded for it."""
    stored = delivery.recipients(routed.server)
    return {d[0]: stored[(m, d[0])][1] for m, d in sent.items()}


def test_prefix_rule_and_default_route(routed: Routed, delivery: Any) -> None:
    """336… numbers go to A (first of their rule), the others to B (default route)."""
    french = [f"3365{i:07d}" for i in range(COUNT)]
    others = [f"4478{i:08d}" for i in range(COUNT // 2)] + [
        f"3375{i:07d}" for i in range(COUNT // 2)
    ]
    sent = send_and_settle(routed, delivery, french + others)
    assert connectors_of(routed, delivery, sent) == {
        **dict.fromkeys(french, "A"),
        **dict.fromkeys(others, "B"),
    }
    assert routed.a.wait_for("destinations", COUNT, timeout=5.0) == COUNT
    assert routed.b.wait_for("destinations", COUNT, timeout=5.0) == COUNT
    for smsc in (routed.a, routed.b):
        stats = smsc.stats()
        assert (stats["submits_accepted"], stats["duplicate_accepts"]) == (COUNT, 0)


def test_failover_when_first_operator_stops(routed: Routed, delivery: Any) -> None:
    """When A stops, 336… numbers fail over to B, the next connector of their rule."""
    b_before = routed.b.total("submits_accepted")
    a_before = routed.a.total("submits_accepted")
    assert routed.a.stop() == 0
    french = [f"3366{i:07d}" for i in range(COUNT)]
    sent = send_and_settle(routed, delivery, french)
    assert connectors_of(routed, delivery, sent) == dict.fromkeys(french, "B")
    want = b_before + COUNT
    assert routed.b.wait_for("submits_accepted", want, timeout=5.0) == want
    assert routed.a.total("submits_accepted") == a_before
    assert routed.b.counter("duplicate_accepts") == 0


def connector_listed(server: Any, name: str) -> bool:
    """True while ``/metrics`` lists a link for connector `name`."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=10.0).text
    return f'passerelle_connector_bound{{connector="{name}"}}' in text


def test_number_matching_no_rule_fails_and_is_refunded(routed: Routed, delivery: Any) -> None:
    """With no default route, a number no rule matches fails: statut 2, refunded by 1."""
    server, sender = routed.server, routed.sender
    routed.a.stop()
    with server.db() as conn:
        (default_id,) = conn.execute("SELECT id FROM routes WHERE prefix = ''").fetchone()
    server.cli("route", "remove", str(default_id))
    # A may go only with the route naming it (--force); 336 keeps B alone. Removing A
    # last marks a refresh that has also read the route changes.
    server.add_route("336", "B", position=10)
    assert "(336 → A, B) removed with it" in server.cli("connector", "remove", "A", "--force")
    deadline = time.monotonic() + 10.0
    while connector_listed(server, "A"):
        assert time.monotonic() < deadline, "the running gateway did not refresh its routes"
        time.sleep(0.1)
    time.sleep(2 * REFRESH_S)  # the refresh that dropped A goes on to read the routes
    before = sender.solde()
    routable, lost = "33670000001", "447800000001"
    msgid = sender.envoi([routable, lost])
    # charged 2 at acceptance (the no-route refund may already have followed: it is immediate)
    debits = [r for r in delivery.ledger(server, LOGIN) if r[0] == "debit" and r[2] == msgid]
    assert [r[1] for r in debits] == [-2]
    assert sender.wait_final([msgid], timeout=SETTLE_S) == {msgid: delivery.NOT_DELIVERED}
    assert sender.statut(msgid, routable) == delivery.DELIVERED
    assert sender.statut(msgid, lost) == delivery.NOT_DELIVERED
    stored = delivery.recipients(server)
    assert stored[(msgid, routable)][:2] == (DELIVERED_STATE, "B")
    assert stored[(msgid, lost)][:2] == (FAILED_STATE, None)
    refunds = [r for r in delivery.ledger(server, LOGIN) if r[0] == "refund"]
    assert refunds == [("refund", 1, msgid)]
    assert sender.solde() == before - 1
