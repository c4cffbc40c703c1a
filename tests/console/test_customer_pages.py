"""The customer pages: API integration, settings, sending, history, live states, credits
and callbacks, over HTTP in-process."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from passerelle import service_history as history
from passerelle.auth import verify_password
from passerelle.console import pages_history
from passerelle.console.i18n import TEXTS
from passerelle.core.console import MessageQuery
from passerelle.core.states import RecipientState
from passerelle.core.values import Account, CallbackState, NewMessage, RecipientStatus
from passerelle.service import Gateway
from passerelle.store.base import Store
from tests.consolekit import ConsoleClient, console_app, console_of
from tests.support import make_settings

PUBLIC_URL = "https://93.184.215.14/dlr"  # a public address: no DNS, no warning
API_PASSWORD = "api-pass-1234"
MSGID_PATH = re.compile(r"^/sms/(\d{9})")


@dataclass
class Pair:
    """Two customers on one console: anne and bruno."""

    anne: ConsoleClient
    bruno: ConsoleClient
    gateway: Gateway


@pytest.fixture
async def pair(console_store: Store) -> AsyncIterator[Pair]:
    """Two logged-in customers (anne, bruno), each with a browser, on one console."""
    settings = make_settings(signups_per_hour=0)
    app, gateway = console_app(console_store, settings)
    anne = ConsoleClient.of(app, console_store, "127.0.0.1")
    bruno = ConsoleClient.of(app, console_store, "127.0.0.2")
    await anne.customer("anne")
    await bruno.customer("bruno")
    yield Pair(anne, bruno, gateway)
    await anne.http.aclose()
    await bruno.http.aclose()
    gateway.close()


def slots_of(client: ConsoleClient) -> history.LiveSlots:
    """The live-stream slots of the console `client` talks to."""
    return console_of(client).live


async def account_of(store: Store, login: str) -> Account:
    """The stored account."""
    account = await store.find_account(login)
    assert account is not None
    return account


async def send(client: ConsoleClient, dest: str, **fields: str) -> int:
    """Send from the page; the new msgid."""
    data = {"dest": dest, "msg": "Bonjour", "origine": "Shop", **fields}
    answer = await client.post("/sms/envoyer", data)
    assert answer.status_code == 303, answer.text[:500]
    found = MSGID_PATH.match(answer.headers["location"])
    assert found is not None
    return int(found.group(1))


async def deliver(store: Store, state: RecipientState, stat: str) -> None:
    """Submit every queued recipient and record a final receipt for each."""
    now = store.clock()
    for i, due in enumerate(await store.claim_due(now + 1, 30.0, 100)):
        await store.mark_submitted(due.id, "op", f"r{due.id}-{i}", now + 2)
        await store.record_receipt("op", f"r{due.id}-{i}", state, stat, None, now + 3)


async def first_event(client: ConsoleClient, ids: str) -> tuple[dict[str, str], list[str]]:
    """The headers and the events (``event`` name and ``data`` lines) of a live stream."""
    async with client.http.stream("GET", f"/sms/live?ids={ids}") as answer:
        assert answer.status_code == 200
        body = "".join([chunk async for chunk in answer.aiter_text()])
    return dict(answer.headers), [block for block in body.split("\n\n") if "data:" in block]


async def test_start_integration_shows_the_examples(visitor: ConsoleClient) -> None:
    """Starting the integration turns the option on; the examples carry the login and API URL."""
    await visitor.customer("alice")
    before = await visitor.get("/api-sms")
    assert "Commencer l&#39;intégration" in before.text and "example-curl" not in before.text
    assert (await visitor.post("/api-sms")).status_code == 303
    assert (await account_of(visitor.store, "alice")).gateway_enabled
    page = await visitor.get("/api-sms")
    assert 'id="example-curl"' in page.text and 'id="example-php"' in page.text
    assert 'data-copy="example-curl"' in page.text and 'data-copy="example-php"' in page.text
    assert "http://127.0.0.1/client/api/?action=envoi&amp;login=alice" in page.text
    assert "VOTRE_MOT_DE_PASSE_API" in page.text and 'id="api-no-password"' in page.text


async def test_settings_save_the_callback_and_the_api_password(visitor: ConsoleClient) -> None:
    """Settings store the callback URL, method and an API password the API verifies."""
    await visitor.customer("alice")
    data = {"callback_url": PUBLIC_URL, "callback_method": "GET", "api_password": API_PASSWORD}
    answer = await visitor.post("/compte/parametres", data)
    assert answer.status_code == 303 and "ok=settings.saved" in answer.headers["location"]
    account = await account_of(visitor.store, "alice")
    assert (account.callback_url, account.callback_method) == (PUBLIC_URL, "GET")
    assert verify_password(account.api_password_hash, API_PASSWORD)
    assert 'id="api-no-password"' not in (await visitor.get("/api-sms")).text
    kept = {"callback_url": PUBLIC_URL, "callback_method": "POST", "api_password": ""}
    assert (await visitor.post("/compte/parametres", kept)).status_code == 303
    after = await account_of(visitor.store, "alice")
    assert after.api_password_hash == account.api_password_hash  # empty: unchanged


async def test_bad_settings_change_nothing(visitor: ConsoleClient) -> None:
    """A bad URL or a short API password is answered 400 with the reason; nothing changes."""
    await visitor.customer("alice")
    before = await account_of(visitor.store, "alice")
    bad_url = {"callback_url": "ftp://x", "callback_method": "POST", "api_password": API_PASSWORD}
    answer = await visitor.post("/compte/parametres", bad_url)
    assert answer.status_code == 400 and 'id="settings-error"' in answer.text
    assert 'value="ftp://x"' in answer.text
    short = {"callback_url": PUBLIC_URL, "callback_method": "POST", "api_password": "abc"}
    assert (await visitor.post("/compte/parametres", short)).status_code == 400
    assert await account_of(visitor.store, "alice") == before


async def test_a_private_callback_url_is_saved_with_a_warning(visitor: ConsoleClient) -> None:
    """A loopback callback URL is saved, with a warning that callbacks will be refused."""
    await visitor.customer("alice")
    data = {"callback_url": "http://127.0.0.1:9/cb", "callback_method": "POST"}
    assert (await visitor.post("/compte/parametres", data)).status_code == 303
    page = await visitor.get("/compte/parametres")
    assert 'id="callback-warning"' in page.text and "127.0.0.1" in page.text


async def test_secret_rotation(visitor: ConsoleClient) -> None:
    """A new signing secret replaces the old one and is shown once, on the answer to the
    rotation; the settings page shows only its last four characters."""
    await visitor.customer("alice")
    old = (await account_of(visitor.store, "alice")).callback_secret
    page = (await visitor.get("/compte/parametres")).text
    assert old not in page and f"…{old[-4:]}" in page
    answer = await visitor.post("/compte/parametres/secret", page="/compte/parametres")
    assert answer.status_code == 200
    new = (await account_of(visitor.store, "alice")).callback_secret
    assert new != old and new in answer.text
    assert new not in (await visitor.get("/compte/parametres")).text


async def test_send_from_the_page(visitor: ConsoleClient) -> None:
    """Sending stores the message and debits one credit; its page shows it "en cours"."""
    await visitor.customer("alice")
    msgid = await send(visitor, "33612345678", callback="1", type="1")
    account = await account_of(visitor.store, "alice")
    assert await visitor.store.balance(account.id) == 9
    page = await visitor.get(f"/sms/{msgid}")
    assert page.status_code == 200 and "Bonjour" in page.text and "en cours" in page.text
    assert 'data-dest="33612345678"' in page.text and "state state-0" in page.text
    assert 'src="/static/live.js"' in page.text
    credits = await visitor.get("/credits")
    assert "Solde : 9 SMS" in credits.text and "-1" in credits.text and "+10" in credits.text


async def test_refused_sends_are_explained(visitor: ConsoleClient) -> None:
    """A bad number shows its label and code and stores nothing; no credit shows the balance."""
    await visitor.customer("alice")
    data = {"dest": "3361234abc", "msg": "Bonjour", "origine": "Shop"}
    answer = await visitor.post("/sms/envoyer", data)
    assert answer.status_code == 400
    assert "Le numéro du destinataire est invalide" in answer.text and "code 05" in answer.text
    account = await account_of(visitor.store, "alice")
    assert await visitor.store.count_messages(account.id) == 0
    many = ",".join(f"336123456{i:02d}" for i in range(11))
    poor = await visitor.post("/sms/envoyer", {**data, "dest": many})
    assert poor.status_code == 400 and "code 02" in poor.text and "Solde : 10 SMS" in poor.text
    assert await visitor.store.balance(account.id) == 10


async def test_history_filters(visitor: ConsoleClient) -> None:
    """The history filters by state group, number and dates, and marks each state cell."""
    await visitor.customer("alice")
    delivered = await send(visitor, "33611111111")
    await deliver(visitor.store, RecipientState.DELIVERED, "DELIVRD")
    waiting = await send(visitor, "33622222222")
    page = await visitor.get("/sms")
    assert f'data-msgid="{delivered}"' in page.text and f'data-msgid="{waiting}"' in page.text
    assert "state state-2" in page.text and "state state-0" in page.text

    async def shown(query: str) -> set[int]:
        answer = await visitor.get("/sms?" + query)
        assert answer.status_code == 200
        return {m for m in (delivered, waiting) if f'<tr data-msgid="{m}"' in answer.text}

    assert await shown("etat=recu") == {delivered}
    assert await shown("etat=en_cours") == {waiting}
    assert await shown("etat=non_recu") == set()
    assert await shown("numero=2222") == {waiting}
    today = dt.datetime.now(dt.UTC).date()
    assert await shown(f"depuis={today}&jusqu_a={today}") == {delivered, waiting}
    assert await shown(f"jusqu_a={today - dt.timedelta(days=1)}") == set()
    assert (await visitor.get("/sms?depuis=hier")).status_code == 400


async def test_another_accounts_message_is_not_found(pair: Pair) -> None:
    """A message of another account, or a malformed msgid, is a 404."""
    msgid = await send(pair.anne, "33612345678")
    assert (await pair.anne.get(f"/sms/{msgid}")).status_code == 200
    assert (await pair.bruno.get(f"/sms/{msgid}")).status_code == 404
    assert (await pair.anne.get("/sms/12x")).status_code == 404
    assert (await pair.anne.get("/sms/1234567890123456789")).status_code == 404


async def test_live_stream_sends_states_and_balance(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live stream sends the account's messages and balance, ignoring other ids."""
    monkeypatch.setattr(pages_history, "LIVE_SECONDS", 0.0)  # one round, then the end
    mine = await send(pair.anne, "33612345678")
    theirs = await send(pair.bruno, "33687654321")
    headers, events = await first_event(pair.anne, f"{mine},{theirs},abc")
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-store"
    first = json.loads(events[0].removeprefix("data: "))
    assert first == {
        "msgid": mine,
        "recipients": [{"dest": "33612345678", "state": 0, "label": "en cours"}],
    }
    assert events[1].startswith("event: balance\n")
    balance = json.loads(events[1].split("data: ", 1)[1])
    assert balance == {"credits": 9, "text": "Solde : 9 SMS"}
    assert len(events) == 2  # nothing of bruno's message
    assert slots_of(pair.anne).active == 0  # the ended stream gave its slot back


