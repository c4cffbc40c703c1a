"""The Connect-Mobile legacy API, ``/client/api`` (DESIGN section 1, docs/api.md).

A plain ASGI handler, not a framework route: this is the hot path, and it needs the
raw path (path style keeps ``%2F`` inside a value) and raw bytes (UTF-8 or
Windows-1252 per value).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from passerelle import exceptions as exc
from passerelle.api.errors import answer_for
from passerelle.api.metrics import Metrics
from passerelle.core.codes import SENT_LABEL, STATUS_LABELS
from passerelle.core.message import validate_send
from passerelle.core.params import (
    LegacyParams,
    merge,
    parse_multipart,
    parse_path,
    parse_urlencoded,
)
from passerelle.logs import redact_target
from passerelle.service import Gateway

log = logging.getLogger("passerelle.access")

PREFIX = b"/client/api"
INDEX = b"/client/api/index.php"
ACTIONS = ("envoi", "statut", "solde")
ALLOWED = b"GET, POST, HEAD"


def is_legacy_path(path: str) -> bool:
    """True for ``/client/api``, ``/client/api/...`` (path style and index.php)."""
    return path == "/client/api" or path.startswith("/client/api/")


class BodyTooLarge(exc.TooManyRecipients):
    """A POST body over the size limit (answered 15: it can only be a huge `dest`)."""


class LegacyApi:
    """ASGI handler for the legacy paths."""

    def __init__(self, gateway: Gateway, metrics: Metrics) -> None:
        self.gateway = gateway
        self.metrics = metrics
        settings = gateway.settings
        self._charset = settings.legacy_charset
        self._content_type = f"text/plain; charset={settings.legacy_charset}".encode()
        self._max_body = settings.max_body_bytes
        self._access_log = settings.access_log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = time.perf_counter()
        method: str = scope["method"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        raw_path = raw_path.partition(b"?")[0]
        query: bytes = scope.get("query_string", b"")
        if method not in ("GET", "POST", "HEAD"):
            await self._send(send, 405, b"Method Not Allowed", [(b"allow", ALLOWED)])
            return
        action = "other"
        try:
            places = [self._path_params(raw_path), parse_urlencoded(query)]
            if method == "POST":
                places.append(await self._body_params(scope, receive))
            params = LegacyParams.from_mapping(merge(places))
            action = params.action if params.action in ACTIONS else "other"
            line = await self._answer(params, scope, via_post=method == "POST")
            code = "ok"
        except Exception as error:  # every failure gets a legacy answer, never a 500
            line, code = answer_for(error, redact_target(raw_path, query))
        # uvicorn sends no body for HEAD but keeps the content-length of the GET answer
        await self._send(send, 200, line.encode(self._charset, "replace"))
        elapsed = time.perf_counter() - started
        self.metrics.requests.labels(action, code).inc()
        self.metrics.latency.labels(action).observe(elapsed)
        if self._access_log:
            client = scope.get("client")
            log.info(
                "request",
                extra={
                    "method": method,
                    "target": redact_target(raw_path, query),
                    "action": action,
                    "code": code,
                    "ms": round(elapsed * 1000, 2),
                    "client": client[0] if client else None,
                },
            )

    def _path_params(self, raw_path: bytes) -> dict[str, str]:
        if raw_path.startswith(INDEX):
            return parse_path(raw_path, INDEX)
        return parse_path(raw_path, PREFIX)

    async def _body_params(self, scope: dict[str, Any], receive: Any) -> dict[str, str]:
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise BodyTooLarge()
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = ""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
                break
        if content_type.lower().startswith("multipart/form-data"):
            return parse_multipart(body, content_type)
        return parse_urlencoded(body)

    async def _answer(self, params: LegacyParams, scope: dict[str, Any], via_post: bool) -> str:
        """Checks in the documented order: 11, 16, 01, 14, then per action."""
        if params.action not in ACTIONS:
            raise exc.UnknownAction()
        client = scope.get("client")
        address = client[0] if client else "unknown"
        gateway = self.gateway
        account = await gateway.authenticate(params.login, params.apipasse, address)
        if params.action == "envoi":
            settings = gateway.settings
            limit = settings.max_recipients_post if via_post else settings.max_recipients_get
            msgid = await gateway.send(account, validate_send(params, limit))
            return f"{msgid}|{SENT_LABEL}"
        if params.action == "statut":
            statut = await gateway.status(account, params.msgid, params.dest)
            return f"{statut}|{STATUS_LABELS[statut]}"
        return f"{await gateway.balance(account)} SMS"

    async def _send(
        self, send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        headers = [(b"content-type", self._content_type), (b"content-length", b"%d" % len(body))]
        if extra:
            headers.extend(extra)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
