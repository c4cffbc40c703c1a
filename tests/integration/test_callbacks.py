"""Delivery-receipt callbacks (docs/callbacks.md) against real local HTTP receivers.

The gateway side is the real SQLite store, `Gateway`, `CallbackSender` (and, for the
1 000-message run, the supervisor, links, dispatcher and the in-process simulator);
the customer side is a tiny HTTP/1.1 server on 127.0.0.1 (asyncio streams, port 0),
or the documented PHP and Python receivers run as they are. Retry schedules are
driven with an injected clock and jitter draw: `step()` is called by the test, the
clock is moved to the next attempt, nothing sleeps for the schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from prometheus_client import CollectorRegistry

from passerelle.core.message import SendRequest
from passerelle.core.retry import RetryPolicy
from passerelle.core.routing import Route
from passerelle.core.signature import verify
from passerelle.core.states import RecipientState as S
from passerelle.core.values import (
    Account,
    CallbackAttempt,
    CallbackEvent,
    CallbackState,
    Connector,
    NewMessage,
)
from passerelle.delivery.dispatcher import Dispatcher
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.delivery.receipts import ReceiptHandler
from passerelle.delivery.supervisor import Supervisor
from passerelle.service import AccountUpdate, Gateway
from passerelle.service_workers import Operations
from passerelle.simulator import Simulator, SimulatorConfig
from passerelle.store.sqlite import SqliteStore
from passerelle.webhooks.metrics import CallbackMetrics
from passerelle.webhooks.sender import CallbackSender
from tests.support import PASSWORD, make_settings, sqlite_store

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_000_000_000.0  # the controlled clock's epoch (2001-09-09)
DAY = 86_400.0
STATUT = {"DELIVRD": "1", "UNDELIV": "2", "EXPIRED": "2", "REJECTD": "2", "FAILED": "2"}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


# --- the customer's side: a tiny HTTP/1.1 receiver ------------------------------------


@dataclass
class Hit:
    """One request the receiver got."""

    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic() when it arrived

    @property
    def payload(self) -> bytes:
        """What is signed: the body of a POST, the query string of a GET."""
        return urlsplit(self.target).query.encode() if self.method == "GET" else self.body

    @property
    def fields(self) -> dict[str, str]:
        return dict(parse_qsl(self.payload.decode(), keep_blank_values=True))

    @property
    def event_id(self) -> int:
        return int(self.fields["event_id"])


@dataclass
class Receiver:
    """An HTTP/1.1 server on 127.0.0.1 recording every request; answers `status` after `delay`."""

    status: int = 200
    delay: float = 0.0
    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    answered: int = 0
    _server: asyncio.Server | None = None
    _conns: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dlr"

    async def start(self) -> Receiver:
        """Listen (port 0 the first time, the same port again after `stop`)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop every open connection (the receiver is down)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._conns):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            for _ in range(10_000):  # requests on one kept-alive connection, bounded
                line = await reader.readline()
                if not line.strip():
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                for _ in range(100):
                    raw = await reader.readline()
                    if raw in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.hits.append(Hit(method, target, headers, body, time.monotonic()))
                if self.delay:
                    await asyncio.sleep(self.delay)
                reason = HTTPStatus(self.status).phrase
                extra = "Location: /elsewhere\r\n" if 300 <= self.status < 400 else ""
                body_out = b"" if self.status in (204, 304) else b"ok"  # 204 has no body
                head = (
                    f"HTTP/1.1 {self.status} {reason}\r\n{extra}"
                    f"Content-Length: {len(body_out)}\r\n\r\n"
                )
                writer.write(head.encode() + body_out)
                await writer.drain()
                self.answered += 1
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            self._conns.discard(writer)
            writer.close()

    def by_event(self) -> Counter[int]:
        return Counter(hit.event_id for hit in self.hits)


@pytest.fixture
async def receivers() -> AsyncIterator[Callable[..., Receiver]]:
    """Makes receivers (not started); stops every one at teardown."""
    made: list[Receiver] = []

    def make(**options: object) -> Receiver:
        receiver = Receiver(**options)  # type: ignore[arg-type]
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        await receiver.stop()


def independent_mac(secret: str, timestamp: str, payload: bytes) -> str:
    """The documented signature, recomputed here with hmac (not core.signature)."""
    message = timestamp.encode() + b"." + payload
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def assert_signed(hit: Hit, secret: str) -> None:
    """The hit's signature verifies with core.signature.verify and with plain hmac."""
    header = hit.headers["x-passerelle-signature"]
    assert verify(secret, header, hit.payload, now=time.time()), header
    parts = dict(part.split("=", 1) for part in header.split(","))
    assert set(parts) == {"t", "v1"}
    assert abs(int(parts["t"]) - time.time()) < 120
    assert hmac.compare_digest(parts["v1"], independent_mac(secret, parts["t"], hit.payload))
    assert hit.headers["x-passerelle-event-id"] == hit.fields["event_id"]


