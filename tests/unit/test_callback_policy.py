"""Callback policy (docs/callbacks.md): signatures, request, SSRF guard, retry decision.

Pure parts only: no socket is opened here. The guard is exercised on literal
addresses (resolved without DNS) and on ``localhost``; the retry decision is driven
with a fixed jitter draw.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import itertools
from collections.abc import Callable
from urllib.parse import parse_qsl

import pytest
from prometheus_client import CollectorRegistry

from passerelle.core.signature import EVENT_HEADER, HEADER, sign, verify
from passerelle.core.values import CallbackAttempt, CallbackJob, CallbackOutcome
from passerelle.service_workers import Operations
from passerelle.store.memory import MemoryStore
from passerelle.webhooks import guard
from passerelle.webhooks.client import target_of
from passerelle.webhooks.metrics import CallbackMetrics
from passerelle.webhooks.sender import BRISK_FOR_S, CallbackSender, fields_of, pause, request_of
from tests.support import make_settings

SECRET = "3f2a9c0d5e6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c0b1a2f"
T0 = 1_700_000_000.0
HOUR = 3600.0


def job(
    method: str = "POST", url: str = "https://client.example/dlr", attempts: int = 0
) -> CallbackJob:
    """A claimed event of `alice` for a delivered SMS."""
    return CallbackJob(
        id=42,
        login="alice",
        url=url,
        method=method,
        secret=SECRET,
        msgid=123456789,
        dest="33612345678",
        statut=1,
        stat="DELIVRD",
        err="000",
        occurred_at=T0,
        created_at=T0,
        attempts=attempts,
        claim=T0 + 30,
    )


def independent_mac(secret: str, timestamp: str, payload: bytes) -> str:
    """HMAC-SHA256 keyed with the secret's UTF-8 bytes over "<t>." + payload (docs/callbacks.md)."""
    message = timestamp.encode() + b"." + payload
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def parse(header: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in header.split(","))


# --- signatures -----------------------------------------------------------------------


def test_sign_matches_an_independent_hmac() -> None:
    """The header is ``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``."""
    body = b"msgid=1&dest=33612345678"
    header = sign(SECRET, 1_700_000_000, body)
    assert header == f"t=1700000000,v1={independent_mac(SECRET, '1700000000', body)}"


def test_verify_accepts_the_signed_payload() -> None:
    """verify() accepts what sign() produced, within the tolerance."""
    header = sign(SECRET, int(T0), b"a=1")
    assert verify(SECRET, header, b"a=1", now=T0 + 299)


@pytest.mark.parametrize(
    ("secret", "payload", "now"),
    [
        (SECRET, b"a=2", T0),  # tampered body
        ("another-secret", b"a=1", T0),  # wrong secret (e.g. rotated)
        (SECRET, b"a=1", T0 + 301),  # replayed too late
        (SECRET, b"a=1", T0 - 301),  # from the future
    ],
    ids=["tampered", "wrong-secret", "stale", "future"],
)
def test_verify_rejects(secret: str, payload: bytes, now: float) -> None:
    """A tampered body, another secret or a timestamp out of tolerance fails."""
    assert not verify(secret, sign(SECRET, int(T0), b"a=1"), payload, now=now)


@pytest.mark.parametrize("header", ["", "garbage", "t=abc,v1=00", "v1=00", "t=1700000000"])
def test_verify_rejects_malformed_headers(header: str) -> None:
    """A missing or malformed signature header never verifies (and never raises)."""
    assert not verify(SECRET, header, b"a=1", now=T0)


# --- the request ----------------------------------------------------------------------


def header_lines(lines: str) -> dict[str, str]:
    """The CRLF-terminated header lines the sender hands to its client, as a dict."""
    assert lines.endswith("\r\n")
    return dict(line.split(": ", 1) for line in lines[:-2].split("\r\n"))


