"""`passerelle serve` on PostgreSQL: the manual's calls, delivery by the built-in
simulator, and two API processes sharing one account's credits."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.acceptance.conftest import MICHELLE, Server, Servers, legacy_text
from tests.pgserver import fetch, new_database

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_url() -> str:
    """A fresh, empty PostgreSQL database for this test."""
    return new_database()


def on_postgres(servers: Servers, name: str, url: str, *serve_args: str) -> Server:
    server = servers.new(name, PASSERELLE_DATABASE_URL=url)
    server.serve_args = serve_args
    return server


@pytest.fixture
def pg_gateway(servers: Servers, pg_url: str) -> Iterator[Server]:
    server = on_postgres(servers, "pg", pg_url)
    server.create_account(*MICHELLE, credits=10)
    yield server.start()
    server.stop()


def test_manual_calls_and_delivery_on_postgres(pg_gateway: Server) -> None:
    """envoi, statut and solde answer as on SQLite; the built-in simulator delivers."""
    login, password = MICHELLE
    base = f"/client/api?login={login}&apipasse={password}"
    with pg_gateway.client() as http:
        envoi = base + "&action=envoi&dest=33612345678&msg=Bonjour&origine=Shop"
        sent = legacy_text(pg_gateway.get(http, envoi))
        assert re.fullmatch(r"\d{9}\|Message envoyé", sent), sent
        msgid = sent.split("|")[0]
        assert pg_gateway.solde(http, login, password) == 9
        status = ""
        for _ in range(200):
            status = legacy_text(pg_gateway.get(http, base + f"&action=statut&msgid={msgid}"))
            if status.startswith("1|"):
                break
            time.sleep(0.05)
        assert status.startswith("1|"), status


def test_two_api_processes_never_overdraw(servers: Servers, pg_url: str) -> None:
    """200 concurrent sends through 2 API processes on 100 credits: exactly 100 accepted,
    and the balance equals the ledger."""
    first = on_postgres(servers, "api1", pg_url, "--role", "api")
    first.create_account(*MICHELLE, credits=100)
    first.start()
    second = on_postgres(servers, "api2", pg_url, "--role", "api").start()
    login, password = MICHELLE
    target = f"/client/api?action=envoi&login={login}&apipasse={password}&origine=Shop&msg=x&dest="

    def send(i: int) -> str:
        server = (first, second)[i % 2]
        with httpx.Client(timeout=30.0) as http:
            return legacy_text(server.get(http, target + f"336{i:08d}"))

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(send, range(200)))
    accepted = [a for a in answers if a.endswith("|Message envoyé")]
    assert len(accepted) == 100, answers
    assert sorted(set(answers) - set(accepted)) == ["02|Vous n'avez pas assez de crédit"], answers
    msgids = {int(a.split("|")[0]) for a in accepted}
    stored = fetch(pg_url, "SELECT msgid FROM messages")
    assert {r[0] for r in stored} == msgids
    ((credits, ledger),) = fetch(
        pg_url,
        "SELECT a.credits, (SELECT sum(delta) FROM ledger l WHERE l.account_id = a.id)"
        " FROM accounts a",
    )
    assert credits == 0 and ledger == 0


def test_a_change_holds_in_every_process_within_a_second(servers: Servers, pg_url: str) -> None:
    """A suspension, then a password change, made by the CLI hold in both API processes
    within about a second (each re-reads account snapshots every second)."""
    first = on_postgres(servers, "change1", pg_url, "--role", "api")
    first.create_account(*MICHELLE, credits=10)
    first.start()
    second = on_postgres(servers, "change2", pg_url, "--role", "api").start()
    login, password = MICHELLE
    with httpx.Client(timeout=10.0) as http:
        for server in (first, second):
            assert server.solde(http, login, password) == 10
        first.cli("account", "set", login, "--suspended")
        time.sleep(1.5)
        target = f"/client/api?action=solde&login={login}&apipasse={password}"
        for server in (first, second):
            assert legacy_text(server.get(http, target)).startswith("14|"), server.port
        first.cli("account", "set", login, "--not-suspended", "--api-password", "New-pass-12345")
        time.sleep(1.5)
        for server in (first, second):
            assert legacy_text(server.get(http, target)).startswith("01|")
            assert server.solde(http, login, "New-pass-12345") == 10
