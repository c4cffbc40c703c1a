"""Access, isolation and CSRF tests generated from the console's route table: a page
added to `console.pages.PAGES` is covered without anyone writing a test for it.

- every page naming an object of an account (`Page.owns`): account B gets 404 for
  account A's object, by GET and by POST, and A's object is unchanged (A itself gets
  its page: the test can fail);
- every customer page without an id: B's page shows nothing of A's;
- every operator page: a customer gets 403, an anonymous visitor is sent to log in;
- every page taking a POST: without its `csrf_token`, or with another session's, 403.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from passerelle.auth import hash_password
from passerelle.console.pages import PAGES
from passerelle.console.web import Access, Owns, Page
from passerelle.core.console import NewContact, NewOperator
from passerelle.core.states import RecipientState
from passerelle.core.values import NewMessage
from passerelle.service_keys import Keys
from passerelle.store.base import Store
from tests.consolekit import ConsoleClient, console_app
from tests.support import make_settings

PARAM = re.compile(r"\{(\w+)\}")
OWNED = [p for p in PAGES if p.owns is not None]
CUSTOMER_LISTS = [
    p
    for p in PAGES
    if p.access is Access.CUSTOMER and not PARAM.search(p.path) and "GET" in p.methods
]
OPERATOR = [p for p in PAGES if p.access is Access.OPERATOR]
POSTS = [p for p in PAGES if "POST" in p.methods]
# what B posts to A's objects: every field a page could act on
ATTACK = {
    "name": "pwned",
    "number": "33688888888",
    "contact_ids": "1",
    "action": "suspend",
    "amount": "5",
    "reason": "x",
    "msg": "x",
    "dest": "33688888888",
    "origine": "X",
    "callback_url": "https://evil.example/",
    "api_password": "evil-password-1",
}
A_NAME = "Zébulon-Anne"
A_GROUP = "groupe-anne"
A_KEY = "clé-anne"


def ids(page: Page) -> str:
    return f"{'+'.join(page.methods)} {page.path}"


@dataclass
class World:
    """Two customers (A: anne, B: bruno) and an operator, each with a browser, and A's
    objects: a message, a callback event, a contact, a group, an API key."""

    store: Store
    anne: ConsoleClient
    bruno: ConsoleClient
    operator: ConsoleClient
    anonymous: ConsoleClient
    objects: dict[str, str]

    def path(self, page: Page) -> str:
        """The page's path naming A's objects (and harmless values elsewhere)."""
        return PARAM.sub(lambda m: self.objects.get(m.group(1), "x"), page.path)

    async def snapshot(self) -> tuple[object, ...]:
        """A's objects as stored now."""
        account = await self.store.find_account("anne")
        assert account is not None
        o = self.objects
        return (
            account,
            await self.store.find_contact(account.id, int(o["contact_id"])),
            await self.store.find_group(account.id, int(o["group_id"])),
            await self.store.states_of(account.id, [int(o["msgid"])]),
            await self.store.find_callback(int(o["event_id"])),
            await self.store.list_contacts(account.id, None, "", 100, 0),
            await self.store.list_keys(account.id),
        )


async def a_callback_event(store: Store, account_id: int, at: float) -> tuple[int, int]:
    """A message of the account asking for callbacks, delivered: (msgid, event id)."""
    msgid = await store.accept_message(
        NewMessage(account_id, at, "Anne", 5, "hello", False, True, ("33611223344",), 1)
    )
    for i, due in enumerate(await store.claim_due(at + 1, 30.0, 100)):
        await store.mark_submitted(due.id, "op", f"anne-{i}", at + 2)
        await store.record_receipt(
            "op", f"anne-{i}", RecipientState.DELIVERED, "DELIVRD", None, at + 3
        )
    [event] = await store.list_callbacks("anne", False, 10)
    return msgid, event.id