def test_post_request_is_a_signed_form() -> None:
    """POST: form body with the documented fields in order, signed, with the event id."""
    target, method, path, body, lines = request_of(job(), T0 + 5.7)
    assert (target.origin, target.tls, method, path) == (
        "https://client.example:443",
        True,
        "POST",
        "/dlr",
    )
    assert body is not None
    assert parse_qsl(body.decode()) == [
        ("msgid", "123456789"),
        ("dest", "33612345678"),
        ("statut", "1"),
        ("stat", "DELIVRD"),
        ("err", "000"),
        ("date", "2023-11-14T22:13:20Z"),
        ("login", "alice"),
        ("event_id", "42"),
    ]
    headers = header_lines(lines)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers[EVENT_HEADER] == "42"
    signature = parse(headers[HEADER])
    assert signature["t"] == str(int(T0 + 5.7))
    assert signature["v1"] == independent_mac(SECRET, signature["t"], body)
    assert verify(SECRET, headers[HEADER], body, now=T0 + 6)


def test_get_request_signs_the_query() -> None:
    """GET: the same fields in the query (after the URL's own), the query is what is signed."""
    target, method, path, body, lines = request_of(job("GET", "https://c.example/dlr?k=v"), T0)
    assert method == "GET" and body is None
    assert target.head == b"Host: c.example\r\n"
    base, _, query = path.partition("?")
    assert base == "/dlr"
    assert query.startswith("k=v&msgid=123456789&")
    assert query.encode() == b"k=v&" + request_of(job(), T0)[3]  # type: ignore[operator]
    headers = header_lines(lines)
    assert "Content-Type" not in headers
    assert parse(headers[HEADER])["v1"] == independent_mac(SECRET, str(int(T0)), query.encode())


def test_missing_err_is_an_empty_field() -> None:
    """A final state without an operator error code sends ``err=`` (empty)."""
    assert dict(fields_of(dataclasses.replace(job(), err=None)))["err"] == ""


# --- SSRF guard -----------------------------------------------------------------------

FORBIDDEN = [
    "127.0.0.1",
    "127.1.2.3",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1%eth0",
    "fd00::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "2002:5db8:d822::1"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_forbidden_addresses(address: str) -> None:
    """Loopback, private, link-local, CGNAT, multicast, unspecified (also v4-mapped) are refused."""
    assert guard.forbidden(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_allowed(address: str) -> None:
    """Public unicast addresses pass."""
    assert not guard.forbidden(address)


async def check(url: str, allow_private: bool) -> None:
    """The guard as the sender applies it: the URL parsed as the client parses it, then its
    host's addresses checked."""
    target = target_of(url)
    await guard.addresses(target.host, target.port, allow_private)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.1:8080/dlr", "127.0.0.1"),
        ("http://10.0.0.1/dlr", "10.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("https://[::1]/dlr", "::1"),
        ("http://0x7f000001/dlr", "127.0.0.1"),  # numeric forms resolve like the address
        ("http://2130706433/dlr", "127.0.0.1"),
    ],
)
async def test_check_refuses_private_targets(url: str, address: str) -> None:
    """A URL whose host resolves to a private address is refused by the guard itself."""
    with pytest.raises(guard.Refused, match=f"resolves to {address}, a private address"):
        await check(url, allow_private=False)


async def test_check_refuses_localhost_by_name() -> None:
    """A host name resolving to loopback is refused like the address."""
    with pytest.raises(guard.Refused, match="a private address"):
        await check("http://localhost:8080/dlr", allow_private=False)


@pytest.mark.parametrize(
    "url",
    ["ftp://client.example/dlr", "file:///etc/passwd", "/relative", "http:///nohost", "gopher://x"],
)
@pytest.mark.parametrize("allow_private", [False, True])
async def test_check_refuses_other_schemes(url: str, allow_private: bool) -> None:
    """Only absolute http(s) URLs, whatever the private-target setting."""
    with pytest.raises(guard.Refused, match="absolute http"):
        await check(url, allow_private=allow_private)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/dlr", "http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/"],
)
async def test_check_allows_private_targets_when_told(url: str) -> None:
    """PASSERELLE_CALLBACK_ALLOW_PRIVATE=true lets private targets through."""
    await check(url, allow_private=True)


async def test_check_allows_public_literal() -> None:
    """A public literal address passes (resolution of a literal needs no DNS)."""
    await check("https://93.184.216.34/dlr", allow_private=False)


# --- retry decision -------------------------------------------------------------------


