"""The operator pages: accounts, credits, connectors and routes, traffic, and who may
open them, over HTTP in-process."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from passerelle.console.pages import PAGES
from passerelle.console.web import Access
from passerelle.core.message import SendRequest
from passerelle.core.values import Connector, NewAccount
from passerelle.service import Gateway
from passerelle.service_console import Console
from passerelle.store.base import Store
from tests.consolekit import PASSWORD, ConsoleClient
from tests.support import make_settings

OPERATOR_PAGES = [page for page in PAGES if page.access is Access.OPERATOR]
SAMPLE = {"{login}": "acme", "{name}": "orange", "{route_id}": "1"}


@pytest.fixture
async def gateway(console_store: Store) -> AsyncIterator[Gateway]:
    """A gateway over the console's store (to set up accounts and messages)."""
    gateway = Gateway(console_store, make_settings())
    yield gateway
    gateway.close()


@pytest.fixture
async def operator(visitor: ConsoleClient, gateway: Gateway) -> ConsoleClient:
    """The visitor, logged in as the operator ``root``."""
    await Console(gateway).create_operator("root", "root@example.com", PASSWORD)
    answer = await visitor.log_in("root")
    assert answer.status_code == 303, answer.text[:500]
    return visitor


async def make_account(gateway: Gateway, login: str, credits: int = 0) -> None:
    """An activated account with the gateway option on."""
    await gateway.create_account(login, f"{login}@example.com", "api-pass-1", credits)


def sample_path(path: str) -> str:
    """A page's path with its parameters filled in."""
    for name, value in SAMPLE.items():
        path = path.replace(name, value)
    return path


async def test_operator_logs_in_and_lands_on_accounts(
    visitor: ConsoleClient, gateway: Gateway
) -> None:
    """An operator logs in with the customers' form and lands on the accounts page."""
    await Console(gateway).create_operator("root", "root@example.com", PASSWORD)
    await make_account(gateway, "acme", 5)
    answer = await visitor.log_in("root")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/operateur/comptes"
    page = await visitor.get("/operateur/comptes")
    assert page.status_code == 200
    assert 'href="/operateur/comptes/acme"' in page.text and "5 SMS" in page.text


async def test_search_and_paging(operator: ConsoleClient, gateway: Gateway) -> None:
    """``q`` keeps the accounts whose login or e-mail contains it; pages of 50."""
    await make_account(gateway, "alpha")
    await make_account(gateway, "beta")
    found = await operator.get("/operateur/comptes", params={"q": "ALP"})
    assert "/operateur/comptes/alpha" in found.text
    assert "/operateur/comptes/beta" not in found.text
    none = await operator.get("/operateur/comptes", params={"q": "zzz"})
    assert 'id="no-accounts"' in none.text
    for n in range(55):
        await operator.store.create_account(
            NewAccount(f"bulk{n:02d}", f"b{n}@example.com", "!", "s" * 64, 0.0)
        )
    first = await operator.get("/operateur/comptes", params={"q": "bulk"})
    assert "bulk49" in first.text and "bulk50" not in first.text and "page=2" in first.text
    second = await operator.get("/operateur/comptes", params={"q": "bulk", "page": "2"})
    assert "bulk54" in second.text and "bulk49" not in second.text


async def test_suspend_and_gateway_toggle(operator: ConsoleClient, gateway: Gateway) -> None:
    """The suspend and gateway forms change the stored account, back and forth."""
    await make_account(gateway, "acme")
    path = "/operateur/comptes/acme"
    for action, field, value in [
        ("suspend", "suspended", True),
        ("unsuspend", "suspended", False),
        ("gateway_off", "gateway_enabled", False),
        ("gateway_on", "gateway_enabled", True),
    ]:
        answer = await operator.post(path, {"action": action})
        assert answer.status_code == 303, answer.text[:500]
        stored = await operator.store.find_account("acme")
        assert stored is not None and getattr(stored, field) is value
    unknown = await operator.post(path, {"action": "delete"})
    assert unknown.status_code == 400