@pytest.fixture
async def world(console_store: Store) -> AsyncIterator[World]:
    """The two customers, the operator and A's objects, on one console."""
    settings = make_settings(signups_per_hour=0, login_failures_per_address=0)
    app, gateway = console_app(console_store, settings)
    clients = [ConsoleClient.of(app, console_store) for _ in range(4)]
    anne, bruno, operator, anonymous = clients
    await anne.customer("anne")
    await bruno.customer("bruno")
    await console_store.create_operator(
        NewOperator("ops", "ops@example.com", hash_password("operator-pass-1"), 1.0)
    )
    assert (await operator.log_in("ops", "operator-pass-1")).status_code == 303
    account = await console_store.find_account("anne")
    assert account is not None
    now = gateway.now()
    msgid, event_id = await a_callback_event(console_store, account.id, now)
    contact_id = await console_store.add_contact(account.id, NewContact(A_NAME, "33677665544"), now)
    group_id = await console_store.create_group(account.id, A_GROUP, now)
    await console_store.set_members(account.id, group_id, [contact_id], True)
    key = await Keys(gateway).create("anne", A_KEY)
    objects = {
        "msgid": str(msgid),
        "event_id": str(event_id),
        "contact_id": str(contact_id),
        "group_id": str(group_id),
        "key_id": str(key.stored.id),
        "key_prefix": key.stored.prefix,
        "login": "anne",
        "lang": "en",
    }
    yield World(console_store, anne, bruno, operator, anonymous, objects)
    for client in clients:
        await client.http.aclose()
    gateway.close()


def test_the_table_has_pages_of_every_kind() -> None:
    """The generated tests below have pages to walk (an empty table would pass them all)."""
    assert POSTS and CUSTOMER_LISTS
    paths = {p.path for p in PAGES}
    assert {"/user/create", "/user/login", "/user/logout"} <= paths
    assert len(paths) == len(PAGES), "a path is in the table twice"


@pytest.mark.parametrize("page", OWNED, ids=ids)
async def test_another_accounts_object_is_not_found(world: World, page: Page) -> None:
    """Account B naming account A's object gets 404 by GET and POST; A's object is unchanged."""
    path = world.path(page)
    if "GET" in page.methods:
        assert (await world.anne.get(path)).status_code == 200  # the page exists for A
    before = await world.snapshot()
    if "GET" in page.methods:
        answer = await world.bruno.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
    if "POST" in page.methods:
        answer = await world.bruno.post(path, ATTACK, page="/")
        assert answer.status_code == 404, (path, answer.status_code)
    assert await world.snapshot() == before


@pytest.mark.parametrize("page", CUSTOMER_LISTS, ids=ids)
async def test_customer_pages_show_nothing_of_another_account(world: World, page: Page) -> None:
    """B's own pages never show A's message, callback, contact, group or API key."""
    answer = await world.bruno.get(world.path(page))
    assert answer.status_code in (200, 303), answer.status_code
    text = answer.text
    o = world.objects
    shown = (o["msgid"], A_NAME, A_GROUP, A_KEY, o["key_prefix"], "33677665544", "33611223344")
    for secret in shown:
        assert secret not in text, (page.path, secret)


@pytest.mark.parametrize("page", OPERATOR, ids=ids)
async def test_operator_pages_refuse_customers(world: World, page: Page) -> None:
    """A customer gets 403 on every operator page; an anonymous GET is sent to log in."""
    path = world.path(page)
    before = await world.snapshot()
    if "GET" in page.methods:
        assert (await world.bruno.get(path)).status_code == 403
        anonymous = await world.anonymous.get(path)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/user/login")
    if "POST" in page.methods:
        assert (await world.bruno.post(path, ATTACK, page="/")).status_code == 403
    assert await world.snapshot() == before


@pytest.mark.parametrize("page", POSTS, ids=ids)
async def test_posts_without_the_csrf_token_are_refused(world: World, page: Page) -> None:
    """A POST without `csrf_token`, or with another session's, is refused with 403 and
    changes nothing."""
    client = world.operator if page.access is Access.OPERATOR else world.anne
    if page.access is Access.PUBLIC:
        client = world.anonymous
    path = world.path(page)
    before = await world.snapshot()
    missing = await client.http.post(path, data=ATTACK)
    assert missing.status_code == 403, (path, missing.status_code)
    other = await world.bruno.token("/")
    wrong = await client.http.post(path, data={**ATTACK, "csrf_token": other})
    assert wrong.status_code == 403, (path, wrong.status_code)
    assert await world.snapshot() == before


async def test_operators_get_no_customer_page(world: World) -> None:
    """An operator's session opens no customer page (403): it has no account there."""
    page = next(p for p in CUSTOMER_LISTS)
    assert (await world.operator.get(world.path(page))).status_code == 403


def test_owned_pages_name_their_object_in_the_path() -> None:
    """A page that declares an owned object has the parameter its kind uses."""
    names = {Owns.MESSAGE: "msgid", Owns.CONTACT: "contact_id", Owns.GROUP: "group_id",
             Owns.CALLBACK: "event_id", Owns.KEY: "key_id"}  # fmt: skip
    for page in OWNED:
        assert page.owns is not None
        assert "{" + names[page.owns] + "}" in page.path, page.path