# --- the gateway's side ---------------------------------------------------------------


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Outbox:
    """A SQLite store with accounts, and a way to make final recipients (hence events)."""

    store: SqliteStore
    gateway: Gateway
    smsc_ids: int = 0
    senders: list[CallbackSender] = field(default_factory=list)

    async def account(self, login: str, url: str | None, method: str = "POST") -> Account:
        account = await self.gateway.create_account(login, f"{login}@x.fr", PASSWORD, 10_000)
        if url is not None:
            account = await self.gateway.update_account(
                login, AccountUpdate(callback_url=url, callback_method=method)
            )
        return account

    async def finals(
        self, account: Account, stats: list[str], now: float, callback: bool = True
    ) -> int:
        """One message to len(stats) recipients, each made final with its stat; the msgid.

        FAILED is our own failure (no operator took it); the others are receipts.
        """
        dests = tuple(f"336{self.smsc_ids + i:08d}" for i in range(len(stats)))
        msgid = await self.store.accept_message(
            NewMessage(account.id, now, "Shop", 5, "hi", False, callback, dests, len(dests))
        )
        due = await self.store.claim_due(now, 30.0, len(dests))
        assert len(due) == len(dests)
        states = {"DELIVRD": S.DELIVERED, "UNDELIV": S.UNDELIVERED}
        states |= {"EXPIRED": S.EXPIRED, "REJECTD": S.REJECTED}
        for recipient, stat in zip(due, stats, strict=True):
            if stat == "FAILED":
                await self.store.mark_failed(recipient.id, "no route", now, refund=True)
                continue
            self.smsc_ids += 1
            smsc_id = f"id{self.smsc_ids}"
            await self.store.mark_submitted(recipient.id, "op", smsc_id, now)
            await self.store.record_receipt("op", smsc_id, states[stat], stat, "000", now)
        return msgid

    def sender(
        self,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = lambda: 0.5,
        on_connect: Callable[[str, str], None] | None = None,
        poll: float = 0.05,
        **settings: object,
    ) -> tuple[CallbackSender, CallbackMetrics]:
        """A sender (not started) on this store; private targets allowed unless told."""
        options: dict[str, object] = {"callback_allow_private": True, "callback_timeout_s": 2.0}
        options.update(settings)
        metrics = CallbackMetrics(CollectorRegistry())
        sender = CallbackSender(
            Operations(self.store), make_settings(**options), metrics, clock, rng, on_connect, poll
        )
        self.senders.append(sender)
        return sender, metrics

    async def manual(
        self,
        clock: Clock,
        on_connect: Callable[[str, str], None] | None = None,
        **settings: object,
    ) -> tuple[CallbackSender, CallbackMetrics]:
        """A started sender whose background loop is idle: the test calls `step()`.

        It is started at clock 0 (nothing is due then) with a one-hour poll, so its own
        loop makes one empty step and sleeps; the test then moves `clock` and steps.
        """
        wanted = clock.t
        clock.t = 0.0
        options: dict[str, object] = {"callback_per_host": 100, **settings}
        sender, metrics = self.sender(clock, lambda: 0.5, on_connect, 3600.0, **options)
        sender.start()
        await asyncio.sleep(0)  # its first step has read the clock (0): it finds nothing
        clock.t = wanted
        return sender, metrics

    async def step(self, sender: CallbackSender) -> None:
        """One claim-and-send round, waited for until no event is in flight (bounded)."""
        await sender.step()
        for _ in range(400):
            claimed = (
                self.store._read()
                .execute("SELECT count(*) FROM callback_events WHERE claimed_until IS NOT NULL")
                .fetchone()[0]
            )
            if claimed == 0:
                return
            await asyncio.sleep(0.01)
        pytest.fail("callbacks still in flight after 4 s")

    async def events(self, login: str | None = None) -> list[CallbackEvent]:
        return await self.store.list_callbacks(login, False, 100_000)

    async def only_event(self) -> CallbackEvent:
        [event] = await self.events()
        return event

    async def attempts(self, event_id: int) -> list[CallbackAttempt]:
        return await self.store.callback_attempts(event_id)


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    """A fresh SQLite store and gateway; every sender made from it is stopped at teardown."""
    store = await sqlite_store(tmp_path / "callbacks.db")
    gateway = Gateway(store, make_settings())
    box = Outbox(store, gateway)
    yield box
    for sender in box.senders:
        await sender.stop(grace=1.0)
    gateway.close()
    await store.close()


