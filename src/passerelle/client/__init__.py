"""A small typed client of the JSON API (`/api/v1`, docs/api-v1.md), on httpx.

``Client`` (synchronous) and ``AsyncClient`` (asyncio) have the same methods: `send`,
`message`, `balance`. Sends carry an Idempotency-Key (made when none is given) and are
retried with it, so a send is never made or charged twice (`retry.py`). Refusals raise
the `ApiRefused` subclasses of `passerelle.exceptions`; no answer at all, or retries
spent, raises `ClientUnavailable`.

    from passerelle.client import Client

    with Client("http://localhost:8000", "psl_...") as api:
        sent = api.send(["33611111111"], "Your code is 1234", sender="Shop")
        print(sent.msgid, api.balance())
"""

from __future__ import annotations

from passerelle.client.aio import AsyncClient
from passerelle.client.models import FINAL_STATES, Message, Recipient
from passerelle.client.retry import NO_RETRY, RetryPolicy
from passerelle.client.sync import Client
from passerelle.exceptions import (
    ApiRefused,
    ClientBadCredentials,
    ClientBadRequest,
    ClientConflict,
    ClientError,
    ClientForbidden,
    ClientNoCredit,
    ClientNotFound,
    ClientRateLimited,
    ClientTooLarge,
    ClientUnavailable,
)

__all__ = [
    "FINAL_STATES",
    "NO_RETRY",
    "ApiRefused",
    "AsyncClient",
    "Client",
    "ClientBadCredentials",
    "ClientBadRequest",
    "ClientConflict",
    "ClientError",
    "ClientForbidden",
    "ClientNoCredit",
    "ClientNotFound",
    "ClientRateLimited",
    "ClientTooLarge",
    "ClientUnavailable",
    "Message",
    "Recipient",
    "RetryPolicy",
]
