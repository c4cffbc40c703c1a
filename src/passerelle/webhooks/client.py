"""The callback sender's HTTP/1.1 client: keep-alive connections to guarded addresses.

Why our own (docs/architecture.md, docs/performance.md "Callbacks"): a callback is one
small request whose answer is read for its status only. aiohttp spent ~100 µs of CPU
per such request and httpx ~2 ms; this client, on asyncio and the `httptools` response
parser (the one uvicorn uses), spends ~25 µs (`bench/client_micro.py`). It also closes
the SSRF guard's DNS-rebinding window: a connection is opened to an address the guard
has just checked, never to a name resolved a second time.

What it does, and no more:
- one request at a time per connection; idle connections are kept per receiver (scheme,
  host, port) for `idle_s` and reused; a reused connection that closes before answering
  is retried once on a fresh one (a receiver may drop idle connections at any time);
- `http` and `https` (certificates verified with the system's CAs, or `ssl_context`);
- user information in the URL is sent as HTTP Basic authentication;
- no redirects, cookies, proxies, compression or body kept: the caller gets the status;
- time limits are the caller's (`asyncio.timeout` around `request`): a connection
  interrupted mid-request is closed, never reused.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import cast

import httptools

from passerelle.exceptions import ProtocolError as ProtocolError  # defined in the error tree
from passerelle.webhooks import guard
from passerelle.webhooks.target import Target as Target  # the one callback-URL validator
from passerelle.webhooks.target import target_of as target_of


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `exchange` sends a request and waits for the status."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[int] | None = None
        self.status: int | None = None
        self.answered = False  # any byte of the current answer arrived
        self.reusable = False
        self.closed = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def exchange(self, data: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.status, self.answered, self.reusable = None, False, False
        if self.closed or self.transport.is_closing():
            self.waiter.set_exception(ProtocolError("connection closed before an answer"))
            return self.waiter
        self.transport.write(data)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as error:
            self._fail(ProtocolError(f"bad HTTP answer: {type(error).__name__} {error}"))
            self.close()
            return
        if self.status is not None and self.waiter is not None and not self.waiter.done():
            # the final status is known but the body has not all come in this read: the
            # status is the answer; the rest of the body is not waited for (a receiver
            # cannot stretch an attempt into a timeout), and the connection is not reused
            self.waiter.set_result(self.status)
            self.close()

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_message_complete(self) -> None:
        if self.status is not None and 100 <= self.status < 200:
            self.status = None  # an interim answer (100 Continue): the final one follows
            return
        self.reusable = self.parser.should_keep_alive()
        if self.waiter is not None and not self.waiter.done() and self.status is not None:
            self.waiter.set_result(self.status)
        if not self.reusable:
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.status is not None and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.status)  # an answer delimited by the close
        else:
            self._fail(ProtocolError("connection closed before an answer"))

    def _fail(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    def eof_received(self) -> bool:
        self.closed = True  # the receiver is done with this connection
        return False

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Client:
    """Pooled HTTP/1.1 requests to callback receivers (see the module's docstring)."""

    def __init__(
        self,
        allow_private: bool,
        idle_s: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
        on_connect: Callable[[str, str], None] | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.idle_s = idle_s
        self._ssl = ssl_context
        self._on_connect = on_connect  # (origin, address) just before a socket connects
        self._idle: dict[str, deque[_Connection]] = {}
        self._closed = False

    async def request(
        self, target: Target, method: str, path_query: str, body: bytes | None, headers: str
    ) -> int:
        """Send one request (`headers`: CRLF-terminated lines); the answer's status."""
        head = f"{method} {path_query} HTTP/1.1\r\n".encode() + target.head + headers.encode()
        if body is not None:
            head += b"Content-Length: %d\r\n\r\n" % len(body) + body
        else:
            head += b"\r\n"
        connection = self._pooled(target.origin)
        if connection is not None:
            try:
                return await self._exchange(target, connection, head)
            except ProtocolError:
                if connection.answered:
                    raise
                # dropped while idle: once more on a fresh connection
        return await self._exchange(target, await self._open(target), head)

    async def _exchange(self, target: Target, connection: _Connection, data: bytes) -> int:
        try:
            status = await connection.exchange(data)
        except BaseException:
            connection.close()  # interrupted (timeout, cancel, error): never reused
            raise
        if self._closed or not connection.reusable or connection.closed:
            connection.close()
        else:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(target.origin, deque()).append(connection)
        return status

    def _pooled(self, origin: str) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the most recently used: the least likely dropped
            if not connection.closed and now - connection.idle_since < self.idle_s:
                return connection
            connection.close()
        return None

    async def _open(self, target: Target) -> _Connection:
        addresses = await guard.addresses(target.host, target.port, self.allow_private)
        loop = asyncio.get_running_loop()
        context = None
        if target.tls:
            context = self._ssl or _default_context()
        failure: OSError | None = None
        for address in addresses:
            if self._on_connect is not None:
                self._on_connect(target.origin, address)
            try:
                _, connection = await loop.create_connection(
                    _Connection,
                    address,
                    target.port,
                    ssl=context,
                    server_hostname=target.host if context is not None else None,
                )
                return connection
            except OSError as error:
                failure = error
        assert failure is not None
        raise failure

    def sweep(self) -> None:
        """Close connections idle for longer than `idle_s`."""
        now = time.monotonic()
        for origin, idle in list(self._idle.items()):
            keep: deque[_Connection] = deque()
            for connection in idle:
                if not connection.closed and now - connection.idle_since < self.idle_s:
                    keep.append(connection)
                else:
                    connection.close()
            if keep:
                self._idle[origin] = keep
            else:
                del self._idle[origin]

    def close(self) -> None:
        """Close every idle connection; connections in use close when their answer came."""
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


@functools.cache
def _default_context() -> ssl.SSLContext:
    return ssl.create_default_context()