async def test_credit_with_reason_is_in_the_ledger(
    operator: ConsoleClient, gateway: Gateway
) -> None:
    """A credit is recorded with the actor operator:<login> and its reason."""
    await make_account(gateway, "acme", 10)
    path = "/operateur/comptes/acme"
    answer = await operator.post(path, {"action": "credit", "amount": "25", "reason": "invoice 7"})
    assert answer.status_code == 303
    view = await gateway.show_account("acme")
    assert view.balance == 35 == view.ledger_sum
    newest = view.ledger[0]
    assert (newest.delta, newest.actor, newest.reason) == (25, "operator:root", "invoice 7")
    page = await operator.get(answer.headers["location"])
    assert "invoice 7" in page.text and "operator:root" in page.text


async def test_negative_credit_stops_at_zero(operator: ConsoleClient, gateway: Gateway) -> None:
    """Removing more credits than the balance removes the balance, no more."""
    await make_account(gateway, "acme", 10)
    path = "/operateur/comptes/acme"
    answer = await operator.post(path, {"action": "credit", "amount": "-50", "reason": "refund"})
    assert answer.status_code == 303 and "applied=-10" in answer.headers["location"]
    view = await gateway.show_account("acme")
    assert view.balance == 0 == view.ledger_sum
    assert view.ledger[0].delta == -10 and view.ledger[0].actor == "operator:root"


async def test_credit_needs_a_reason_and_a_number(
    operator: ConsoleClient, gateway: Gateway
) -> None:
    """A credit without a reason, or with an amount that is not a number, is refused."""
    await make_account(gateway, "acme", 10)
    path = "/operateur/comptes/acme"
    missing = await operator.post(path, {"action": "credit", "amount": "5", "reason": ""})
    assert missing.status_code == 400 and "motif" in missing.text
    for amount in ("abc", "0", "1.5", "99999999999"):
        bad = await operator.post(path, {"action": "credit", "amount": amount, "reason": "x"})
        assert bad.status_code == 400, amount
    view = await gateway.show_account("acme")
    assert view.balance == 10 and len(view.ledger) == 1  # the creation's grant only


async def test_unknown_account_is_404(operator: ConsoleClient) -> None:
    """An account that does not exist is answered 404, on GET and on POST."""
    assert (await operator.get("/operateur/comptes/nobody")).status_code == 404
    posted = await operator.post(
        "/operateur/comptes/nobody", {"action": "suspend"}, page="/operateur/comptes"
    )
    assert posted.status_code == 404


CONNECTOR = {
    "name": "orange",
    "host": "smsc.example.net",
    "port": "2775",
    "system_id": "passerelle",
    "password": "secret",
    "bind_mode": "trx",
    "window": "20",
    "throughput": "50",
    "enquire_link_s": "30",
    "id_mode": "as-is",
    "coding": "gsm",
    "enabled": "1",
}


async def test_connectors_and_routes(operator: ConsoleClient, gateway: Gateway) -> None:
    """Connectors are added, replaced and removed; routes added and removed; a connector
    named by a route is removed only with its routes (force)."""
    page = "/operateur/connecteurs"
    added = await operator.post(page, CONNECTOR)
    assert added.status_code == 303, added.text[:800]
    replaced = await operator.post(page, {**CONNECTOR, "window": "30", "password": ""})
    assert replaced.status_code == 303
    [stored] = await gateway.connectors()
    assert (stored.window, stored.password, stored.throughput) == (30, "secret", 50.0)
    shown = await operator.get(page)
    assert 'id="connector-orange"' in shown.text and "secret" not in shown.text
    assert 'id="window-note"' in shown.text
    bad = await operator.post(page, {**CONNECTOR, "name": "sfr", "port": "99999"})
    assert bad.status_code == 400 and "port" in bad.text
    assert [c.name for c in await gateway.connectors()] == ["orange"]

    route = await operator.post("/operateur/routes", {"prefix": "336", "connectors": "orange"})
    assert route.status_code == 303
    [row] = await gateway.routes()
    assert (row.route.prefix, row.route.connectors, row.route.position) == ("336", ("orange",), 100)
    unknown = await operator.post("/operateur/routes", {"prefix": "", "connectors": "nope"})
    assert unknown.status_code == 400 and "nope" in unknown.text

    remove = f"{page}/orange/supprimer"
    in_use = await operator.post(remove, page=page)
    assert in_use.status_code == 400 and len(await gateway.connectors()) == 1
    gone = await operator.post(remove, {"force": "1"}, page=page)
    assert gone.status_code == 303
    assert await gateway.connectors() == [] and await gateway.routes() == []
    missing = await operator.post(remove, page=page)
    assert missing.status_code == 404

    await operator.post(page, CONNECTOR)
    await operator.post("/operateur/routes", {"prefix": "default", "connectors": "orange"})
    [row] = await gateway.routes()
    assert row.route.prefix == ""
    dropped = await operator.post(f"/operateur/routes/{row.id}/supprimer", page=page)
    assert dropped.status_code == 303 and await gateway.routes() == []
    again = await operator.post(f"/operateur/routes/{row.id}/supprimer", page=page)
    assert again.status_code == 404
    junk = await operator.post("/operateur/routes/abc/supprimer", page=page)
    assert junk.status_code == 404