def sender(jitter: float = 0.0, **settings: object) -> CallbackSender:
    """A sender over the memory twin (decide() reads only the policy and the draw)."""
    return CallbackSender(
        Operations(MemoryStore()),
        make_settings(**settings),
        CallbackMetrics(CollectorRegistry()),
        clock=lambda: T0,
        rng=constant(jitter),
    )


def constant(value: float) -> Callable[[], float]:
    return lambda: value


def attempt(status: int | None, at: float = T0, error: str | None = None) -> CallbackAttempt:
    return CallbackAttempt(at, status, 1.0, error)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_delivered(status: int) -> None:
    """Any 2xx answer is a delivery; nothing more is scheduled."""
    assert sender().decide(job(), attempt(status)) == (CallbackOutcome.DELIVERED, None)


def test_410_stops() -> None:
    """410 Gone stops for good, whatever the attempt number."""
    assert sender().decide(job(attempts=3), attempt(410)) == (CallbackOutcome.GONE, None)


@pytest.mark.parametrize("status", [None, 100, 301, 302, 400, 404, 429, 500, 503])
def test_other_answers_retry(status: int | None) -> None:
    """Timeouts, refusals, redirects and other statuses are retried 10 s later (no jitter)."""
    outcome, at = sender(jitter=1.0).decide(job(), attempt(status, T0))
    assert outcome is CallbackOutcome.RETRY
    assert at == pytest.approx(T0 + 10.0)


@pytest.mark.parametrize(
    ("attempts", "base"),
    [(0, 10), (1, 20), (2, 40), (3, 80), (6, 640), (8, 2560), (9, 3600), (20, 3600)],
)
@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999])
def test_backoff_doubles_to_an_hour_with_jitter(attempts: int, base: float, jitter: float) -> None:
    """10 s doubling, capped at 1 h, the delay drawn between 50 % and 100 % of it."""
    now = T0 + 100.0
    outcome, at = sender(jitter).decide(job(attempts=attempts), attempt(500, now))
    assert outcome is CallbackOutcome.RETRY
    assert at is not None
    delay = at - now
    assert delay == pytest.approx(base * (0.5 + 0.5 * jitter))
    assert 0.5 * base <= delay <= base


def test_whole_schedule_ends_failed_at_the_horizon() -> None:
    """Retrying a dead receiver: attempts until 72 h after the event, then failed."""
    decide = sender(jitter=0.5).decide
    now, attempts, times = T0, 0, [T0]
    for _ in range(1000):  # bounded: ~100 attempts fit in 72 h
        outcome, at = decide(job(attempts=attempts), attempt(None, now, "timeout"))
        if outcome is CallbackOutcome.FAILED:
            break
        assert outcome is CallbackOutcome.RETRY and at is not None
        now, attempts = at, attempts + 1
        times.append(now)
    else:
        pytest.fail("never gave up")
    assert times[-1] - T0 <= 72 * HOUR
    assert times[-1] + 0.75 * HOUR - T0 > 72 * HOUR  # the next one would pass the horizon
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[:4] == pytest.approx([7.5, 15, 30, 60])
    assert max(gaps) == pytest.approx(0.75 * HOUR)
    assert 90 < len(times) < 110


def test_horizon_is_a_setting() -> None:
    """PASSERELLE_CALLBACK_HORIZON_S shortens the horizon: a late failure is final."""
    late = sender(jitter=0.0, callback_horizon_s=60.0)
    assert late.decide(job(attempts=2), attempt(500, T0 + 55)) == (CallbackOutcome.FAILED, None)
    assert late.decide(job(attempts=0), attempt(500, T0))[0] is CallbackOutcome.RETRY


# --- polling --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since_busy", "expected"),
    [(0.0, 0.02), (BRISK_FOR_S - 0.01, 0.02), (BRISK_FOR_S, 0.2), (3600.0, 0.2)],
)
def test_poll_is_brisk_only_while_events_flow(since_busy: float, expected: float) -> None:
    """Empty claims are retried every 20 ms for 2 s after the last busy one, then every poll."""
    assert pause(0.2, since_busy) == expected


def test_poll_never_exceeds_the_configured_one() -> None:
    """A configured poll below the brisk one is kept as it is."""
    assert pause(0.005, 0.0) == 0.005
    assert pause(0.005, 3600.0) == 0.005
