"""Sign-up, activation, log-in, log-out and password pages, over HTTP in-process."""

from __future__ import annotations

import httpx

from passerelle.core.console import token_digest
from passerelle.store.base import Store
from tests.consolekit import PASSWORD, ConsoleClient, console_app
from tests.support import make_settings


async def test_sign_up_activate_and_log_in(visitor: ConsoleClient) -> None:
    """A sign-up queues an activation e-mail; its link activates once, with free credits."""
    answer = await visitor.sign_up("alice")
    assert answer.status_code == 200 and 'id="signup-done"' in answer.text
    assert (await visitor.log_in("alice")).status_code == 400  # not activated yet
    done = await visitor.activate_last()
    assert done.status_code == 200 and 'id="activated"' in done.text
    again = await visitor.activate_last()
    assert again.status_code == 400
    assert (await visitor.log_in("alice")).status_code == 303
    home = await visitor.get("/")
    assert home.status_code == 200 and "10 SMS" in home.text


async def test_taken_login_and_email_are_explained(visitor: ConsoleClient) -> None:
    """A second sign-up with a taken login or e-mail is answered with a clear message."""
    await visitor.sign_up("bob", "bob@example.com")
    taken = await visitor.sign_up("bob", "other@example.com")
    assert taken.status_code == 400 and "déjà pris" in taken.text
    email = await visitor.sign_up("bobby", "BOB@example.com")
    assert email.status_code == 400 and "adresse e-mail" in email.text


async def test_wrong_password_and_logout(visitor: ConsoleClient) -> None:
    """A wrong password opens nothing; logging out ends the session on the server."""
    await visitor.customer("carol")
    cookie = visitor.http.cookies.get("passerelle_session")
    assert cookie
    out = await visitor.post("/user/logout", page="/")
    assert out.status_code == 303
    visitor.http.cookies.set("passerelle_session", cookie)  # replaying the old cookie
    assert (await visitor.get("/compte/mot-de-passe")).status_code == 303
    assert (await visitor.log_in("carol", "not-the-password")).status_code == 400


async def test_post_without_csrf_token_is_refused(visitor: ConsoleClient) -> None:
    """A form posted without its token changes nothing and is answered 403."""
    answer = await visitor.http.post(
        "/user/create", data={"login": "dave", "email": "d@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 403
    assert await visitor.store.find_account("dave") is None


async def test_security_headers(visitor: ConsoleClient) -> None:
    """Pages carry a CSP without inline script, frame-ancestors none, and no caching."""
    answer = await visitor.get("/user/login")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["x-frame-options"] == "DENY"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


async def test_cookies_are_secure_over_https(console_store: Store) -> None:
    """Served over https (directly or behind a proxy that says so), the session cookie is
    Secure, HttpOnly and SameSite=Lax; the store keeps only the token's digest."""
    app, gateway = console_app(console_store, make_settings(signups_per_hour=0))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    http = httpx.AsyncClient(transport=transport, base_url="https://127.0.0.1")
    client = ConsoleClient(http, console_store)
    await client.sign_up("hugo")
    await client.activate_last()
    answer = await client.log_in("hugo")
    cookie = next(v for v in answer.headers.get_list("set-cookie") if "passerelle_session" in v)
    assert "secure" in cookie.lower() and "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    token = http.cookies["passerelle_session"]
    assert await console_store.find_session(token, gateway.now()) is None  # not stored as is
    assert await console_store.find_session(token_digest(token), gateway.now()) is not None
    await http.aclose()
    gateway.close()


async def test_an_operators_login_cannot_be_taken_by_a_customer(visitor: ConsoleClient) -> None:
    """Signing up with an operator's login is refused like a taken login, so that the
    operator is never shadowed by an account of the same name."""
    from passerelle.auth import hash_password
    from passerelle.core.console import NewOperator

    await visitor.store.create_operator(NewOperator("root", "r@example.com", hash_password("x"), 1))
    answer = await visitor.sign_up("root")
    assert answer.status_code == 400 and "déjà pris" in answer.text
    assert await visitor.store.find_account("root") is None


async def test_a_forged_host_never_gets_a_reset_link(visitor: ConsoleClient) -> None:
    """Without PASSERELLE_PUBLIC_URL, a request for another host than a loopback one
    queues no e-mail (400): a forged Host header cannot send a reset link elsewhere."""
    await visitor.customer("ines")
    before = await visitor.links()
    token = await visitor.token("/user/reset")
    answer = await visitor.http.post(
        "/user/reset",
        data={"csrf_token": token, "email": "ines@example.com"},
        headers={"host": "evil.example"},
    )
    assert answer.status_code == 400
    assert await visitor.links() == before
    assert all(link.startswith("http://127.0.0.1/") for link in before)


async def test_public_url_makes_the_links(console_store: Store) -> None:
    """With PASSERELLE_PUBLIC_URL set, e-mail links use it whatever the Host header."""
    settings = make_settings(signups_per_hour=0, public_url="https://sms.example.com/")
    app, gateway = console_app(console_store, settings)
    client = ConsoleClient.of(app, console_store)
    token = await client.token("/user/create")
    await client.http.post(
        "/user/create",
        data={"csrf_token": token, "login": "jo", "email": "jo@example.com",
              "password": PASSWORD},
        headers={"host": "evil.example"},
    )  # fmt: skip
    [link] = await client.links()
    assert link.startswith("https://sms.example.com/user/activate/")
    await client.http.aclose()
    gateway.close()
