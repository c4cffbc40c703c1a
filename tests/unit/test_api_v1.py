"""The JSON API (/api/v1) in-process over the full application on a memory store: each
endpoint's answer, the problem documents of its errors, isolation between accounts, the
OpenAPI document and the documentation page (schemathesis: test_api_v1_schema.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from passerelle.api.v1_models import cursor_of
from passerelle.store.memory import MemoryStore
from passerelle.wiring import create_app
from tests.apiv1kit import T0, World, seed
from tests.support import asgi_client, make_settings

PROBLEM = "application/problem+json"


@pytest.fixture
async def world() -> World:
    """A seeded application."""
    return await seed()


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the application, authenticated as alice."""
    async with asgi_client(world.app) as c:
        c.headers["Authorization"] = f"Bearer {world.alice}"
        yield c


def assert_problem(answer: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The answer is a problem document with this status (and legacy code)."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["type"].startswith("https://passerelle.dev/problems/") or body["type"] == (
        "about:blank"
    )
    assert "Traceback" not in answer.text
    if code is not None:
        assert body["code"] == code
    return body


async def test_balance(client: httpx.AsyncClient) -> None:
    """GET /balance gives the account's credits (100 less 3 charged)."""
    answer = await client.get("/api/v1/balance")
    assert answer.status_code == 200
    assert answer.json() == {"credits": 97}


async def test_ledger(client: httpx.AsyncClient) -> None:
    """GET /ledger gives the credit movements, newest first, bounded by limit."""
    answer = await client.get("/api/v1/ledger")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert sum(e["delta"] for e in data) == 97
    assert {"id", "at", "delta", "kind", "actor", "reason", "msgid"} <= set(data[0])
    assert len((await client.get("/api/v1/ledger", params={"limit": 1})).json()["data"]) == 1


async def test_message_by_msgid(client: httpx.AsyncClient, world: World) -> None:
    """GET /messages/{msgid} gives each recipient's state, statut, stat and time."""
    answer = await client.get(f"/api/v1/messages/{world.msgids[1]}")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["msgid"], body["sender"], body["text"], body["statut"]) == (
        world.msgids[1],
        "Shop",
        "text 1",
        1,
    )
    [recipient] = body["recipients"]
    assert recipient["dest"] == "33633333333"
    assert (recipient["state"], recipient["statut"], recipient["stat"]) == (
        "delivered",
        1,
        "DELIVRD",
    )
    assert recipient["updated_at"].startswith("2023-11-14T22:")
    first = (await client.get(f"/api/v1/messages/{world.msgids[0]}")).json()
    assert first["statut"] == 0
    assert [(r["dest"], r["state"], r["statut"]) for r in first["recipients"]] == [
        ("33611111111", "queued", 0),
        ("33622222222", "queued", 0),
    ]


async def test_message_of_another_account_is_404(client: httpx.AsyncClient, world: World) -> None:
    """Bob's msgid read with alice's key is a 404 problem, as an unknown msgid is."""
    assert_problem(await client.get(f"/api/v1/messages/{world.bob_msgid}"), 404)
    assert_problem(await client.get("/api/v1/messages/123"), 404)


async def test_bob_key_reads_only_bob(world: World) -> None:
    """Bob's key sees bob's message and balance, never alice's messages or events."""
    async with asgi_client(world.app) as c:
        c.headers["Authorization"] = f"Bearer {world.bob}"
        for msgid in world.msgids:
            assert_problem(await c.get(f"/api/v1/messages/{msgid}"), 404)
        assert (await c.get(f"/api/v1/messages/{world.bob_msgid}")).status_code == 200
        listed = (await c.get("/api/v1/messages")).json()["data"]
        assert [m["msgid"] for m in listed] == [world.bob_msgid]
        events = (await c.get("/api/v1/callbacks")).json()["data"]
        assert all(e["msgid"] == world.bob_msgid for e in events) and events
        assert_problem(await c.post(f"/api/v1/callbacks/{world.event_id}/replay"), 404)


async def test_messages_list_filters(client: httpx.AsyncClient, world: World) -> None:
    """GET /messages lists newest first and filters by since, until, state and to."""
    newest_first = list(reversed(world.msgids))

    async def listed(**params: Any) -> list[int]:
        answer = await client.get("/api/v1/messages", params=params)
        assert answer.status_code == 200, answer.text
        return [m["msgid"] for m in answer.json()["data"]]

    assert await listed() == newest_first
    assert await listed(since=str(T0 + 100)) == newest_first[:2]
    assert await listed(until="2023-11-14T22:15:00Z") == [world.msgids[0]]  # T0 + 100 excluded
    assert await listed(since="2023-11-14T22:14:20", until=str(T0 + 200)) == [world.msgids[1]]
    assert await listed(state="delivered") == [world.msgids[1]]
    assert await listed(to="+3362") == [world.msgids[0]]
    assert await listed(to="4477") == [world.msgids[2]]


