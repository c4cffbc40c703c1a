"""The Connect-Mobile legacy API, ``/client/api`` (docs/api.md).

A plain ASGI handler, not a framework route: this is the hot path, and it needs the
raw path (path style keeps ``%2F`` inside a value) and raw bytes (UTF-8 or
Windows-1252 per value).

- HEAD is safe: it answers the headers of a legacy answer and does nothing else (no
  credentials checked, nothing sent, charged or stored).
- A body not received in full (the client left before `Content-Length` bytes or the
  last chunk) has no effect and gets no answer.
- A body over `OFFLOAD_BYTES` is parsed on a worker thread: the event loop (other
  requests, delivery, callbacks, ``/healthz``) never waits on one large request. An
  `envoi` is not checked here: it becomes a `SendRequest`, which the service checks
  (a long `dest` list on the service's own thread, `service.OFFLOAD_DEST`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any, TypeVar

from passerelle import exceptions as exc
from passerelle.api.errors import answer_for
from passerelle.api.metrics import Metrics
from passerelle.api.multipart import parse_multipart
from passerelle.api.params import (
    INDEX,
    PREFIX,
    LegacyParams,
    merge,
    parse_path,
    parse_urlencoded,
)
from passerelle.core.codes import SENT_LABEL, STATUS_LABELS
from passerelle.logs import (
    access_log,
    bind_login,
    bind_msgid,
    bind_request,
    log_access,
    redact_target,
)
from passerelle.service import Gateway

T = TypeVar("T")

ACTIONS = ("envoi", "statut", "solde")
ALLOWED = b"GET, POST, HEAD"
METHODS = frozenset({"GET", "POST", "HEAD"})
BARE_PATHS = frozenset({PREFIX, PREFIX + b"/", INDEX, INDEX + b"/"})
OFFLOAD_BYTES = 64 * 1024  # larger bodies (and `dest` lists) are read on a worker thread


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
        self._writer = access_log()  # the direct access-line writer, when logs have one
        # one thread: large bodies are parsed one at a time, never on the event loop
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="passerelle-parse")

    def close(self) -> None:
        """Stop the parsing thread."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _off_loop(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

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
        bind_request()  # this request's log context: nothing from an earlier one
        if method == "HEAD":  # safe: the headers of an answer, and nothing is done
            line, code = "", "head"
        else:
            try:
                if raw_path in BARE_PATHS:  # query style, the common case: no path pairs
                    raw = parse_urlencoded(query)
                else:
                    raw = merge((parse_path(raw_path), parse_urlencoded(query)))
                if method == "POST":
                    raw.update(await self._body_params(scope, receive))
                params = LegacyParams.from_mapping(raw)
                if params.login is not None:
                    bind_login(params.login)
                if params.action in ACTIONS:
                    action = params.action
                line = await self._answer(params, address or "unknown", method == "POST")
                code = "ok"
            except exc.RequestIncomplete:  # nothing was done; nobody is left to answer
                line, code = "", "incomplete"
            except Exception as error:  # every failure gets a legacy answer, never a 500
                line, code = answer_for(error, redact_target(raw_path, query))
        if code == "head":
            await self._send(send, 200, b"", length=False)
        elif code != "incomplete":
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
                self._writer,
            )

    async def _body_params(self, scope: dict[str, Any], receive: Any) -> dict[str, str]:
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise exc.RequestIncomplete()
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
            if size > OFFLOAD_BYTES:
                return await self._off_loop(lambda: parse_multipart(body, content_type))
            return parse_multipart(body, content_type)
        if size > OFFLOAD_BYTES:
            return await self._off_loop(lambda: parse_urlencoded(body))
        return parse_urlencoded(body)

    async def _answer(self, params: LegacyParams, address: str, via_post: bool) -> str:
        """Checks in the documented order: 11, 16, 01, 14, then per action."""
        if params.action not in ACTIONS:
            raise exc.UnknownAction()
        gateway = self.gateway
        account = await gateway.authenticate(params.login, params.apipasse, address)
        if params.action == "envoi":
            msgid = await gateway.send(account, params.send_request(via_post))
            bind_msgid(msgid)
            return f"{msgid}|{SENT_LABEL}"
        if params.action == "statut":
            if params.msgid is not None:
                bind_msgid(params.msgid)
            statut = await gateway.status(account, params.msgid, params.dest)
            return f"{statut}|{STATUS_LABELS[statut]}"
        return f"{await gateway.balance(account)} SMS"

    async def _send(
        self,
        send: Any,
        status: int,
        body: bytes,
        extra: list[tuple[bytes, bytes]] | None = None,
        length: bool = True,
    ) -> None:
        headers = [(b"content-type", self._content_type)]
        if length:
            headers.append((b"content-length", b"%d" % len(body)))
        if extra:
            headers.extend(extra)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