async def test_live_streams_are_bounded(
    visitor: ConsoleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond the process's live streams, or an account's, a new one is answered 503."""
    await visitor.customer("alice")
    slots = slots_of(visitor)
    assert slots.take("alice") and slots.take("alice") and slots.take("alice")
    assert slots.take("alice")  # four tabs of alice's
    assert (await visitor.get("/sms/live?ids=123456789")).status_code == 503
    slots.give("alice")
    monkeypatch.setattr(slots, "limit", slots.active)  # the process is full
    assert (await visitor.get("/sms/live?ids=123456789")).status_code == 503


def status(dest: str, state: RecipientState) -> RecipientStatus:
    """A recipient's status without stat or time."""
    return RecipientStatus(dest, state, None, None)


def test_live_tracker_sends_changes_only() -> None:
    """The tracker sends all first, then changes only, and drops finished messages."""
    tracker = history.LiveTracker([1, 2, 3], shown=10)
    first = {1: (status("a", RecipientState.QUEUED),), 2: (status("b", RecipientState.QUEUED),)}
    assert [m for m, _ in tracker.changes(first)] == [1, 2]
    assert tracker.watching == [1, 2]  # 3 is not the account's
    assert tracker.changes(first) == []
    later = {**first, 2: (status("b", RecipientState.DELIVERED),)}
    assert [m for m, _ in tracker.changes(later)] == [2]
    assert tracker.watching == [1]
    assert tracker.balance_changed(10) and not tracker.balance_changed(10)
    many = ",".join(str(100_000_000 + i) for i in range(150))
    assert len(history.parse_ids(many + ",x,-1,1e5")) == history.MAX_LIVE_IDS
    assert history.parse_ids("5,5,,x,7") == [5, 7]


async def test_callback_log_and_replay(pair: Pair) -> None:
    """The callback log lists the account's events; replaying another account's is a 404."""
    data = {"callback_url": PUBLIC_URL, "callback_method": "POST"}
    assert (await pair.anne.post("/compte/parametres", data)).status_code == 303
    msgid = await send(pair.anne, "33612345678", callback="1")
    await deliver(pair.anne.store, RecipientState.DELIVERED, "DELIVRD")
    [event] = await pair.gateway.callbacks("anne", False, 10)
    log = await pair.anne.get("/callbacks")
    assert f'data-event="{event.id}"' in log.text and str(msgid) in log.text
    assert f'data-event="{event.id}"' not in (await pair.anne.get("/callbacks?echecs=1")).text
    assert str(msgid) not in (await pair.bruno.get("/callbacks")).text
    path = f"/callbacks/{event.id}/replay"
    assert (await pair.bruno.post(path, page="/callbacks")).status_code == 404
    assert (await pair.bruno.post("/callbacks/99999/replay", page="/")).status_code == 404
    answer = await pair.anne.post(path, page="/callbacks")
    assert answer.status_code == 303 and "ok=callback.replayed" in answer.headers["location"]


async def test_find_message_among_many(visitor: ConsoleClient) -> None:
    """One message is found by msgid among many to the same number, with its recipients;
    another account finds nothing."""
    await visitor.customer("alice")
    store = visitor.store
    account = await account_of(store, "alice")
    await store.adjust_credits(
        "alice", 500, kind="grant", actor="test", reason="test", at=store.clock()
    )
    now = store.clock()
    ids = [
        await store.accept_message(
            NewMessage(account.id, now + i, "S", 5, f"t{i}", False, False, ("33612345678",), 1)
        )
        for i in range(205)
    ]
    found = await store.find_message(account.id, ids[0])
    assert found is not None and (found.msgid, found.text) == (ids[0], "t0")
    assert [r.dest for r in found.recipients] == ["33612345678"]
    assert await store.find_message(account.id + 1, ids[0]) is None
    rows = await store.search_messages(account.id, MessageQuery(limit=1))
    assert rows[0].msgid == ids[-1]


def test_every_text_of_the_customer_pages_is_translated() -> None:
    """Every key the customer templates and pages name has its French and English text."""
    folder = Path(pages_history.__file__).parent
    keys = set()
    for template in (folder / "templates").glob("customer_*.html"):
        keys |= set(re.findall(r"t\('([a-z0-9_.]+)'\)", template.read_text()))
    keys |= {f"state.{group}" for group in history.GROUPS}
    keys |= {f"send.sendertype.{code}" for code in "015"} | {"send.type.0", "send.type.1"}
    keys |= {f"callback.state.{state.name.lower()}" for state in CallbackState}
    keys |= {"history.bad_filter", "live.busy", "api.started", "settings.saved"}
    keys |= {"settings.rotated", "send.done", "callback.replayed"}
    missing = sorted(k for k in keys if k not in TEXTS or not all(TEXTS[k]))
    assert not missing and len(keys) > 60


async def read_until_closed(
    client: ConsoleClient, ids: str, act: Callable[[], Awaitable[None]]
) -> str:
    """Open the live stream, run `act` a moment later, and read until the server closes
    the stream (within 10 s, else the test fails)."""

    async def consume() -> str:
        async with client.http.stream("GET", f"/sms/live?ids={ids}") as answer:
            assert answer.status_code == 200
            return "".join([chunk async for chunk in answer.aiter_text()])

    reading = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    await act()
    return await asyncio.wait_for(reading, 10)


async def test_a_live_stream_ends_with_its_session(
    visitor: ConsoleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logging out ends the live streams of that session (the session is read again
    while streaming), instead of letting them run their ten minutes."""
    monkeypatch.setattr(pages_history, "LIVE_TICK", 0.02)
    monkeypatch.setattr(pages_history, "SESSION_CHECK_TICKS", 2)
    await visitor.customer("alice")
    msgid = await send(visitor, "33612345678")
    token = await visitor.token("/")
    transport = visitor.http._transport
    other = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
    other.cookies.set("passerelle_session", visitor.http.cookies["passerelle_session"])

    async def log_out() -> None:
        assert (await other.post("/user/logout", data={"csrf_token": token})).status_code == 303

    body = await read_until_closed(visitor, str(msgid), log_out)
    assert f'"msgid": {msgid}' in body
    assert console_of(visitor).live.active == 0
    await other.aclose()


async def test_a_live_stream_ends_when_the_process_stops(
    visitor: ConsoleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the process begins to stop, open live streams end at their next tick."""
    monkeypatch.setattr(pages_history, "LIVE_TICK", 0.02)
    await visitor.customer("alice")
    msgid = await send(visitor, "33612345678")

    async def stop() -> None:
        console_of(visitor).begin_shutdown()

    body = await read_until_closed(visitor, str(msgid), stop)
    assert f'"msgid": {msgid}' in body
    assert console_of(visitor).live.active == 0
