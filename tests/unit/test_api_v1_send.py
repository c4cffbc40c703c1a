"""POST /api/v1/messages on a real SQLite store: the 201 answer, each refusal's status
and legacy code, Idempotency-Key (replays, concurrent retries, another body, bad keys),
the body's size limit and the per-account request limit of every /api/v1 request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from passerelle import exceptions as exc
from passerelle.api import v1_send
from passerelle.core.console import NewContact
from passerelle.core.values import AccountChanges
from tests.apiv1kit import T0, World, seed_sqlite
from tests.support import asgi_client
from tests.unit.test_api_v1 import assert_problem

URL = "/api/v1/messages"
BODY: dict[str, Any] = {"to": ["33612345678", "+33698765432"], "text": "Hello", "from": "Shop"}


async def open_world(path: Path, **settings: object) -> AsyncIterator[World]:
    """A world seeded on a SQLite file, its store closed after."""
    world = await seed_sqlite(path, **settings)
    try:
        yield world
    finally:
        await world.store.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A seeded application on a real SQLite database."""
    async for w in open_world(tmp_path / "v1.db"):
        yield w


def client_of(world: World, key: str | None = None) -> httpx.AsyncClient:
    """A client of the application with alice's key (or `key`)."""
    c = asgi_client(world.app)
    c.headers["Authorization"] = f"Bearer {key or world.alice}"
    return c


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the application, authenticated as alice."""
    async with client_of(world) as c:
        yield c


async def alice_id(world: World) -> int:
    """Alice's account id."""
    account = await world.store.find_account("alice")
    assert account is not None
    return account.id


async def test_send_is_201_with_the_message_and_location(
    client: httpx.AsyncClient, world: World
) -> None:
    """A send answers 201 with the message as GET shows it, its id and its Location."""
    answer = await client.post(URL, json=BODY)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["id"] == str(body["msgid"]) and len(body["id"]) == 9
    assert answer.headers["location"] == f"/api/v1/messages/{body['msgid']}"
    assert "idempotent-replayed" not in answer.headers
    assert (body["sender"], body["text"], body["cost"], body["statut"]) == ("Shop", "Hello", 2, 0)
    assert [(r["dest"], r["state"]) for r in body["recipients"]] == [
        ("33612345678", "queued"),
        ("33698765432", "queued"),
    ]
    assert (await client.get(answer.headers["location"])).json() == body
    assert (await client.get("/api/v1/balance")).json() == {"credits": 95}


async def test_send_to_a_group(client: httpx.AsyncClient, world: World) -> None:
    """`group` adds the members of the account's contact group to `to`, each once."""
    members = [NewContact("Ann", "33611111111"), NewContact("Bo", "33612345678")]
    await world.store.import_contacts(await alice_id(world), "team", members, T0)
    answer = await client.post(URL, json={**BODY, "to": ["33612345678"], "group": "team"})
    assert answer.status_code == 201, answer.text
    assert sorted(r["dest"] for r in answer.json()["recipients"]) == [
        "33611111111",
        "33612345678",
    ]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"to": []}, 400, "03"),
        ({"from": ""}, 400, "04"),
        ({"to": ["33a12345678"]}, 400, "05"),
        ({"to": ["336"]}, 400, "06"),
        ({"to": ["0612345678"]}, 400, "07"),
        ({"text": " "}, 400, "08"),
        ({"text": "x" * 161}, 400, "12"),
        ({"from": "x" * 16}, 400, "13"),
        ({"group": "nobody"}, 400, "17"),
        ({"to": [f"336{i:08d}" for i in range(98)]}, 402, "02"),
    ],
)
async def test_refusals_keep_their_legacy_code(
    client: httpx.AsyncClient, change: dict[str, Any], status: int, code: str
) -> None:
    """A refused send is a problem with its status and legacy code; nothing charged."""
    answer = await client.post(URL, json={**BODY, **change})
    body = assert_problem(answer, status, code)
    if code == "17":
        assert body["detail"].endswith("group")
    assert (await client.get("/api/v1/balance")).json() == {"credits": 97}


async def test_too_many_recipients_is_15(tmp_path: Path) -> None:
    """More numbers than the POST limit of the settings is 400 with code 15."""
    async for world in open_world(tmp_path / "v1.db", max_recipients_post=2):
        async with client_of(world) as c:
            to = ["33611111111", "33622222222", "33633333333"]
            assert_problem(await c.post(URL, json={**BODY, "to": to}), 400, "15")


async def test_suspended_account_is_403(client: httpx.AsyncClient, world: World) -> None:
    """A key of an account that may not use the API is 403 with code 14."""
    await world.store.update_account("alice", AccountChanges(suspended=True), T0)
    assert_problem(await client.post(URL, json=BODY), 403, "14")


