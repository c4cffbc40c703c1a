"""Hostile HTTP against a real `passerelle serve`: every bound holds and nothing leaks.

Each test reproduces an attack or a client mistake byte for byte over a raw socket:
bodies of hundreds of thousands of fields, a megabyte header, idle and slow
connections, bodies that never end, HEAD, raw bytes in the request line, and more
connections than descriptors. Time bounds here are generous regression guards (the
attacks used to freeze the process for tens of seconds); latency figures are measured
by `bench/hostile.py`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

LOGIN, PASSWORD = "hostile", "hostile-pass-1"
AUTH = f"login={LOGIN}&apipasse={PASSWORD}".encode()
SEND = b"action=envoi&" + AUTH + b"&msg=x&dest=33612345678&origine=Test"
CREDITS = 1000
MAX_BODY = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def limited(servers: Any) -> Any:
    """A server with short HTTP timeouts (head 1 s, body 2 s, keep-alive 1 s)."""
    server = servers.new(
        "limited",
        PASSERELLE_HTTP_HEADER_TIMEOUT_S="1",
        PASSERELLE_HTTP_BODY_TIMEOUT_S="2",
        PASSERELLE_HTTP_KEEPALIVE_S="1",
    )
    server.create_account(LOGIN, PASSWORD, credits=CREDITS)
    return server.start()


def post(body: bytes, content_type: bytes = b"application/x-www-form-urlencoded") -> bytes:
    return (
        b"POST /client/api HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: " + content_type + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )


def get(target: bytes, method: bytes = b"GET") -> bytes:
    return method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def state(server: Any) -> tuple[int, int, int]:
    """(balance, messages, ledger rows): what a request with no effect leaves unchanged."""
    with server.db() as conn:
        (credits,) = conn.execute(
            "SELECT credits FROM accounts WHERE login = ?", (LOGIN,)
        ).fetchone()
        (messages,) = conn.execute("SELECT count(*) FROM messages").fetchone()
        (ledger,) = conn.execute("SELECT count(*) FROM ledger").fetchone()
    return credits, messages, ledger


@contextlib.contextmanager
def healthz_watch(server: Any) -> Iterator[list[float]]:
    """Time `/healthz` every 50 ms meanwhile; yields the list of latencies (seconds)."""
    latencies: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
            while not stop.is_set():
                started = time.monotonic()
                assert client.get("/healthz").text == "ok"
                latencies.append(time.monotonic() - started)
                stop.wait(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    time.sleep(0.2)
    try:
        yield latencies
    finally:
        stop.set()
        thread.join(70)


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes `sock` (reading and dropping what it sends)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    with contextlib.suppress(ConnectionResetError):
        while sock.recv(65536):
            pass
    return time.monotonic() - started


@pytest.mark.parametrize(
    "content_type",
    [b"multipart/form-data; boundary=B", b"multipart/form-data; xboundary=Z; boundary=B"],
)
def test_466000_empty_parts_answer_18_and_healthz_keeps_answering(
    limited: Any, content_type: bytes
) -> None:
    """A 4 MB multipart body of 466 000 empty parts is refused (18) and never freezes the
    loop, however the boundary is spelled."""
    body = b"--B\r\n\r\n\r\n" * 466_000
    assert len(body) <= MAX_BODY
    with healthz_watch(limited) as latencies:
        answer = limited.raw(post(body, content_type))
    assert answer.body.decode() == "18|Trop de paramètres"
    assert latencies and max(latencies) < 1.0, max(latencies)


def test_a_million_pairs_answer_18(limited: Any) -> None:
    """A form body of 1 000 000 pairs is refused (18) without decoding them."""
    with healthz_watch(limited) as latencies:
        answer = limited.raw(post(b"a=1&" * 1_000_000))
    assert answer.body.decode() == "18|Trop de paramètres"
    assert max(latencies) < 1.0, max(latencies)


@pytest.mark.parametrize("separator", [b",", b"%2C"])
def test_a_body_at_the_size_limit_is_answered_while_healthz_answers(
    limited: Any, separator: bytes
) -> None:
    """A 4 MB `dest` list (290 000 numbers) is read off the loop and answered 15."""
    numbers = separator.join(b"336%08d" % i for i in range(290_000))
    body = (b"action=envoi&" + AUTH + b"&msg=x&origine=Test&dest=" + numbers)[:MAX_BODY]
    before = state(limited)
    with healthz_watch(limited) as latencies:
        answer = limited.raw(post(body))
    assert answer.body.decode() == "15|Trop de destinataires"
    assert max(latencies) < 1.0, max(latencies)
    assert state(limited) == before


def test_a_megabyte_header_gets_431_at_once(limited: Any) -> None:
    """A 1 MB header line is answered 431 and the server stays healthy."""
    request = b"GET /client/api HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    started = time.monotonic()
    answer = limited.raw(request)
    assert answer.status == 431
    assert time.monotonic() - started < 3  # no parse of the megabyte (a 128 MB one took 20 s)
    long_target = get(b"/client/api?action=solde&" + AUTH + b"&pad=" + b"b" * 70_000)
    assert limited.raw(long_target).status == 431
    assert httpx.get(limited.base_url + "/healthz").text == "ok"


def test_a_head_just_under_the_limit_is_served(limited: Any) -> None:
    """A 60 KiB head is still an ordinary request."""
    request = (
        b"GET /client/api?action=solde&" + AUTH + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"X-Pad: " + b"p" * (60 * 1024) + b"\r\n\r\n"
    )
    assert limited.raw(request).body.decode() == f"{state(limited)[0]} SMS"


def test_idle_connection_is_closed_after_the_header_timeout(limited: Any) -> None:
    """A connection that sends nothing is closed within the 1 s header timeout."""
    with socket.create_connection(("127.0.0.1", limited.port)) as sock:
        assert closed_within(sock, 10) < 5


def test_slow_header_is_closed_after_the_header_timeout(limited: Any) -> None:
    """One byte every 0.3 s never completes a head: closed near the 1 s timeout."""
    with socket.create_connection(("127.0.0.1", limited.port)) as sock:
        started = time.monotonic()
        closed = False
        for byte in b"GET /client/api?action=solde HTTP/1.1\r\nHost: x\r\n":
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            sock.settimeout(0.3)
            try:
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
        assert closed, "the slow head was never cut"
        assert time.monotonic() - started < 5


def test_kept_alive_idle_connection_is_closed(limited: Any) -> None:
    """After an answer, an idle kept-alive connection is closed within the 1 s keep-alive."""
    with socket.create_connection(("127.0.0.1", limited.port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in sock.recv(65536)
        assert closed_within(sock, 10) < 5


def test_slow_body_is_cut_and_has_no_effect(limited: Any) -> None:
    """A body that stops coming is cut after the 2 s body timeout: nothing stored or charged."""
    before = state(limited)
    body = SEND
    head = b"POST /client/api HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (len(body) + 10)
    with socket.create_connection(("127.0.0.1", limited.port)) as sock:
        sock.sendall(head + body)
        assert closed_within(sock, 15) < 10
    assert state(limited) == before


@pytest.mark.parametrize("close", ["shutdown-write", "close"])
def test_a_body_shorter_than_its_length_has_no_effect(limited: Any, close: str) -> None:
    """A client gone 40 bytes before its Content-Length: nothing stored, nothing charged."""
    before = state(limited)
    head = b"POST /client/api HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (len(SEND) + 40)
    with socket.create_connection(("127.0.0.1", limited.port)) as sock:
        sock.sendall(head + SEND)
        if close == "shutdown-write":
            sock.shutdown(socket.SHUT_WR)
            assert closed_within(sock, 10) < 5
    time.sleep(0.5)  # room for a (wrong) write to land before we look
    assert state(limited) == before
    assert limited.raw(post(SEND)).body.decode().endswith("|Message envoyé")  # control
    assert state(limited)[1] == before[1] + 1


def test_a_chunked_body_without_its_last_chunk_has_no_effect(limited: Any) -> None:
    """A chunked body whose final `0` chunk never comes: nothing stored, nothing charged."""
    before = state(limited)
    request = (
        b"POST /client/api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(SEND)
        + SEND
        + b"\r\n"
    )
    with socket.create_connection(("127.0.0.1", limited.port)) as sock:
        sock.sendall(request)
        time.sleep(0.3)
        sock.shutdown(socket.SHUT_WR)
        assert closed_within(sock, 10) < 5
    time.sleep(0.5)
    assert state(limited) == before
    complete = request.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1)
    assert limited.raw(complete + b"0\r\n\r\n").body.decode().endswith("|Message envoyé")


def test_head_sends_charges_and_stores_nothing(limited: Any, check: Any) -> None:
    """HEAD on `envoi` answers the GET's status and type with no body, and does nothing."""
    before = state(limited)
    target = b"/client/api?" + SEND
    for path in (target, target.replace(b"/client/api?", b"/client/api/index.php?")):
        answer = limited.raw(get(path, b"HEAD"))
        assert answer.status == 200
        assert answer.headers["content-type"] == check.CONTENT_TYPE
        assert answer.body == b""
    for _ in range(40):  # HEAD checks no password: it cannot be used to guess one
        limited.raw(
            get(b"/client/api?action=solde&login=" + LOGIN.encode() + b"&apipasse=x", b"HEAD")
        )
    time.sleep(0.3)
    assert state(limited) == before
    assert limited.raw(get(b"/client/api?action=solde&" + AUTH)).body.decode() == (
        f"{before[0]} SMS"
    )


