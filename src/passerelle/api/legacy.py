"""The Connect-Mobile legacy API, ``/client/api`` (DESIGN section 1, docs/api.md).

A plain ASGI handler, not a framework route: this is the hot path, and it needs the
raw path (path style keeps ``%2F`` inside a value) and raw bytes (UTF-8 or
Windows-1252 per value).
"""

from __future__ import annotations

from time import perf_counter
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
from passerelle.logs import log_access, redact_target
from passerelle.service import Gateway

PREFIX = b"/client/api"
INDEX = b"/client/api/index.php"
ACTIONS = ("envoi", "statut", "solde")
ALLOWED = b"GET, POST, HEAD"
METHODS = frozenset({"GET", "POST", "HEAD"})
BARE_PATHS = frozenset({PREFIX, PREFIX + b"/", INDEX, INDEX + b"/"})


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
        started = perf_counter()
        method: str = scope["method"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        if b"?" in raw_path:
            raw_path = raw_path.partition(b"?")[0]
        query: bytes = scope.get("query_string", b"")
        if method not in METHODS:
            await self._send(send, 405, b"Method Not Allowed", [(b"allow", ALLOWED)])
            return
        client = scope.get("client")
        address: str | None = client[0] if client else None
        action = "other"
        try:
            if raw_path in BARE_PATHS:  # query style, the common case: no path pairs
                raw = parse_urlencoded(query)
            else:
                raw = merge((parse_path(raw_path), parse_urlencoded(query)))
            if method == "POST":
                raw.update(await self._body_params(scope, receive))
            params = LegacyParams.from_mapping(raw)
            if params.action in ACTIONS:
                action = params.action
            line = await self._answer(params, address or "unknown", method == "POST")
            code = "ok"
        except Exception as error:  # every failure gets a legacy answer, never a 500
            line, code = answer_for(error, redact_target(raw_path, query))
        # uvicorn sends no body for HEAD but keeps the content-length of the GET answer
        await self._send(send, 200, line.encode(self._charset, "replace"))
        elapsed = perf_counter() - started
        self.metrics.observe_request(action, code, elapsed)
        if self._access_log:
            log_access(
                method,
                redact_target(raw_path, query),
                action,
                code,
                round(elapsed * 1000, 2),
                address,
            )

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

    async def _answer(self, params: LegacyParams, address: str, via_post: bool) -> str:
        """Checks in the documented order: 11, 16, 01, 14, then per action."""
        if params.action not in ACTIONS:
            raise exc.UnknownAction()
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