async def test_twenty_concurrent_retries_send_once(client: httpx.AsyncClient, world: World) -> None:
    """20 concurrent requests with one key and body: one message, one debit, one id,
    19 answers marked as replayed."""
    headers = {"Idempotency-Key": "order-42"}
    before = await world.store.count_messages(await alice_id(world))
    answers = await asyncio.gather(
        *(client.post(URL, json=BODY, headers=headers) for _ in range(20))
    )
    assert [a.status_code for a in answers] == [201] * 20
    assert len({a.json()["id"] for a in answers}) == 1
    assert len({a.headers["location"] for a in answers}) == 1
    replayed = [a.headers.get("idempotent-replayed") for a in answers]
    assert replayed.count("true") == 19 and replayed.count(None) == 1
    assert await world.store.count_messages(await alice_id(world)) == before + 1
    msgid = answers[0].json()["msgid"]
    ledger = (await client.get("/api/v1/ledger")).json()["data"]
    assert [e["delta"] for e in ledger if e["msgid"] == msgid] == [-2]
    assert (await client.get("/api/v1/balance")).json() == {"credits": 95}


async def test_same_key_with_another_body_is_422(client: httpx.AsyncClient) -> None:
    """The key of a sent message with another body is a 422 problem; nothing sent."""
    headers = {"Idempotency-Key": "k1"}
    assert (await client.post(URL, json=BODY, headers=headers)).status_code == 201
    other = await client.post(URL, json={**BODY, "text": "Other"}, headers=headers)
    body = assert_problem(other, 422)
    assert body["type"].endswith("/idempotency-mismatch")
    assert (await client.get("/api/v1/balance")).json() == {"credits": 95}


async def test_a_remembered_refusal_is_replayed(client: httpx.AsyncClient) -> None:
    """A refusal under a key (no credit) is given again, marked as replayed."""
    headers = {"Idempotency-Key": "big"}
    body = {**BODY, "to": [f"336{i:08d}" for i in range(98)]}
    first = await client.post(URL, json=body, headers=headers)
    assert_problem(first, 402, "02")
    again = await client.post(URL, json=body, headers=headers)
    assert_problem(again, 402, "02")
    assert again.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize("key", [b"", b"k" * 256, "cl\u00e9".encode(), b"a\x01b", b" k"])
async def test_bad_idempotency_key_is_422(client: httpx.AsyncClient, key: bytes) -> None:
    """An empty, too long or not printable-ASCII key is a 422 problem; nothing sent."""
    answer = await client.post(URL, json=BODY, headers=[(b"Idempotency-Key", key)])
    assert_problem(answer, 422)
    assert (await client.get("/api/v1/balance")).json() == {"credits": 97}


BAD_BODIES = [
    b"{",
    b"[]",
    b'{"to": ["33612345678"], "text": "x"}',
    b'{"to": "336", "text": "x", "from": "S"}',
    b'{"text": "x", "from": "S", "sender_type": 2}',
    b'{"text": "x", "from": "S", "x": 1}',
    b'{"to": ["3361,3362"], "text": "x", "from": "S"}',
]


@pytest.mark.parametrize("content", BAD_BODIES)
async def test_bad_body_is_422(client: httpx.AsyncClient, content: bytes) -> None:
    """A body that is not JSON or not a message is a 422 problem naming the field."""
    answer = await client.post(URL, content=content, headers={"content-type": "application/json"})
    assert assert_problem(answer, 422)["errors"]


async def test_body_over_the_limit_is_413(tmp_path: Path) -> None:
    """A body over max_body_bytes is 413, whether its length is told or not."""
    async for world in open_world(tmp_path / "v1.db", max_body_bytes=1024):
        async with client_of(world) as c:
            big = {**BODY, "text": "x" * 2000}
            assert_problem(await c.post(URL, json=big), 413)

            async def chunks() -> AsyncIterator[bytes]:
                for _ in range(3):
                    yield b" " * 500

            assert_problem(await c.post(URL, content=chunks()), 413)
            assert (await c.get("/api/v1/balance")).json() == {"credits": 97}


async def test_bob_cannot_read_alice_sent_message(client: httpx.AsyncClient, world: World) -> None:
    """A message alice sent is 404 with bob's key."""
    location = (await client.post(URL, json=BODY)).headers["location"]
    async with client_of(world, world.bob) as c:
        assert_problem(await c.get(location), 404)


async def test_request_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    """Over the account's request limit, every /api/v1 request is 429 (code 16) with
    Retry-After, the send as the reads."""
    async for world in open_world(tmp_path / "v1.db", account_rate_limit=1.0):
        async with client_of(world) as c:
            assert (await c.get("/api/v1/balance")).status_code == 200
            for answer in (await c.get("/api/v1/balance"), await c.post(URL, json=BODY)):
                assert_problem(answer, 429, "16")
                assert answer.headers["retry-after"] == "1"
        async with client_of(world, world.bob) as c:
            assert (await c.get("/api/v1/balance")).status_code == 200  # bob has his own


async def test_key_still_in_progress_is_409(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key whose first request is still being sent is 409 with Retry-After."""

    async def busy(*_args: object, **_kwargs: object) -> None:
        raise exc.IdempotencyBusy("k")

    monkeypatch.setattr(v1_send, "send_once", busy)
    answer = await client.post(URL, json=BODY, headers={"Idempotency-Key": "k"})
    assert assert_problem(answer, 409)["type"].endswith("/idempotency-busy")
    assert answer.headers["retry-after"] == "1"
