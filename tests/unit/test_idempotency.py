"""Idempotency-Keys without a database: the request digest, refusals given back from
their legacy code, and `send_once` on the in-memory twin."""

from __future__ import annotations

import hashlib

import pytest

from passerelle import exceptions as exc
from passerelle.core.idempotency import request_digest
from passerelle.core.message import SendRequest
from passerelle.service import Gateway
from passerelle.service_idempotency import Outcome, send_once
from tests.support import PASSWORD

REQUEST = SendRequest(dest="33612345601", sender="Acme", text="Bonjour")


def test_request_digest_is_the_sha256_of_the_body() -> None:
    """The digest is the body's SHA-256 in hex: 64 characters, as the column holds."""
    assert request_digest(b"{}") == hashlib.sha256(b"{}").hexdigest()
    assert len(request_digest(b"")) == 64


def test_a_refusal_comes_back_from_its_code() -> None:
    """Each legacy code gives its ApiError back; 17 and unknown codes a bare 99."""
    assert isinstance(exc.api_error_of("02"), exc.NoCredit)
    assert isinstance(exc.api_error_of("15"), exc.TooManyRecipients)
    assert type(exc.api_error_of("17")) is exc.ApiError
    assert exc.api_error_of("77").answer() == "99|Erreur interne"


async def test_send_once_replays_and_refuses_on_the_twin(memory_gateway: Gateway) -> None:
    """On the twin: a retry replays the msgid, another body is a mismatch, and a failed
    check naming a parameter (17) is not remembered."""
    account = await memory_gateway.create_account("acme", "a@x.fr", PASSWORD, credits=5)
    first = await send_once(memory_gateway, account, REQUEST, "k", "h1")
    assert await send_once(memory_gateway, account, REQUEST, "k", "h1") == Outcome(
        first.msgid, None, True
    )
    with pytest.raises(exc.IdempotencyMismatch):
        await send_once(memory_gateway, account, REQUEST, "k", "h2")
    bad = SendRequest(dest="33612345601", sender="Acme", text="Bonjour", sender_type="9")
    for _ in range(2):  # checked again, not replayed
        refused = await send_once(memory_gateway, account, bad, "k2", "h3")
        assert isinstance(refused.error, exc.InvalidParameter) and not refused.replayed
    assert await memory_gateway.store.count_messages(account.id) == 1
