"""The API-key pages ("Mon Compte" › "Clés API"): a key is shown once, on the answer to
its creation; revoking works for the account's own keys only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from passerelle.core.keys import key_digest, plausible_key
from passerelle.service import Gateway
from passerelle.service_keys import Keys
from passerelle.store.base import Store
from tests.consolekit import ConsoleClient, console_app
from tests.support import make_settings

NEW_KEY = re.compile(r'<code id="new-key">([^<]+)</code>')


@dataclass
class Pair:
    """Two customers on one console: anne and bruno."""

    anne: ConsoleClient
    bruno: ConsoleClient
    gateway: Gateway
    store: Store


@pytest.fixture
async def pair(console_store: Store) -> AsyncIterator[Pair]:
    """Two logged-in customers (anne, bruno), each with a browser, on one console."""
    app, gateway = console_app(console_store, make_settings(signups_per_hour=0))
    anne = ConsoleClient.of(app, console_store, "127.0.0.1")
    bruno = ConsoleClient.of(app, console_store, "127.0.0.2")
    await anne.customer("anne")
    await bruno.customer("bruno")
    yield Pair(anne, bruno, gateway, console_store)
    await anne.http.aclose()
    await bruno.http.aclose()
    gateway.close()


async def create(client: ConsoleClient, name: str = "") -> str:
    """Create a key on /compte/cles; the key the answer shows."""
    answer = await client.post("/compte/cles", {"name": name})
    assert answer.status_code == 200, answer.text[:500]
    found = NEW_KEY.search(answer.text)
    assert found is not None
    assert 'data-copy="new-key"' in answer.text
    return found.group(1)


async def test_the_menu_links_to_the_keys_page(pair: Pair) -> None:
    """The account menu has "Clés API"; the page lists nothing yet and offers a form."""
    home = await pair.anne.get("/compte/cles")
    assert home.status_code == 200
    assert '<a href="/compte/cles"' in home.text and "Clés API" in home.text
    assert 'name="csrf_token"' in home.text and 'id="new-key"' not in home.text


async def test_a_new_key_is_shown_once_and_works(pair: Pair) -> None:
    """The answer to the creation shows the key; it authenticates (once the gateway option
    is on); the next GET of the page shows its prefix and name, never the key."""
    key = await create(pair.anne, "site web")
    assert plausible_key(key)
    found = await pair.store.find_key(key_digest(key))
    assert found is not None and found[1].login == "anne" and found[0].name == "site web"
    assert (await pair.anne.post("/api-sms")).status_code == 303  # the gateway option on
    _, account = await Keys(pair.gateway).authenticate(key)
    assert account.login == "anne"
    again = await pair.anne.get("/compte/cles")
    assert again.status_code == 200
    assert key not in again.text and 'id="new-key"' not in again.text
    assert key[:12] in again.text and "site web" in again.text


async def test_a_bad_name_is_refused_with_a_sentence(pair: Pair) -> None:
    """A name with control characters is refused (400) and no key is made."""
    answer = await pair.anne.post("/compte/cles", {"name": "a\x01b"})
    assert answer.status_code == 400
    assert 'id="keys-error"' in answer.text and 'id="new-key"' not in answer.text
    account = await pair.store.find_account("anne")
    assert account is not None and await pair.store.list_keys(account.id) == []


async def test_revoke_makes_the_key_unknown(pair: Pair) -> None:
    """Revoking one's key redirects with a notice; the key no longer authenticates and
    the list shows it revoked, without a revoke button."""
    key = await create(pair.anne)
    found = await pair.store.find_key(key_digest(key))
    assert found is not None
    key_id = found[0].id
    answer = await pair.anne.post(f"/compte/cles/{key_id}/revoquer", page="/compte/cles")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/compte/cles?ok=keys.revoked"
    assert await pair.store.find_key(key_digest(key)) is None
    page = await pair.anne.get("/compte/cles?ok=keys.revoked")
    assert "Clé révoquée." in page.text and "révoquée le" in page.text
    assert f'action="/compte/cles/{key_id}/revoquer"' not in page.text
    again = await pair.anne.post(f"/compte/cles/{key_id}/revoquer", page="/compte/cles")
    assert again.status_code == 404


async def test_another_accounts_key_is_not_found_and_unchanged(pair: Pair) -> None:
    """Bruno revoking Anne's key, or a key that does not exist, gets 404; Anne's key
    still works."""
    key = await create(pair.anne)
    found = await pair.store.find_key(key_digest(key))
    assert found is not None
    key_id = found[0].id
    for path in (f"/compte/cles/{key_id}/revoquer", "/compte/cles/999/revoquer",
                 "/compte/cles/abc/revoquer"):  # fmt: skip
        answer = await pair.bruno.post(path, page="/compte/cles")
        assert answer.status_code == 404, path
    still = await pair.store.find_key(key_digest(key))
    assert still is not None and still[0].active
    bruno_page = await pair.bruno.get("/compte/cles")
    assert key[:12] not in bruno_page.text