def outcome_count(metrics: CallbackMetrics, outcome: str) -> float:
    value: float = metrics.attempts.labels(outcome)._value.get()
    return value


async def wait_until(check: Callable[[], bool], within: float, every: float = 0.02) -> bool:
    """Poll `check` until true or `within` seconds passed (bounded)."""
    for _ in range(int(within / every) + 1):
        if check():
            return True
        await asyncio.sleep(every)
    return check()


# --- 1 000 messages through the whole delivery path -----------------------------------

THOUSAND = 1000
UNROUTED = 10  # of the thousand: no route, failed by us (stat FAILED)


async def test_thousand_messages_one_signed_callback_per_receipt(
    tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    """1 000 callback=1 SMS through SMPP: one signed callback per final state, right fields."""
    receiver = await receivers().start()
    store = await sqlite_store(tmp_path / "thousand.db")
    settings = make_settings(
        builtin_simulator=False,
        connector_refresh_s=60,
        callback_allow_private=True,  # the per-host limit keeps its default (8)
    )
    metrics = DeliveryMetrics(CollectorRegistry())
    service = Operations(store)
    receipts = ReceiptHandler(service, metrics)
    supervisor = Supervisor(service, settings, metrics, receipts)
    policy = RetryPolicy(base=0.05, factor=2, max_delay=0.2, max_attempts=50)
    dispatcher = Dispatcher(service, supervisor, metrics, policy=policy, poll=0.05, lease=5)
    gateway = Gateway(store, settings)
    callbacks = CallbackSender(service, settings, CallbackMetrics(CollectorRegistry()), poll=0.05)
    sim = Simulator(SimulatorConfig(port=0, deliver_ratio=0.7, expire_ratio=0.1, reject_ratio=0.1))
    try:
        port = await sim.start()
        account = await gateway.create_account("alice", "a@x.fr", PASSWORD, credits=THOUSAND)
        account = await gateway.update_account("alice", AccountUpdate(callback_url=receiver.url))
        await store.add_connector(Connector("op", "127.0.0.1", port, "gw", "pw", window=50))
        await store.add_route(Route(10, "33", ("op",)), at=0)
        await supervisor.refresh()
        for link in supervisor.links.values():
            await link.wait_bound(2)
        dispatcher.start()
        callbacks.start()
        sent: dict[tuple[str, str], None] = {}
        for i in range(THOUSAND):
            dest = f"336{i:08d}" if i >= UNROUTED else f"447700900{i:03d}"
            request = SendRequest(dest, "Shop", f"n{i}", callback="1")
            msgid = await gateway.send(account, request)
            sent[(str(msgid), dest)] = None
            dispatcher.notify()

        def all_delivered() -> bool:
            count, _ = (
                store._read()
                .execute(
                    "SELECT count(*), 0 FROM callback_events WHERE state = ?",
                    (int(CallbackState.DELIVERED),),
                )
                .fetchone()
            )
            return bool(count == THOUSAND)

        assert await wait_until(all_delivered, within=20, every=0.1), len(receiver.hits)
        rows = store._read().execute("SELECT msgid, dest, state, stat FROM recipients")
        stats = {(str(m), d): "FAILED" if st == int(S.FAILED) else s for m, d, st, s in rows}
    finally:
        await callbacks.stop(1)
        await dispatcher.stop(1)
        await supervisor.stop()
        await receipts.drain()
        await sim.stop()
        gateway.close()
        await store.close()

    assert len(receiver.hits) == THOUSAND  # exactly one each: every event is delivered
    assert set(receiver.by_event().values()) == {1}
    by_recipient = Counter((h.fields["msgid"], h.fields["dest"]) for h in receiver.hits)
    assert set(by_recipient) == set(sent)
    assert set(by_recipient.values()) == {1}
    seen_stats: Counter[str] = Counter()
    for hit in receiver.hits:
        assert (hit.method, hit.target) == ("POST", "/dlr")
        assert hit.headers["content-type"] == "application/x-www-form-urlencoded"
        assert_signed(hit, account.callback_secret)
        f = hit.fields
        assert list(f) == ["msgid", "dest", "statut", "stat", "err", "date", "login", "event_id"]
        assert f["stat"] == stats[(f["msgid"], f["dest"])]
        assert f["statut"] == STATUT[f["stat"]]
        assert f["login"] == "alice"
        assert ISO_UTC.fullmatch(f["date"]), f["date"]
        seen_stats[f["stat"]] += 1
    assert seen_stats["FAILED"] == UNROUTED
    assert seen_stats["DELIVRD"] >= 650
    assert {"UNDELIV", "EXPIRED", "REJECTD"} <= set(seen_stats)

    tampered = receiver.hits[0]
    body = tampered.body.replace(b"statut=", b"statut=1", 1)
    header = tampered.headers["x-passerelle-signature"]
    assert not verify(account.callback_secret, header, body, now=time.time())
    stamp = dict(part.split("=", 1) for part in header.split(","))
    assert independent_mac(account.callback_secret, stamp["t"], body) != stamp["v1"]


# --- down, then up; failure answers; the schedule -------------------------------------


async def test_receiver_down_for_a_day_then_back(
    outbox: Outbox, receivers: Callable[..., Receiver]
) -> None:
    """A receiver down for a day gets every event once it is back: none lost, none twice."""
    receiver = await receivers().start()
    await receiver.stop()  # the port is known and nobody listens on it
    account = await outbox.account("alice", receiver.url)
    await outbox.finals(account, ["DELIVRD"] * 15 + ["UNDELIV"] * 5, now=T0)
    clock = Clock(T0)
    sender, metrics = await outbox.manual(clock, callback_timeout_s=1.0)
    rounds = 0
    while clock.t < T0 + DAY and rounds < 200:  # bounded: ~31 attempts fit in a day
        await outbox.step(sender)
        rounds += 1
        clock.t = min(e.next_attempt_at for e in await outbox.events())
    events = await outbox.events()
    assert {e.state for e in events} == {CallbackState.PENDING}
    first = await outbox.attempts(events[0].id)
    assert all(a.status is None and a.error for a in first)
    gaps = [b.at - a.at for a, b in itertools.pairwise(first)]
    assert max(gaps) <= 3600.0  # never more than an hour between attempts
    assert 25 <= len(first) <= 40

    await receiver.start()  # back, same port
    for _ in range(3):
        await outbox.step(sender)
        clock.t += 3600.0
    assert receiver.by_event() == Counter({e.id: 1 for e in events})
    assert {e.state for e in await outbox.events()} == {CallbackState.DELIVERED}
    assert outcome_count(metrics, "delivered") == 20


async def test_500_follows_the_schedule_then_fails_after_the_horizon(
    outbox: Outbox, receivers: Callable[..., Receiver]
) -> None:
    """500 answers: retried at 10 s doubling to 1 h (jitter 50-100 %) for 72 h, then failed."""
    receiver = await receivers(status=500).start()
    account = await outbox.account("alice", receiver.url)
    await outbox.finals(account, ["DELIVRD"], now=T0)
    draws = iter([0.0, 1.0] * 200)
    clock = Clock(T0)
    sender, metrics = await outbox.manual(clock)
    sender.rng = lambda: next(draws)
    for _ in range(300):  # bounded: ~100 attempts fit in 72 h
        await outbox.step(sender)
        event = await outbox.only_event()
        if event.state is not CallbackState.PENDING:
            break
        clock.t = event.next_attempt_at
    assert event.state is CallbackState.FAILED
    assert event.last_status == 500
    attempts = await outbox.attempts(event.id)
    assert len(attempts) == len(receiver.hits) == event.attempts
    assert all(a.status == 500 and a.error == "HTTP 500" for a in attempts)
    gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
    full = [min(3600.0, 10.0 * 2**n) for n in range(len(gaps))]
    expected = [d * (0.5 if n % 2 == 0 else 1.0) for n, d in enumerate(full)]
    assert gaps == pytest.approx(expected)
    assert gaps[:5] == pytest.approx([5.0, 20.0, 20.0, 80.0, 80.0])
    assert attempts[-1].at - T0 <= 72 * 3600.0
    assert attempts[-1].at + 3600.0 - T0 > 72 * 3600.0  # the next would have passed it
    assert outcome_count(metrics, "retry") == len(attempts) - 1
    assert outcome_count(metrics, "failed") == 1
    clock.t += DAY  # failed is final
    await outbox.step(sender)
    assert len(receiver.hits) == len(attempts)


async def test_timeout_is_retried_and_the_event_id_repeats(
    outbox: Outbox, receivers: Callable[..., Receiver]
) -> None:
    """No answer within the timeout is retried; the second request carries the same event_id."""
    receiver = await receivers(delay=2.0).start()
    account = await outbox.account("alice", receiver.url)
    await outbox.finals(account, ["EXPIRED"], now=T0)
    clock = Clock(T0)
    sender, _ = await outbox.manual(clock, callback_timeout_s=0.3)
    await outbox.step(sender)
    event = await outbox.only_event()
    [first] = await outbox.attempts(event.id)
    assert (first.status, first.error) == (None, "timeout")
    assert event.state is CallbackState.PENDING
    assert event.next_attempt_at == pytest.approx(T0 + 7.5)
    receiver.delay = 0.0
    clock.t = event.next_attempt_at
    await outbox.step(sender)
    assert (await outbox.only_event()).state is CallbackState.DELIVERED
    assert [h.event_id for h in receiver.hits] == [event.id, event.id]  # receiver dedupes


async def test_410_stops_for_good(outbox: Outbox, receivers: Callable[..., Receiver]) -> None:
    """410 Gone: one attempt, the event is gone, nothing is sent again."""
    receiver = await receivers(status=410).start()
    account = await outbox.account("alice", receiver.url)
    await outbox.finals(account, ["DELIVRD"], now=T0)
    clock = Clock(T0)
    sender, metrics = await outbox.manual(clock)
    await outbox.step(sender)
    for _ in range(3):
        clock.t += DAY / 2
        await outbox.step(sender)
    event = await outbox.only_event()
    assert (event.state, event.attempts, event.last_status) == (CallbackState.GONE, 1, 410)
    assert len(receiver.hits) == 1
    assert outcome_count(metrics, "gone") == 1


@pytest.mark.parametrize("status", [301, 302, 307])
async def test_redirects_are_not_followed(
    outbox: Outbox, receivers: Callable[..., Receiver], status: int
) -> None:
    """A redirect is a failed attempt (retried), never followed to its Location."""
    receiver = await receivers(status=status).start()
    account = await outbox.account("alice", receiver.url)
    await outbox.finals(account, ["DELIVRD"], now=T0)
    clock = Clock(T0)
    sender, _ = await outbox.manual(clock)
    await outbox.step(sender)
    event = await outbox.only_event()
    assert [h.target for h in receiver.hits] == ["/dlr"]
    assert event.state is CallbackState.PENDING
    assert event.last_error == f"HTTP {status}: redirects are not followed"


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_any_2xx_is_success(
    outbox: Outbox, receivers: Callable[..., Receiver], status: int
) -> None:
    """Any 2xx answer within the timeout delivers the event."""
    receiver = await receivers(status=status).start()
    account = await outbox.account("alice", receiver.url)
    await outbox.finals(account, ["DELIVRD"], now=T0)
    clock = Clock(T0)
    sender, _ = await outbox.manual(clock)
    await outbox.step(sender)
    event = await outbox.only_event()
    assert (event.state, event.last_status, event.delivered_at) == (
        CallbackState.DELIVERED,
        status,
        T0,
    )


# --- SSRF -----------------------------------------------------------------------------


class RequestLog:
    """Collects what the sender was about to send (its `on_connect` hook)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def __call__(self, method: str, url: str) -> None:
        self.requests.append((method, url))


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/dlr", "http://169.254.169.254/latest/meta-data/", "http://[::1]/"]
)
async def test_private_target_is_refused_before_any_connection(outbox: Outbox, url: str) -> None:
    """A private target is refused by the guard: recorded 'refused', retried, nothing sent."""
    account = await outbox.account("alice", url)
    await outbox.finals(account, ["DELIVRD"], now=T0)
    transport = RequestLog()
    clock = Clock(T0)
    sender, metrics = await outbox.manual(clock, callback_allow_private=False, on_connect=transport)
    await outbox.step(sender)
    assert transport.requests == []  # the refusal came before the HTTP client
    event = await outbox.only_event()
    [attempt] = await outbox.attempts(event.id)
    host = urlsplit(url).hostname
    assert attempt.status is None
    assert attempt.error == f"refused: {host} resolves to {host}, a private address"
    assert event.state is CallbackState.PENDING
    assert T0 + 5 <= event.next_attempt_at <= T0 + 10  # retried (DNS may change)
    assert outcome_count(metrics, "refused") == 1
    clock.t = event.next_attempt_at
    await outbox.step(sender)
    assert (await outbox.only_event()).attempts == 2
    assert transport.requests == []


async def test_loopback_refused_unless_private_targets_allowed(
    outbox: Outbox, receivers: Callable[..., Receiver]
) -> None:
    """127.0.0.1 is refused (receiver untouched) by default, delivered once allowed."""
    receiver = await receivers().start()
    account = await outbox.account("alice", receiver.url)
    await outbox.finals(account, ["DELIVRD"], now=T0)
    strict_clock = Clock(T0)
    strict, metrics = await outbox.manual(strict_clock, callback_allow_private=False)
    await outbox.step(strict)
    event = await outbox.only_event()
    assert event.state is CallbackState.PENDING
    assert event.last_error is not None and event.last_error.startswith("refused: 127.0.0.1")
    assert outcome_count(metrics, "refused") == 1
    assert receiver.hits == []
    await strict.stop(1)
    clock = Clock(event.next_attempt_at)
    lenient, _ = await outbox.manual(clock, callback_allow_private=True)
    await outbox.step(lenient)
    assert (await outbox.only_event()).state is CallbackState.DELIVERED
    assert len(receiver.hits) == 1


# --- GET, secrets, waiting for a URL, replay ------------------------------------------


async def test_get_puts_fields_in_the_query_and_signs_it(
    outbox: Outbox, receivers: Callable[..., Receiver]
) -> None:
    """GET: the fields follow the URL's own query; the signature covers the query string."""
    receiver = await receivers().start()
    account = await outbox.account("alice", receiver.url + "?token=abc%20d", method="GET")
    msgid = await outbox.finals(account, ["UNDELIV"], now=T0)
    clock = Clock(T0)
    sender, _ = await outbox.manual(clock)
    await outbox.step(sender)
    [hit] = receiver.hits
    assert hit.method == "GET" and hit.body == b""
    assert "content-type" not in hit.headers
    path, _, query = hit.target.partition("?")
    assert path == "/dlr"
    assert query.startswith("token=abc%20d&msgid=")
    header = hit.headers["x-passerelle-signature"]
    stamp = dict(part.split("=", 1) for part in header.split(","))
    assert stamp["v1"] == independent_mac(account.callback_secret, stamp["t"], query.encode())
    assert verify(account.callback_secret, header, query.encode(), now=int(stamp["t"]))
    f = hit.fields
    assert (f["token"], f["msgid"], f["statut"], f["stat"]) == ("abc d", str(msgid), "2", "UNDELIV")
    assert (await outbox.only_event()).state is CallbackState.DELIVERED


async def test_rotated_secret_signs_the_next_callbacks(
    outbox: Outbox, receivers: Callable[..., Receiver]
) -> None:
    """After `account rotate-secret` the next callback is signed with the new secret only."""
    receiver = await receivers().start()
    account = await outbox.account("alice", receiver.url)
    await outbox.finals(account, ["DELIVRD"], now=T0)
    new = await outbox.gateway.rotate_secret("alice")
    clock = Clock(T0)
    sender, _ = await outbox.manual(clock)
    await outbox.step(sender)
    [hit] = receiver.hits
    header = hit.headers["x-passerelle-signature"]
    assert verify(new, header, hit.body, now=T0)  # signed at the sender's clock
    assert not verify(account.callback_secret, header, hit.body, now=T0)


async def test_events_wait_for_a_url_then_go_or_expire(
    outbox: Outbox, receivers: Callable[..., Receiver]
) -> None:
    """callback=1 without a URL: events wait; sent once a URL is set, else failed at 72 h."""
    receiver = await receivers().start()
    early = await outbox.account("early", None)
    late = await outbox.account("late", None)
    await outbox.finals(early, ["DELIVRD", "REJECTD"], now=T0)
    await outbox.finals(late, ["DELIVRD"], now=T0)
    await outbox.finals(late, ["DELIVRD"], now=T0, callback=False)  # no event at all
    clock = Clock(T0)
    sender, _ = await outbox.manual(clock)
    await outbox.step(sender)
    assert await outbox.store.callback_backlog() == (3, T0)
    assert {e.attempts for e in await outbox.events()} == {0}
    clock.t = T0 + 71 * 3600.0
    await outbox.gateway.update_account("early", AccountUpdate(callback_url=receiver.url))
    await outbox.step(sender)
    assert sorted(h.fields["stat"] for h in receiver.hits) == ["DELIVRD", "REJECTD"]
    clock.t = T0 + 72 * 3600.0 + 61
    await outbox.step(sender)
    [waited] = await outbox.events("late")
    assert waited.state is CallbackState.FAILED
    assert waited.last_error == "no callback URL (expired)"
    await outbox.gateway.update_account("late", AccountUpdate(callback_url=receiver.url))
    clock.t += 3600.0
    await outbox.step(sender)
    assert len(receiver.hits) == 2


async def test_replay_sends_the_same_event_again(
    outbox: Outbox, receivers: Callable[..., Receiver]
) -> None:
    """`callbacks replay ID` sends a delivered (or failed) event again with the same event_id."""
    receiver = await receivers().start()
    account = await outbox.account("alice", receiver.url)
    await outbox.finals(account, ["DELIVRD"], now=T0)
    clock = Clock(T0)
    sender, _ = await outbox.manual(clock)
    await outbox.step(sender)
    event = await outbox.only_event()
    assert event.state is CallbackState.DELIVERED
    outbox.gateway._clock = clock  # the replay is due at the gateway's now
    clock.t += 60
    await outbox.gateway.replay_callback(event.id)
    await outbox.step(sender)
    assert [h.event_id for h in receiver.hits] == [event.id, event.id]
    assert receiver.hits[0].fields == receiver.hits[1].fields
    assert (await outbox.only_event()).attempts == 2


# --- isolation ------------------------------------------------------------------------

SLOW_S = 5.0


@pytest.mark.parametrize("slow_host", ["127.0.0.1", "localhost"], ids=["same-host", "other-host"])
async def test_slow_receiver_does_not_delay_another_account(
    outbox: Outbox, receivers: Callable[..., Receiver], slow_host: str
) -> None:
    """A receiver taking 5 s per request holds only its own slots: the other's events go at once.

    The two receivers are two accounts' servers on 127.0.0.1 (other ports), and once with
    the slow one named ``localhost``.
    """
    slow = await receivers(delay=SLOW_S).start()
    fast = await receivers().start()
    now = time.time()
    slow_account = await outbox.account("slow", slow.url.replace("127.0.0.1", slow_host))
    await outbox.finals(slow_account, ["DELIVRD"] * 10, now=now - 1)  # older: claimed first
    fast_account = await outbox.account("fast", fast.url)
    await outbox.finals(fast_account, ["DELIVRD"] * 10, now=now)
    sender, _ = outbox.sender(callback_per_host=2, callback_timeout_s=10.0)
    started = time.monotonic()
    sender.start()
    arrived = await wait_until(lambda: len(fast.hits) == 10, within=SLOW_S - 1)
    took = time.monotonic() - started
    in_flight, answered = len(slow.hits), slow.answered
    await slow.stop()
    assert arrived, (len(fast.hits), in_flight)
    assert took < 2.0
    assert (in_flight, answered) == (2, 0)  # the per-host limit, and no slow answer yet
    assert set(fast.by_event().values()) == {1}


# --- the documented receivers ---------------------------------------------------------

DOCS = ROOT / "docs" / "callbacks.md"
PHP_EXAMPLE = ROOT / "examples" / "callback_receiver.php"
PY_EXAMPLE = ROOT / "examples" / "callback_receiver.py"


def fenced(language: str) -> list[str]:
    """The fenced code blocks of docs/callbacks.md in `language`."""
    text = DOCS.read_text("utf-8")
    return [m[1] for m in re.finditer(rf"```{language}\n(.*?)```", text, re.DOTALL)]


@pytest.mark.parametrize(
    ("language", "example"), [("php", PHP_EXAMPLE), ("python", PY_EXAMPLE)], ids=["php", "py"]
)
def test_docs_show_the_tested_receivers_verbatim(language: str, example: Path) -> None:
    """docs/callbacks.md contains examples/callback_receiver.* exactly as tested."""
    assert example.read_text("utf-8") in fenced(language)


def free_port() -> int:
    """A port that was free a moment ago (bind 0, read it back, release it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def php_binary() -> str:
    """php-cli, which `./dev test` installs; missing, the test fails (never skips)."""
    php = shutil.which("php")
    if php is None:
        pytest.fail("php-cli is not installed (./dev test installs it: apt-get install php-cli)")
    return php


@contextlib.contextmanager
def example_server(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """Run a documented receiver on 127.0.0.1:`port` until it answers; stop it by pid."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )
    try:
        for _ in range(200):  # up to ~10 s
            if process.poll() is not None:
                pytest.fail(f"{command[0]} exited:\n{log.read_text('utf-8', 'replace')}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"{command[0]} did not listen:\n{log.read_text('utf-8', 'replace')}")
        yield
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


async def check_example_receiver(
    outbox: Outbox, account: Account, url: str, recorded: Callable[[], list[str]]
) -> None:
    """Real signed callbacks → 200 and recorded once; tampered or badly signed → 400."""
    await outbox.finals(account, ["DELIVRD", "UNDELIV", "FAILED"], now=time.time())
    sender, _ = outbox.sender(callback_timeout_s=5.0)
    sender.start()
    assert await wait_until(lambda: delivered(outbox) == 3, within=10), recorded()
    events = await outbox.events()
    kept = {int(line.split()[0]): line.split()[1:5] for line in recorded()}
    assert kept == {e.id: [str(e.msgid), e.dest, str(e.statut), e.stat] for e in events}

    replayed = events[0].id  # a repeat: answered 200, not recorded twice
    await outbox.gateway.replay_callback(replayed)
    assert await wait_until(lambda: attempts_of(outbox, replayed) == [200, 200], within=10)
    assert len(recorded()) == 3

    secret = account.callback_secret
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = "msgid=7&dest=33600000000&statut=1&stat=DELIVRD&err=&date=2024-01-01T00%3A00%3A00Z"
    body += "&login=alice&event_id=1000000"
    now = str(int(time.time()))
    signed = {
        **form,
        "X-Passerelle-Signature": f"t={now},v1={independent_mac(secret, now, body.encode())}",
    }
    old = str(int(time.time()) - 3600)
    stale = {
        **form,
        "X-Passerelle-Signature": f"t={old},v1={independent_mac(secret, old, body.encode())}",
    }
    async with httpx.AsyncClient(timeout=5.0) as client:
        assert (await client.post(url, content=body, headers=form)).status_code == 400
        tampered = body.replace("statut=1", "statut=2")
        assert (await client.post(url, content=tampered, headers=signed)).status_code == 400
        assert (await client.post(url, content=body, headers=stale)).status_code == 400
        assert (await client.post(url, content=body, headers=signed)).status_code == 200
    assert len(recorded()) == 4

    await outbox.gateway.rotate_secret("alice")  # the receiver still has the old secret
    await outbox.finals(account, ["EXPIRED"], now=time.time())
    assert await wait_until(lambda: len(outbox.store._read().execute(
        "SELECT 1 FROM callback_events WHERE attempts > 0 AND last_status = 400"
    ).fetchall()) == 1, within=10)  # fmt: skip
    assert len(recorded()) == 4


def delivered(outbox: Outbox) -> int:
    query = "SELECT count(*) FROM callback_events WHERE state = ?"
    return int(outbox.store._read().execute(query, (int(CallbackState.DELIVERED),)).fetchone()[0])


def attempts_of(outbox: Outbox, event_id: int) -> list[int | None]:
    rows = outbox.store._read().execute(
        "SELECT status FROM callback_attempts WHERE event_id = ? ORDER BY id", (event_id,)
    )
    return [row[0] for row in rows]


async def test_php_receiver_example(outbox: Outbox, tmp_path: Path) -> None:
    """examples/callback_receiver.php under `php -S`: signed → 200 and kept once, else 400."""
    php = php_binary()
    port = free_port()
    seen = tmp_path / "events.log"
    account = await outbox.account("alice", f"http://127.0.0.1:{port}/callback_receiver.php")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PASSERELLE_CALLBACK_SECRET": account.callback_secret,
        "PASSERELLE_EVENTS_FILE": str(seen),
    }

    def recorded() -> list[str]:
        return seen.read_text().splitlines() if seen.exists() else []

    command = [php, "-S", f"127.0.0.1:{port}", str(PHP_EXAMPLE)]
    with example_server(command, env, port, tmp_path / "php.log"):
        await check_example_receiver(outbox, account, account.callback_url or "", recorded)


async def test_python_receiver_example(outbox: Outbox, tmp_path: Path) -> None:
    """examples/callback_receiver.py: signed callbacks 200 and kept once, anything else 400."""
    port = free_port()
    database = tmp_path / "events.db"
    account = await outbox.account("alice", f"http://127.0.0.1:{port}/dlr")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PASSERELLE_CALLBACK_SECRET": account.callback_secret,
        "PASSERELLE_EVENTS_DB": str(database),
    }

    def recorded() -> list[str]:
        if not database.exists():
            return []
        with contextlib.closing(sqlite3.connect(database)) as conn:
            try:
                rows = conn.execute("SELECT event_id, msgid, dest, statut, stat FROM events")
                return [" ".join(str(v) for v in row) for row in rows]
            except sqlite3.OperationalError:
                return []

    command = [sys.executable, str(PY_EXAMPLE), str(port)]
    with example_server(command, env, port, tmp_path / "py.log"):
        await check_example_receiver(outbox, account, account.callback_url or "", recorded)