async def test_messages_cursor_pagination(client: httpx.AsyncClient, world: World) -> None:
    """limit and next_cursor walk every message once; the last page has no cursor."""
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(3):
        page = (await client.get("/api/v1/messages", params=params)).json()
        seen += [m["msgid"] for m in page["data"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == list(reversed(world.msgids))
    assert params["cursor"] == cursor_of(2)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "x"},
        {"since": "yesterday"},
        {"until": "nan"},
        {"state": "lost"},
        {"to": "33a"},
        {"cursor": "!!"},
        {"cursor": "eyJvZmZzZXQiOi0xfQ"},  # {"offset":-1}
    ],
)
async def test_messages_bad_query_is_422(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    """A query value that cannot be used is a 422 problem naming it."""
    body = assert_problem(await client.get("/api/v1/messages", params=params), 422)
    assert body["errors"] and next(iter(params)) in body["detail"]


async def test_bad_path_value_is_422(client: httpx.AsyncClient) -> None:
    """A msgid or event id that is not a number is a 422 problem."""
    assert_problem(await client.get("/api/v1/messages/abc"), 422)
    assert_problem(await client.post("/api/v1/callbacks/x/replay"), 422)


async def test_callbacks_and_replay(client: httpx.AsyncClient, world: World) -> None:
    """GET /callbacks lists the account's events; replaying one of them is 202."""
    answer = await client.get("/api/v1/callbacks")
    assert answer.status_code == 200
    [event] = answer.json()["data"]
    assert (event["id"], event["msgid"], event["state"], event["stat"]) == (
        world.event_id,
        world.msgids[1],
        "pending",
        "DELIVRD",
    )
    assert (await client.get("/api/v1/callbacks", params={"failed": "true"})).json()["data"] == []
    replayed = await client.post(f"/api/v1/callbacks/{world.event_id}/replay")
    assert replayed.status_code == 202
    assert replayed.json() == {"id": world.event_id, "state": "pending"}
    assert_problem(await client.post("/api/v1/callbacks/999999/replay"), 404)


@pytest.mark.parametrize("header", [None, "Bearer psl_wrong", "Basic YTpi", "Bearer "])
async def test_without_a_valid_key_is_401(world: World, header: str | None) -> None:
    """No key, a bad key or another scheme: 401 problem (code 01) with WWW-Authenticate."""
    headers = {} if header is None else {"Authorization": header}
    async with asgi_client(world.app) as c:
        answer = await c.get("/api/v1/balance", headers=headers)
    assert_problem(answer, 401, "01")
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_well_shaped_key_is_401(world: World) -> None:
    """A key of the right shape that the store does not know is 401."""
    async with asgi_client(world.app) as c:
        answer = await c.get("/api/v1/balance", headers={"Authorization": "Bearer psl_" + "a" * 43})
    assert_problem(answer, 401, "01")


async def test_suspended_account_is_403(client: httpx.AsyncClient, world: World) -> None:
    """A valid key of an account that may not use the API is a 403 problem (code 14)."""
    assert isinstance(world.store, MemoryStore)
    account = world.store.accounts["alice"]
    world.store.accounts["alice"] = dataclasses.replace(account, suspended=True)
    assert_problem(await client.get("/api/v1/balance"), 403, "14")


async def test_unexpected_error_is_500_without_trace(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error is a 500 problem with a reference and no traceback."""

    async def broken(_account_id: int) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(world.store, "balance", broken)
    body = assert_problem(await client.get("/api/v1/balance"), 500, "99")
    assert "ref" in body["detail"] and "disk" not in body["detail"]


async def test_unknown_route_and_method(client: httpx.AsyncClient) -> None:
    """An unknown path is a 404 problem; a wrong method a 405 problem with Allow."""
    assert_problem(await client.get("/api/v1/nothing"), 404)
    answer = await client.delete("/api/v1/balance")
    assert_problem(answer, 405)
    assert answer.headers["allow"] == "GET"


async def test_openapi_declares_bearer_and_problems(client: httpx.AsyncClient) -> None:
    """openapi.json declares the bearer scheme and gives errors as problem+json."""
    doc = (await client.get("/api/v1/openapi.json")).json()
    assert doc["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key of the account: `Authorization: Bearer psl_...`",
    }
    operations = [op for path in doc["paths"].values() for op in path.values()]
    assert len(operations) == 7
    for op in operations:
        assert op["security"] == [{"apiKey": []}]
        assert set(op["responses"]["401"]["content"]) == {PROBLEM}
        assert set(op["responses"]["422"]["content"]) == {PROBLEM}
    assert "/api/v1" in [s["url"] for s in doc.get("servers", [])]


async def test_docs_page_is_served_without_cdn(client: httpx.AsyncClient) -> None:
    """/docs is a page of the package with its script, no inline script, a strict CSP."""
    page = await client.get("/api/v1/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "http" not in page.text.replace('href="openapi.json"', "")
    assert '<script src="docs.js"' in page.text and "<script>" not in page.text
    script = await client.get("/api/v1/docs.js")
    assert script.status_code == 200 and "openapi.json" in script.text
    assert (await client.get("/api/v1/docs.css")).status_code == 200


async def test_without_api_role_there_is_no_json_api() -> None:
    """A process without the api role does not serve /api/v1."""
    store = MemoryStore()
    await store.open()
    app = create_app(make_settings(api=False), store)
    async with asgi_client(app) as c:
        assert (await c.get("/api/v1/openapi.json")).status_code == 404


async def test_refused_keys_are_limited_per_address() -> None:
    """An address that sends more refused keys than the failed-login limit allows gets
    429 (code 16) before any lookup, even with a valid key; another address does not."""
    world = await seed(login_failures_per_address=5)
    transport = httpx.ASGITransport(app=world.app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as scan:
        for n in range(5):
            wrong = {"Authorization": f"Bearer psl_{n:043d}"}
            assert_problem(await scan.get("/api/v1/balance", headers=wrong), 401, "01")
        good = {"Authorization": f"Bearer {world.alice}"}
        blocked = await scan.get("/api/v1/balance", headers=good)
        assert_problem(blocked, 429, "16")
        assert blocked.headers["retry-after"]
    async with asgi_client(world.app) as other:
        other.headers["Authorization"] = f"Bearer {world.alice}"
        assert (await other.get("/api/v1/balance")).status_code == 200