@pytest.mark.parametrize(
    ("raw_msg", "stored"),
    [
        ("été".encode(), "été"),
        ("été".encode("latin-1"), "été"),
        (b"Caf\xc3\xa9+cr\xc3\xa8me", "Café crème"),
    ],
    ids=["utf-8", "latin-1", "utf-8-with-plus"],
)
def test_raw_bytes_in_the_url_read_as_their_encoded_form(
    limited: Any, raw_msg: bytes, stored: str
) -> None:
    """Unencoded bytes >= 0x80 in a query get `msgid|Message envoyé` and the right text."""
    target = (
        b"/client/api?action=envoi&" + AUTH + b"&msg=" + raw_msg + b"&dest=33612345678&origine=X"
    )
    answer = limited.raw(get(target))
    assert answer.status == 200
    text = answer.body.decode()
    assert text.endswith("|Message envoyé"), text
    with limited.db() as conn:
        (kept,) = conn.execute(
            "SELECT text FROM messages WHERE msgid = ?", (int(text.split("|")[0]),)
        ).fetchone()
    assert kept == stored


def test_raw_bytes_in_path_style_and_pipelined(limited: Any) -> None:
    """Raw bytes in a path-style request pipelined after another one are read too."""
    first = b"GET /client/api?action=solde&" + AUTH + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    second = get(
        b"/client/api/action/envoi/login/"
        + LOGIN.encode()
        + b"/apipasse/"
        + PASSWORD.encode()
        + b"/msg/d\xe9j\xe0/dest/33612345678/origine/X"
    )
    with socket.create_connection(("127.0.0.1", limited.port), timeout=10) as sock:
        sock.sendall(first + second)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 2, data
    msgid = int(data.decode().rsplit("\r\n\r\n", 1)[1].split("|")[0])
    with limited.db() as conn:
        (kept,) = conn.execute("SELECT text FROM messages WHERE msgid = ?", (msgid,)).fetchone()
    assert kept == "déjà"


