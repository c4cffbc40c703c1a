"""Delivery-receipt callbacks end to end (docs/callbacks.md): real `passerelle serve` and
`passerelle simulator` subprocesses, and a receiver (``http.server`` in a thread of
the test, 127.0.0.1, port 0) that counts what it gets by event_id.

`serve` runs with PASSERELLE_CALLBACK_ALLOW_PRIVATE=true (the receiver is on
loopback); every wait is bounded polling.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from passerelle.core.signature import verify

PASSWORD = "Rappel-Pass-1"
STATUT = {"DELIVRD": "1", "UNDELIV": "2", "EXPIRED": "2", "REJECTD": "2", "FAILED": "2"}


class Receiver:
    """A threaded HTTP server recording every POST (fields, signature) under a lock."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.hits: list[tuple[dict[str, str], bytes, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
                with receiver.lock:
                    receiver.hits.append(
                        (fields, body, self.headers.get("X-Passerelle-Signature", ""))
                    )
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/dlr"

    def by_event(self) -> Counter[int]:
        with self.lock:
            return Counter(int(fields["event_id"]) for fields, _, _ in self.hits)

    def wait_for(self, event_ids: set[int], timeout: float) -> set[int]:
        """Poll (bounded) until every id in `event_ids` was seen; the ids still missing."""
        deadline = time.monotonic() + timeout
        missing = event_ids - set(self.by_event())
        while missing and time.monotonic() < deadline:
            time.sleep(0.1)
            missing = event_ids - set(self.by_event())
        return missing


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver running for one test."""
    made = Receiver()
    made.thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()
    made.thread.join(5)


def secret_of(server: Any, login: str) -> str:
    """The callback secret, as `passerelle account show` prints it."""
    match = re.search(r"callback secret: ([0-9a-f]{64})", server.cli("account", "show", login))
    assert match, "account show prints the callback secret"
    return match[1]


def envoi_all(server: Any, dests: list[str], threads: int = 8) -> dict[int, str]:
    """One `envoi` with callback=1 per number, concurrently; msgid → number."""
    local = threading.local()
    clients: list[httpx.Client] = []

    def one(dest: str) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = server.client()
            clients.append(client)
        params = {"action": "envoi", "login": "Rappel", "apipasse": PASSWORD, "dest": dest}
        params |= {"msg": "rappel", "origine": "Shop", "callback": "1"}
        text = client.get("/client/api/", params=params).text
        assert re.fullmatch(r"\d{9}\|Message envoyé", text), text
        return int(text.split("|")[0])

    try:
        with ThreadPoolExecutor(threads) as pool:
            msgids = list(pool.map(one, dests))
    finally:
        for client in clients:
            client.close()
    return dict(zip(msgids, dests, strict=True))


def events(server: Any) -> dict[int, tuple[int, str, int]]:
    """event id → (msgid, dest, state) from the server's database."""
    with server.db() as conn:
        rows = conn.execute("SELECT id, msgid, dest, state FROM callback_events")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


@pytest.mark.slow
def test_thousand_messages_thousand_signed_callbacks(
    servers: Any, smscs: Any, receiver: Receiver
) -> None:
    """1 000 `envoi` with callback=1 → 1 000 signed callbacks, one per receipt, right statut."""
    smsc = smscs.new("ops", "--deliver-ratio", "0.8", "--expire-ratio", "0.1").start()
    server = servers.new("thousand", PASSERELLE_CALLBACK_ALLOW_PRIVATE="true")
    server.create_account("Rappel", PASSWORD, 1000)
    server.cli("account", "set", "Rappel", "--callback-url", receiver.url)
    server.add_connector("ops", smsc.port)
    server.start()
    secret = secret_of(server, "Rappel")
    sent = envoi_all(server, [f"336{i:08d}" for i in range(1000)])

    deadline = time.monotonic() + 30
    while len(receiver.by_event()) < 1000 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # anything sent twice would show now
    stored = events(server)
    assert len(stored) == 1000
    assert receiver.by_event() == Counter(dict.fromkeys(stored, 1))
    with server.db() as conn:
        stats = dict(
            ((m, d), s) for m, d, s in conn.execute("SELECT msgid, dest, stat FROM recipients")
        )
    now = time.time()
    for fields, body, signature in receiver.hits:
        msgid = int(fields["msgid"])
        assert sent[msgid] == fields["dest"]
        assert fields["stat"] == stats[(msgid, fields["dest"])]
        assert fields["statut"] == STATUT[fields["stat"]]
        assert fields["login"] == "Rappel"
        assert verify(secret, signature, body, now=now)
        t, v1 = (part.split("=", 1)[1] for part in signature.split(","))
        assert v1 == hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert Counter(f["stat"] for f, _, _ in receiver.hits) == {"DELIVRD": 800, "EXPIRED": 100,
                                                               "UNDELIV": 100}  # fmt: skip


@pytest.mark.slow
def test_kill9_while_sending_loses_no_callback(servers: Any, smscs: Any) -> None:
    """kill -9 of `serve` mid-callbacks: after restart every event arrives at least once."""
    receiver = Receiver(delay=0.05)  # 2 at a time: ~40 per second, the kill lands mid-way
    receiver.thread.start()
    try:
        smsc = smscs.new("kill").start()
        server = servers.new(
            "kill9",
            PASSERELLE_CALLBACK_ALLOW_PRIVATE="true",
            PASSERELLE_CALLBACK_LEASE_S="1",
            PASSERELLE_CALLBACK_PER_HOST="2",
        )
        server.create_account("Rappel", PASSWORD, 200)
        server.cli("account", "set", "Rappel", "--callback-url", receiver.url)
        server.add_connector("kill", smsc.port)
        server.start()
        started = time.monotonic()
        envoi_all(server, [f"337{i:08d}" for i in range(200)])
        stored = events(server)
        while len(stored) < 200 and time.monotonic() < started + 20:
            time.sleep(0.05)  # every receipt in: each has its event
            stored = events(server)
        assert len(stored) == 200
        while not receiver.by_event() and time.monotonic() < started + 30:
            time.sleep(0.01)  # the first callbacks are in (at ~40/s, 200 take ~5 s)
        seen_before = len(receiver.by_event())
        server.kill9()
        assert 0 < seen_before < 200, seen_before  # the kill landed while sending

        server.start()
        missing = receiver.wait_for(set(stored), timeout=30)
        assert not missing, f"{len(missing)} of 200 events never arrived"
        assert min(receiver.by_event()[e] for e in stored) >= 1
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        receiver.thread.join(5)
