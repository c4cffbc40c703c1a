"""Logs through structlog: request context (login, msgid), redaction, the access line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import structlog

from passerelle import logs
from passerelle.api.app import App
from passerelle.redaction import redact_secrets
from tests.support import PASSWORD, asgi_client

BuildApp = Callable[..., Awaitable[App]]


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """setup_logging("info", "json") onto a StringIO; the root handlers restored after."""
    out = io.StringIO()
    monkeypatch.setattr("sys.stderr", out)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    logs.setup_logging("info", "json")
    try:
        yield out
    finally:
        logs.flush_access_log()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def events(out: io.StringIO) -> list[dict[str, Any]]:
    logs.flush_access_log()
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_access_line_carries_login_and_msgid_with_apipasse_redacted(
    app_factory: BuildApp, stderr: io.StringIO
) -> None:
    """envoi logs its login and new msgid, statut the msgid asked, solde the login only;
    the password never reaches the log."""
    app = await app_factory("memory", access_log=True)
    await app.gateway.create_account("alice", "a@example.com", PASSWORD, 10)
    auth = f"login=alice&apipasse={PASSWORD}"
    async with asgi_client(app) as client:
        sent = await client.get(
            f"/client/api?action=envoi&{auth}&origine=Shop&dest=33612345678&msg=Hi"
        )
        msgid = int(sent.text.split("|")[0])
        await client.get(f"/client/api?action=statut&{auth}&msgid={msgid}")
        await client.get(f"/client/api/action/solde/login/alice/apipasse/{PASSWORD}")
        await client.get("/client/api?action=solde&apipasse=x")
    lines = [e for e in events(stderr) if e["logger"] == logs.ACCESS_LOGGER]
    assert [(e["action"], e["login"], e["msgid"]) for e in lines] == [
        ("envoi", "alice", msgid),
        ("statut", "alice", msgid),
        ("solde", "alice", None),
        ("solde", None, None),
    ]
    assert list(lines[0])[-3:] == ["client", "login", "msgid"]
    assert "apipasse=***" in lines[0]["target"] and "/apipasse/***" in lines[2]["target"]
    assert PASSWORD not in stderr.getvalue()


async def test_other_events_of_a_request_carry_its_context(stderr: io.StringIO) -> None:
    """An event logged while a request is handled carries the bound login and msgid."""

    async def request() -> None:
        logs.bind_request()
        logs.bind_login("alice")
        logs.bind_msgid(123456789)
        logging.getLogger("passerelle.test").warning("slow", extra={"ms": 12})

    await asyncio.create_task(request())
    logging.getLogger("passerelle.test").warning("outside")
    inside, outside = events(stderr)
    assert (inside["msg"], inside["ms"], inside["login"], inside["msgid"]) == (
        "slow", 12, "alice", 123456789,
    )  # fmt: skip
    assert "login" not in outside and "msgid" not in outside


def test_bind_request_drops_what_an_earlier_request_bound() -> None:
    """A new request in the same context starts without the previous login and msgid."""

    async def two_requests() -> tuple[object, object]:
        logs.bind_request()
        logs.bind_login("alice")
        logs.bind_msgid(1)
        first = logs.request_context()
        logs.bind_request()
        return first, logs.request_context()

    assert asyncio.run(two_requests()) == (("alice", 1), (None, None))


def test_redaction_processor_hides_secret_fields_and_url_secrets() -> None:
    """Secret-named fields become ***; target and url fields hide their secret values."""
    event = {
        "event": "x",
        "apipasse": "s3cret",
        "Password": "pw",
        "target": "/client/api/apipasse/s3cret?login=a",
        "url": "https://h.example/dlr?token=abc&x=é€",
        "other": "apipasse=kept: not a URL field",
        "msg": "GET http://h/client/api?login=a&APIPASSE=s3cret&x=1 and /api/apipass/s3cret",
    }
    assert redact_secrets(None, "info", event) == {
        "event": "x",
        "apipasse": "***",
        "Password": "***",
        "target": "/client/api/apipasse/***?login=a",
        "url": "https://h.example/dlr?token=***&x=é€",
        "other": "apipasse=kept: not a URL field",
        "msg": "GET http://h/client/api?login=a&APIPASSE=***&x=1 and /api/apipass/***",
    }


def test_structlog_events_share_the_format_and_redaction(stderr: io.StringIO) -> None:
    """A structlog logger writes the same JSON line, fields after msg, secrets hidden."""
    structlog.get_logger("passerelle.test").warning("bound", connector="op", password="pw")
    [event] = events(stderr)
    assert list(event) == ["ts", "level", "logger", "msg", "connector", "password"]
    assert (event["logger"], event["msg"], event["password"]) == ("passerelle.test", "bound", "***")


def test_exception_is_the_last_field(stderr: io.StringIO) -> None:
    """A logged exception is rendered as `exc`, after the event's own fields."""
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("passerelle.test").exception("failed", extra={"ref": "abc"})
    [event] = events(stderr)
    assert list(event)[-2:] == ["ref", "exc"] and "RuntimeError: boom" in event["exc"]


def test_no_module_state_in_logs() -> None:
    """logs.py keeps no mutable module-level state: the writer hangs on the handler."""
    mutable = (list, dict, set, logs.AccessLog)
    found = [n for n, v in vars(logs).items() if isinstance(v, mutable) and not n.startswith("__")]
    assert not found


@pytest.mark.parametrize(
    ("given", "bound"),
    [("123456789", 123456789), ("9" * 5000, "9" * 5000), ("²", "²"), ("12a", "12a"), (7, 7)],
    ids=["digits", "huge", "unicode-digit", "text", "int"],
)
def test_msgid_bound_as_a_number_only_when_it_reads_as_one(given: int | str, bound: object) -> None:
    """A statut msgid is logged as a number when it is one, else as given (never raises)."""

    async def request() -> object:
        logs.bind_request()
        logs.bind_msgid(given)
        return logs.request_context()[1]

    assert asyncio.run(request()) == bound