def test_control_characters_in_the_url_keep_their_400(limited: Any) -> None:
    """A control character in the request line is still refused by the HTTP parser."""
    answer = limited.raw(get(b"/client/api?action=solde&msg=a\x01b"))
    assert answer.status == 400


def test_more_connections_than_descriptors_get_a_clean_refusal(servers: Any) -> None:
    """With 256 descriptors, 300 idle sockets: the extra ones get 503 `16|…`, the database
    keeps its descriptors, and the server serves again once they are gone."""
    server = servers.new("fd-limit", PASSERELLE_HTTP_HEADER_TIMEOUT_S="3")
    server.launcher = ("prlimit", "--nofile=256:256", "--")
    server.create_account(LOGIN, PASSWORD, credits=CREDITS)
    server.start()
    held: list[socket.socket] = []
    refused = 0
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            held.append(sock)
        for sock in held:
            sock.settimeout(0.05)
            try:
                data = sock.recv(4096)
            except TimeoutError:
                continue
            if data.startswith(b"HTTP/1.1 503"):
                assert data.endswith("16|Trop de requêtes".encode())
                refused += 1
        assert 0 < refused < 300
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 15
    while True:
        answer = server.raw(post(SEND))
        if answer.status == 200:
            break
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)
    assert answer.body.decode().endswith("|Message envoyé")
    assert "unable to open database file" not in server.log_text()
    assert "Traceback" not in server.log_text()


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_megabyte_of_chunked_trailers_gets_431(limited: Any) -> None:
    """Trailers after the last chunk count as head: 1 MB of them is refused, nothing stored."""
    before = state(limited)
    request = (
        b"POST /client/api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(SEND)
        + SEND
        + b"\r\n0\r\nX-Trailer: "
        + b"t" * (1024 * 1024)
        + b"\r\n\r\n"
    )
    started = time.monotonic()
    answer = limited.raw(request)
    assert answer.status == 431
    assert time.monotonic() - started < 3
    time.sleep(0.3)
    assert state(limited) == before


