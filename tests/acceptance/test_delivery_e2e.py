"""End-to-end delivery (docs/smpp.md): legacy API → outbox → SMPP → simulator → receipt → statut.

Real subprocesses only: `passerelle serve` and standalone `passerelle simulator`
processes on 127.0.0.1, configured with the CLI before `serve` starts. Every wait is
bounded polling of `statut` over HTTP (or of a stats file).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from passerelle.simulator import OutcomeKey, SimulatorConfig
from passerelle.simulator.outcome import UNDELIV, Outcomes

LOGIN, PASSWORD = "Livreur", "Livreur-Pass-1"
CREDITS = 5_000
SINGLES = 900  # one recipient per GET
MULTI_POSTS, MULTI_SIZE = 5, 20  # plus a few multi-recipient POSTs: 1 000 SMS in all
LOAD_TIMEOUT_S = 60.0
MIXED = 300  # recipients through the 70 % simulator
SEED = 7
DELIVERED_STATE, UNDELIVERED_STATE = 2, 3


@dataclass
class Thousand:
    """The 1 000 SMS run: its server, simulator, sender, msgid → numbers, msgid → statut."""

    server: Any
    smsc: Any
    sender: Any
    sent: dict[int, list[str]]
    answers: dict[int, str]


def singles() -> list[list[str]]:
    return [[f"336{i:08d}"] for i in range(SINGLES)]


def multis() -> list[list[str]]:
    return [[f"337{p:02d}{i:06d}" for i in range(MULTI_SIZE)] for p in range(MULTI_POSTS)]


@pytest.fixture(scope="module")
def thousand(servers: Any, smscs: Any, delivery: Any) -> Iterator[Thousand]:
    """1 000 SMS sent through a standalone simulator, then `statut` polled until final."""
    smsc = smscs.new("ops").start()
    server = servers.new("thousand")
    server.create_account(LOGIN, PASSWORD, CREDITS)
    server.add_connector("ops", smsc.port)
    server.start()
    sender = delivery.Sender(server, LOGIN, PASSWORD)
    try:
        sent = sender.send_all(singles())
        sent.update(sender.send_all(multis(), post=True))
        answers = sender.wait_final(list(sent), timeout=LOAD_TIMEOUT_S)
        yield Thousand(server, smsc, sender, sent, answers)
    finally:
        sender.close()


def test_builtin_simulator_delivers_by_default(servers: Any, delivery: Any) -> None:
    """With no connector, `serve` delivers through its built-in simulator: statut reaches 1."""
    server = servers.new("builtin")
    server.create_account(LOGIN, PASSWORD, 10)
    server.start()
    sender = delivery.Sender(server, LOGIN, PASSWORD)
    try:
        msgid = sender.envoi(["33612345678"], "bonjour")
        assert sender.wait_final([msgid], timeout=10.0) == {msgid: delivery.DELIVERED}
        assert delivery.recipients(server)[(msgid, "33612345678")][0] == DELIVERED_STATE
        assert sender.solde() == 9
    finally:
        sender.close()


def test_thousand_sms_all_reach_statut_1(thousand: Thousand, delivery: Any) -> None:
    """1 000 SMS sent concurrently (GETs and multi-recipient POSTs) all end `1|SMS reçu`."""
    assert sum(len(dests) for dests in thousand.sent.values()) == 1_000
    assert set(thousand.answers) == set(thousand.sent)
    late = {m: a for m, a in thousand.answers.items() if a != delivery.DELIVERED}
    assert late == {}, f"{len(late)} msgids not delivered, e.g. {list(late.items())[:5]}"


def test_thousand_sms_each_submitted_once(thousand: Thousand) -> None:
    """The operator got each of the 1 000 numbers exactly once, each with a receipt."""
    thousand.smsc.wait_for("receipts_acked", 1_000, timeout=5.0)
    stats = thousand.smsc.stats()
    assert stats["submits_accepted"] == 1_000
    assert stats["destinations"] == 1_000
    assert stats["duplicate_accepts"] == 0
    assert stats["receipts_acked"] == 1_000
    assert stats["outcomes"] == {"DELIVRD": 1_000}


def test_thousand_sms_charged_once(thousand: Thousand, delivery: Any) -> None:
    """One debit per msgid, of its recipient count; no refund; the balance is 1 000 lower."""
    rows = delivery.ledger(thousand.server, LOGIN)
    debits = [(delta, msgid) for kind, delta, msgid in rows if kind == "debit"]
    assert sorted(debits) == sorted((-len(d), m) for m, d in thousand.sent.items())
    assert [r for r in rows if r[0] == "refund"] == []
    assert thousand.sender.solde() == CREDITS - 1_000
    states = delivery.recipients(thousand.server)
    got = {states[(m, d)][:2] for m, dests in thousand.sent.items() for d in dests}
    assert got == {(DELIVERED_STATE, "ops")}


def expected_outcome(dest: str) -> str:
    """The documented `--outcome-by destination` rule for this test's ratio and seed."""
    config = SimulatorConfig(deliver_ratio=0.7, outcome_by=OutcomeKey.DESTINATION, seed=SEED)
    return Outcomes.of_config(config).of(0, dest)