# --- stopping -------------------------------------------------------------------------


async def test_stop_finishes_what_is_in_flight_and_starts_nothing_more(
    outbox: Outbox, receivers: Callable[..., Receiver]
) -> None:
    """stop(): the request in flight ends and its outcome is written; queued events are not
    started (they come back when their lease ends); the pooled connection is closed."""
    receiver = await receivers(delay=0.4).start()
    account = await outbox.account("alice", receiver.url)
    await outbox.finals(account, ["DELIVRD", "UNDELIV", "EXPIRED"], now=time.time())
    sender, _ = outbox.sender(callback_per_host=1)
    sender.start()
    for _ in range(300):  # until the first request is at the receiver (bounded, 3 s)
        if receiver.hits:
            break
        await asyncio.sleep(0.01)
    assert len(receiver.hits) == 1
    await sender.stop(grace=3.0)
    events = await outbox.events()
    delivered = [e for e in events if e.state is CallbackState.DELIVERED]
    assert [e.id for e in delivered] == [receiver.hits[0].event_id]  # written before stop returned
    assert {e.attempts for e in events if e not in delivered} == {0}
    await asyncio.sleep(0.6)  # a queued event started after stop would have arrived by now
    assert len(receiver.hits) == 1
    assert not receiver._conns  # the client closed its kept-alive connection
