"""The console's bounds under attack: log-in throttling, sign-up limits, form sizes, and
sessions that a password change or a reset ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from passerelle.store.base import Store
from tests.consolekit import PASSWORD, ConsoleClient, console_app
from tests.support import make_settings


@pytest.fixture
async def strict(console_store: Store) -> AsyncIterator[tuple[ConsoleClient, ConsoleClient]]:
    """Two browsers of one console with low limits: 3 failed log-ins per login, 2
    sign-ups per address and hour."""
    settings = make_settings(
        signups_per_hour=2, login_failures_per_login=3, login_failures_per_address=100
    )
    app, gateway = console_app(console_store, settings)
    one = ConsoleClient.of(app, console_store)
    two = ConsoleClient.of(app, console_store, address="127.0.0.2")
    yield one, two
    await one.http.aclose()
    await two.http.aclose()
    gateway.close()


async def test_log_in_is_throttled_per_login(strict: tuple[ConsoleClient, ConsoleClient]) -> None:
    """After 3 wrong passwords the login is refused (429) even with the right one, from a
    new address; the owner's known address still gets in."""
    owner, attacker = strict
    await owner.customer("erin")
    for _ in range(3):
        assert (await attacker.log_in("erin", "wrong-password")).status_code == 400
    refused = await attacker.log_in("erin", PASSWORD)
    assert refused.status_code == 429
    assert "passerelle_session" not in refused.cookies
    assert (await owner.log_in("erin")).status_code == 303  # known address


async def test_sign_ups_are_limited_per_address(
    strict: tuple[ConsoleClient, ConsoleClient],
) -> None:
    """The third sign-up of an hour from one address is refused with 429 and stores
    nothing; another address may still sign up."""
    one, two = strict
    assert (await one.sign_up("s1")).status_code == 200
    assert (await one.sign_up("s2")).status_code == 200
    assert (await one.sign_up("s3")).status_code == 429
    assert await one.store.find_account("s3") is None
    assert (await two.sign_up("s4")).status_code == 200


async def test_an_oversized_form_is_refused(visitor: ConsoleClient) -> None:
    """A form body over the page's bound is answered 413 before it is parsed."""
    token = await visitor.token("/user/create")
    answer = await visitor.http.post(
        "/user/create", data={"csrf_token": token, "login": "x" * 70_000}
    )
    assert answer.status_code == 413


async def test_too_many_fields_are_refused(visitor: ConsoleClient) -> None:
    """A form with more fields than allowed is answered 400, not parsed further."""
    token = await visitor.token("/user/create")
    body = "&".join(f"f{i}=1" for i in range(500)) + f"&csrf_token={token}"
    answer = await visitor.http.post(
        "/user/create",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400


async def test_a_password_change_ends_the_other_sessions(visitor: ConsoleClient) -> None:
    """Changing the console password keeps this session and ends every other one."""
    await visitor.customer("fanny")
    transport = visitor.http._transport
    other = ConsoleClient(
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1"), visitor.store
    )
    assert (await other.log_in("fanny")).status_code == 303
    changed = await visitor.post(
        "/compte/mot-de-passe",
        {"current_password": PASSWORD, "password": "a-new-password-2"},
    )
    assert changed.status_code == 303
    assert (await visitor.get("/compte/mot-de-passe")).status_code == 200
    assert (await other.get("/compte/mot-de-passe")).status_code == 303  # to log in
    wrong = await visitor.post(
        "/compte/mot-de-passe", {"current_password": "nope-nope-nope", "password": "x" * 12}
    )
    assert wrong.status_code == 400
    await other.http.aclose()


async def test_a_reset_link_sets_the_password_once(visitor: ConsoleClient) -> None:
    """A reset e-mail's link sets a new password once and ends every session; an unknown
    address gets the same answer and no e-mail."""
    await visitor.customer("gaby")
    assert (await visitor.post("/user/reset", {"email": "nobody@example.com"})).status_code == 200
    links_before = await visitor.links()
    assert (await visitor.post("/user/reset", {"email": "GABY@example.com"})).status_code == 200
    links = await visitor.links()
    assert len(links) == len(links_before) + 1 and "/user/reset/" in links[-1]
    path = httpx.URL(links[-1]).path
    done = await visitor.post(path, {"password": "brand-new-pass-3"}, page=path)
    assert done.status_code == 303
    again = await visitor.post(path, {"password": "another-pass-4"}, page=path)
    assert again.status_code == 400
    assert (await visitor.log_in("gaby")).status_code == 400
    assert (await visitor.log_in("gaby", "brand-new-pass-3")).status_code == 303


async def test_english_is_one_click_away(visitor: ConsoleClient) -> None:
    """``/lang/en`` switches the pages to English and goes back to a local page only."""
    answer = await visitor.get("/lang/en", params={"next": "/user/login"})
    assert answer.status_code == 303 and answer.headers["location"] == "/user/login"
    assert "Log in" in (await visitor.get("/user/login")).text
    away = await visitor.get("/lang/fr", params={"next": "//evil.example/"})
    assert away.headers["location"] == "/"