@pytest.mark.slow
def test_undelivered_by_destination_answer_statut_2(
    servers: Any, smscs: Any, delivery: Any
) -> None:
    """With 70 % delivered by destination, exactly the UNDELIV numbers answer `2|non délivré`."""
    smsc = smscs.new(
        "mixed", "--deliver-ratio", "0.7", "--outcome-by", "destination", "--seed", str(SEED)
    ).start()
    server = servers.new("mixed")
    server.create_account(LOGIN, PASSWORD, CREDITS)
    server.add_connector("mixed", smsc.port)
    server.start()
    sender = delivery.Sender(server, LOGIN, PASSWORD)
    try:
        dests = [f"3367{i:07d}" for i in range(MIXED)]
        sent = sender.send_all([[d] for d in dests])
        undeliv = {d for d in dests if expected_outcome(d) == UNDELIV}
        assert 0 < len(undeliv) < MIXED
        answers = sender.wait_final(list(sent), timeout=LOAD_TIMEOUT_S)
        by_dest = {sent[m][0]: a for m, a in answers.items()}
        assert {d for d, a in by_dest.items() if a == delivery.NOT_DELIVERED} == undeliv
        assert {d for d, a in by_dest.items() if a == delivery.DELIVERED} == set(dests) - undeliv
        # the simulator's own count and the stored receipts agree, number by number
        smsc.wait_for("receipts_acked", MIXED, timeout=5.0)
        assert smsc.stats()["outcomes"] == {
            "DELIVRD": MIXED - len(undeliv),
            "UNDELIV": len(undeliv),
        }
        stored = delivery.recipients(server)
        for msgid, (dest,) in sent.items():
            state, _, stat = stored[(msgid, dest)]
            want = (
                (UNDELIVERED_STATE, "UNDELIV") if dest in undeliv else (DELIVERED_STATE, "DELIVRD")
            )
            assert (state, stat) == want, dest
        # a receipt of non-delivery is not refunded: the operator took the message
        assert [r for r in delivery.ledger(server, LOGIN) if r[0] == "refund"] == []
        # one message to a number that is delivered and one that is not: 2, then 1 and 2
        fresh = [f"3368{i:07d}" for i in range(50)]
        good = next(d for d in fresh if expected_outcome(d) != UNDELIV)
        bad = next(d for d in fresh if expected_outcome(d) == UNDELIV)
        msgid = sender.envoi([good, bad], post=True)
        assert sender.wait_final([msgid], timeout=10.0) == {msgid: delivery.NOT_DELIVERED}
        assert sender.statut(msgid, good) == delivery.DELIVERED
        assert sender.statut(msgid, bad) == delivery.NOT_DELIVERED
    finally:
        sender.close()
