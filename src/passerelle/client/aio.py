"""`AsyncClient`: the JSON API from asyncio code (the methods of `Client`, awaited)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any

import httpx

from passerelle.client.models import Message
from passerelle.client.retry import (
    Attempts,
    RetryPolicy,
    api_key,
    base_url,
    headers_of,
    new_key,
    send_body,
)


class AsyncClient:
    """A client of one account's JSON API (`url`: the server's address or its
    ``/api/v1``; `key`: an API key; both default to PASSERELLE_API_URL and
    PASSERELLE_API_KEY). Calls that get no answer, 409, 429 or 5xx are retried per
    `retry`; other refusals raise their `ApiRefused` subclass at once."""

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url(url),
            headers=headers_of(api_key(key)),
            timeout=timeout,
            transport=transport,
        )

    async def send(
        self,
        to: Sequence[str] | None = None,
        text: str = "",
        sender: str = "",
        group: str | None = None,
        sender_type: int = 5,
        flash: bool = False,
        callback: bool = False,
        idempotency_key: str | None = None,
    ) -> Message:
        """Send `text` from `sender` to the numbers `to` and/or the contacts of `group`;
        the message as stored. Retried with the same Idempotency-Key (made here when none
        is given): sent and charged once however many attempts it takes."""
        body = send_body(to, text, sender, group, sender_type, flash, callback)
        headers = {"Idempotency-Key": idempotency_key or new_key()}
        response = await self._call("POST", "/messages", json=body, headers=headers)
        replayed = response.headers.get("idempotent-replayed", "").lower() == "true"
        return Message.of(response.json(), replayed)

    async def message(self, msgid: int | str) -> Message:
        """The message `msgid` of the account, with its first 500 recipients."""
        response = await self._call("GET", f"/messages/{int(msgid)}")
        return Message.of(response.json())

    async def balance(self) -> int:
        """The account's credits left."""
        response = await self._call("GET", "/balance")
        return int(response.json()["credits"])

    async def _call(self, method: str, path: str, **options: Any) -> httpx.Response:
        attempts = Attempts(self.retry)
        while True:
            try:
                response = await self._http.request(method, path, **options)
            except httpx.TransportError as error:
                await self._sleep(attempts.failed(error))
                continue
            wait = attempts.answered(response)
            if wait is None:
                return response
            await self._sleep(wait)

    async def close(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()
