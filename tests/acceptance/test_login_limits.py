"""Failed-login limits against real `passerelle serve` processes: concurrent guesses,
several workers, and a customer who must not be locked out by someone else.

Client addresses are real: loopback is all of 127.0.0.0/8 on Linux, so each "address"
is a client socket bound to its own 127.0.0.x.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

PASSWORD = "dave-pass-123"
SOLDE = "/client/api?action=solde&login=dave&apipasse="
LIMITED = "16|Trop de requêtes"
BAD = "01|Login, mot de passe non valide"


def from_address(server: Any, address: str, password: str) -> str:
    """`solde` for dave sent from the client address `address`."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=server.base_url, transport=transport, timeout=30) as client:
        return client.get(SOLDE + password).text


async def guesses(server: Any, count: int, address: str = "127.0.0.1") -> list[str]:
    """`count` wrong passwords, all different, sent at once from one address."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=server.base_url, transport=transport, limits=limits, timeout=60
    ) as client:
        answers = await asyncio.gather(
            *(client.get(SOLDE + f"wrong-guess-{i}") for i in range(count))
        )
    return [a.text for a in answers]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_concurrent_guesses_never_pass_the_limits(servers: Any, workers: str) -> None:
    """500 wrong guesses at once (one process or two): only 10 are verified, the rest get 16,
    and then even the right password is refused from that address."""
    server = servers.new(f"guesses-{workers}", PASSERELLE_WORKERS=workers)
    server.create_account("dave", PASSWORD, credits=5)
    server.start()
    answers = asyncio.run(guesses(server, 500))
    assert answers.count(BAD) == 10, {a: answers.count(a) for a in set(answers)}
    assert answers.count(LIMITED) == 490
    if workers == "1":  # one process: its metric counts every verification there was
        assert server.metric("passerelle_auth_verifications_total") == 10
    assert from_address(server, "127.0.0.1", PASSWORD) == LIMITED


def test_two_gateways_on_one_database_share_the_limits(servers: Any) -> None:
    """Two `serve` processes on one SQLite file (two machines, in small), 250 guesses sent
    to each at once: 10 verifications in all, not 10 each."""
    first = servers.new("shared-a")
    first.create_account("dave", PASSWORD, credits=5)
    second = servers.new(
        "shared-b",
        PASSERELLE_DATABASE_URL=f"sqlite:///{first.db_path}",
        PASSERELLE_DELIVERY="false",
        PASSERELLE_CALLBACKS="false",
        PASSERELLE_RETENTION="false",
    )
    first.start()
    second.start()

    async def both() -> list[list[str]]:
        return list(await asyncio.gather(guesses(first, 250), guesses(second, 250)))

    answers_a, answers_b = asyncio.run(both())
    answers = answers_a + answers_b
    assert answers.count(BAD) == 10, {a: answers.count(a) for a in set(answers)}
    assert answers.count(LIMITED) == 490
    verified = first.metric("passerelle_auth_verifications_total")
    assert verified + second.metric("passerelle_auth_verifications_total") == 10
    assert from_address(second, "127.0.0.1", PASSWORD) == LIMITED


def test_a_customer_is_not_locked_out_by_someone_else(servers: Any) -> None:
    """Ten wrong passwords for dave from ten addresses: his own script keeps working (a pair
    verified before, and after a restart the address he succeeded from); the attacker's
    addresses, and a new address, are refused even with the right password."""
    server = servers.new("lockout")
    server.create_account("dave", PASSWORD, credits=5)
    server.start()
    assert from_address(server, "127.0.0.1", PASSWORD) == "5 SMS"  # dave's script
    for i in range(10):
        assert from_address(server, f"127.0.0.{i + 2}", "not-daves") == BAD
    assert from_address(server, "127.0.0.12", "not-daves") == LIMITED
    assert from_address(server, "127.0.0.1", PASSWORD) == "5 SMS"  # a pair known good
    assert from_address(server, "127.0.0.12", PASSWORD) == LIMITED  # not from elsewhere
    server.stop()
    server.start()  # the verification cache is gone; the counters and known addresses stay
    assert from_address(server, "127.0.0.13", PASSWORD) == LIMITED
    assert from_address(server, "127.0.0.1", PASSWORD) == "5 SMS"
    assert from_address(server, "127.0.0.1", "still-wrong") == BAD  # counted for the address