def test_a_pipelined_refusal_never_overtakes_an_answer(limited: Any) -> None:
    """An envoi then a 70 KiB head in one packet: the envoi's answer comes first, then 431."""
    before = state(limited)
    first = b"GET /client/api?" + SEND + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    second = b"GET /client/api HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", limited.port), timeout=10) as sock:
        sock.sendall(first + second)
        data = read_all(sock)
    assert data.index(b"|Message envoy") < data.index(b"431 Request Header Fields Too Large")
    assert state(limited)[1] == before[1] + 1


def test_raw_bytes_in_a_head_pipelined_after_a_body(limited: Any) -> None:
    """A POST, then in the same packet a GET with raw UTF-8 in its URL: both answered."""
    first = b"POST /client/api HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(SEND) + SEND
    second = get(
        b"/client/api?action=envoi&" + AUTH + b"&msg=\xc3\xa9t\xc3\xa9&dest=33612345678&origine=X"
    )
    with socket.create_connection(("127.0.0.1", limited.port), timeout=10) as sock:
        sock.sendall(first + second)
        data = read_all(sock)
    assert data.count(b"HTTP/1.1 200 OK") == 2, data
    assert data.count("|Message envoyé".encode()) == 2, data


def test_a_head_split_after_a_chunked_body_is_served(limited: Any) -> None:
    """A chunked POST with the start of the next head, then its blank line in another read."""
    first = (
        b"POST /client/api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(SEND)
        + SEND
        + b"\r\n0\r\n\r\n"
        + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close"
    )
    with socket.create_connection(("127.0.0.1", limited.port), timeout=10) as sock:
        sock.sendall(first)
        time.sleep(0.3)
        sock.sendall(b"\r\n\r\n")
        data = read_all(sock)
    assert data.count(b"HTTP/1.1 200 OK") == 2, data
    assert data.endswith(b"ok"), data