async def test_traffic_counts_accepted_messages(operator: ConsoleClient, gateway: Gateway) -> None:
    """The traffic page counts the recipients accepted in the last hour, and the queue."""
    await make_account(gateway, "acme", 10)
    account = await operator.store.find_account("acme")
    assert account is not None
    request = SendRequest(dest="33600000001,33600000002", sender="Shop", text="hello")
    await gateway.send(account, request)
    await gateway.send(account, SendRequest(dest="33600000003", sender="Shop", text="hi"))
    page = await operator.get("/operateur/trafic")
    assert page.status_code == 200
    assert re.search(r'id="queue-depth">3<', page.text)
    assert re.search(r'id="traffic-total">3<', page.text)
    assert re.search(r'id="callback-backlog">0<', page.text)
    assert '<meter min="0" max="3" value="3">' in page.text


async def test_customer_gets_403_on_every_operator_page(visitor: ConsoleClient) -> None:
    """A customer's session is refused every operator page (GET and POST)."""
    await visitor.customer("carol")
    token = await visitor.token("/")
    assert OPERATOR_PAGES
    for page in OPERATOR_PAGES:
        path = sample_path(page.path)
        if "GET" in page.methods:
            assert (await visitor.get(path)).status_code == 403, path
        if "POST" in page.methods:
            answer = await visitor.http.post(path, data={"csrf_token": token, "action": "x"})
            assert answer.status_code == 403, path


async def test_anonymous_is_sent_to_login(visitor: ConsoleClient) -> None:
    """An anonymous GET of an operator page is redirected to the log-in form."""
    for page in OPERATOR_PAGES:
        if "GET" not in page.methods:
            continue
        answer = await visitor.get(sample_path(page.path))
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/user/login?next=")


async def test_pages_render_in_english(operator: ConsoleClient, gateway: Gateway) -> None:
    """Every operator page renders in English too, without a key left untranslated."""
    await make_account(gateway, "acme")
    operator.http.cookies.set("passerelle_lang", "en")
    for path in ("/operateur/comptes", "/operateur/comptes/acme", "/operateur/connecteurs"):
        page = await operator.get(path)
        assert page.status_code == 200 and "op." not in page.text, path
    traffic = await operator.get("/operateur/trafic")
    assert "Last hour" in traffic.text and "op." not in traffic.text


async def test_connectors_page_shows_window_use(operator: ConsoleClient, gateway: Gateway) -> None:
    """A bound connector shows the window use its owner recorded: "3 / 10"."""
    await gateway.add_connector(Connector("c1", "smsc.example.net", 2775, "passerelle", "pw"))
    await gateway.store.claim_connectors(
        ["c1"], "host:1:ab", 30.0, {"c1": True}, use={"c1": (3, 10)}
    )
    shown = await operator.get("/operateur/connecteurs")
    assert shown.status_code == 200
    row = shown.text.split('id="connector-c1"')[1].split("</tr>")[0]
    assert "3 / 10" in row and "host:1:ab" in row
