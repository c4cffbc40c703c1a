"""HTTP/1.1 connections with bounds: uvicorn's httptools protocol, hardened.

uvicorn parses HTTP with httptools (llhttp) and hands requests to our ASGI app. What it
leaves open, this subclass closes:

- **Head size.** A request line plus headers over `HttpLimits.max_head_bytes` (64 KiB)
  is answered ``431`` at once and the connection closed. The head is collected here
  before the parser sees it, so a 128 MB header costs nothing but its first 64 KiB
  (httptools would concatenate it piece by piece, in time growing faster than its size).
- **Time.** A connection must deliver a complete head within `header_timeout_s` of its
  first byte (or of being opened), and a complete body within `body_timeout_s` of its
  head; otherwise it is closed. An idle kept-alive connection is closed by uvicorn's
  ``timeout_keep_alive``. A body cut short this way reaches the app as a disconnect,
  and the legacy API then does nothing (`api/legacy.py`).
- **Connections.** Beyond `max_connections` open connections per process, a new one is
  answered ``503`` with the legacy line ``16|Trop de requêtes`` and closed, so that
  idle sockets can never exhaust the file descriptors the database needs.
- **Raw bytes in the request target.** Scripts that concatenate ``été`` into a URL
  without encoding it worked against the Apache + PHP servers the legacy API was
  written for; llhttp refuses such a request line. Bytes >= 0x80 in the request line
  are percent-encoded before parsing, so they read exactly as their encoded form.
  Control characters still get uvicorn's ``400``.

Pipelined requests without a body are handled head by head; after a request with a
body, bytes that follow in the same read go to the parser as they are.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
LINGER_S = 2.0  # after a 431, how long the rest of the request is read and dropped
_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _busy_answer() -> bytes:
    body = "16|Trop de requêtes".encode()
    return (
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: %d\r\nretry-after: 1\r\nconnection: close\r\n\r\n" % len(body) + body
    )


_BUSY = _busy_answer()
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 31\r\nconnection: close\r\n\r\nRequest Header Fields Too Large"
)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """Bounds of one process's HTTP connections."""

    max_connections: int = 1000
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0
    max_head_bytes: int = MAX_HEAD_BYTES


def head_end(buffer: bytes | bytearray, start: int = 0) -> int:
    """The index just after the first blank line at or after `start` (which ends a
    head), or -1."""
    ends = [
        i + n
        for i, n in ((buffer.find(b"\n\r\n", start), 3), (buffer.find(b"\n\n", start), 2))
        if i >= 0
    ]
    return min(ends) if ends else -1


def encode_request_line(head: bytes) -> bytes:
    """`head` with the bytes >= 0x80 of its first line percent-encoded (``é`` → ``%C3%A9``)."""
    cut = head.find(b"\n")
    line = head if cut < 0 else head[:cut]
    if line.isascii():
        return head
    return _HIGH_BYTE.sub(lambda m: b"%%%02X" % m.group()[0], line) + head[len(line) :]


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds of `limits` (see the module doc).

    Two paths for incoming bytes. A request's head (and anything before it) is
    collected in `_buffer` until its blank line, checked against the size limit, its
    request line encoded, and only then fed to the parser; while an earlier request of
    the connection is still being answered, the next head waits there (reading paused),
    so answers always leave in order and a refusal never overtakes one. Once the parser
    has a head, the body goes to it straight, cut at its `Content-Length` so that a
    pipelined head after it takes the head path again; bytes that are not body (chunk
    sizes, trailers) are counted against the head limit.
    """

    limits: ClassVar[HttpLimits] = HttpLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._buffer = bytearray()  # head bytes not fed to the parser yet
        self._searched = 0  # how far `_buffer` was searched for the end of a head
        self._in_message = False  # the parser has a head; its body is still coming
        self._mid_head = False  # the parser holds part of a head (after a chunked body)
        self._body_left: int | None = None  # Content-Length still to come, when known
        self._framing = 0  # bytes of this message fed to the parser that are not body
        self._timer: asyncio.TimerHandle | None = None
        self._dropping = False  # answered 431: read and drop the rest, then close

    # --- connection ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.transport = transport
            transport.write(_BUSY)
            transport.close()
            return
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing() or self._dropping:  # refused, timed out, lost, 431
            return
        if self._in_message or self._mid_head:
            self._feed_straight(data)
            return
        if (  # the common case: one whole ASCII head, alone in this read, nothing pending
            not self._buffer
            and data.endswith(b"\r\n\r\n")
            and data.find(b"\n\r\n") == len(data) - 3
            and b"\n\n" not in data
            and len(data) <= self.limits.max_head_bytes
            and not self._answering()
            and data.isascii()
        ):
            self._disarm()
            super().data_received(data)
            if self._reading_body() and not self.transport.is_closing():
                self._arm(self.limits.body_timeout_s)
            return
        self._buffer += data
        self._next_heads()

    def _reading_body(self) -> bool:
        """True once the parser has the head of a request whose body is still coming."""
        return self._in_message

    def _answering(self) -> bool:
        """True while a request of this connection is still being answered."""
        return self.cycle is not None and not self.cycle.response_complete

    def _next_heads(self) -> None:
        """Feed the whole heads waiting in `_buffer`, one request at a time."""
        buffer = self._buffer
        limit = self.limits.max_head_bytes
        while True:
            if self._answering():  # the next head waits for this answer (in order)
                self.flow.pause_reading()
                return
            self._unset_keepalive_if_required()
            if buffer and buffer[0] in b"\r\n":  # blank lines before a request are allowed
                del buffer[: len(buffer) - len(buffer.lstrip(b"\r\n"))]
                self._searched = 0
            if not buffer:
                return
            end = head_end(buffer, max(0, self._searched - 3))
            if end < 0 or end > limit:
                if end > limit or len(buffer) > limit:
                    self._refuse_head()
                    return
                self._searched = len(buffer)  # wait for the rest of the head
                if self._timer is None:
                    self._arm(self.limits.header_timeout_s)
                return
            head = bytes(buffer[:end])
            del buffer[:end]
            self._searched = 0
            self._disarm()
            super().data_received(encode_request_line(head))
            if self.transport.is_closing():  # a 400 from the parser
                return
            if self._in_message:  # a body follows: what is buffered is its start
                self._arm(self.limits.body_timeout_s)
                rest = bytes(buffer)
                buffer.clear()
                if rest:
                    self._feed_straight(rest)
                return

    def _feed_straight(self, data: bytes) -> None:
        """Body bytes to the parser, cut where a known `Content-Length` ends."""
        rest = b""
        if self._body_left is not None and len(data) > self._body_left:
            data, rest = data[: self._body_left], data[self._body_left :]
        self._framing += len(data)  # on_body takes the body bytes back out
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._framing > self.limits.max_head_bytes:  # huge chunk lines or trailers
            self._refuse_head()
            return
        if rest:
            self._buffer += rest
            self._next_heads()

    # --- parser callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        self._mid_head = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._mid_head = False
        self._in_message = True
        self._framing = 0
        self._body_left = None
        if self.parser.get_method() in (b"POST", b"PUT", b"PATCH"):
            self._body_left = _content_length(self.headers)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._framing -= len(body)
        if self._body_left is not None:
            self._body_left -= len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_message = False
        self._body_left = None
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._buffer and not self.transport.is_closing():
            self.loop.call_soon(self._next_heads_if_open)

    def _next_heads_if_open(self) -> None:
        if not self.transport.is_closing() and not self._dropping:
            self._next_heads()

    # --- timers -------------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        """The head or the body did not come in time: close (the app sees a disconnect)."""
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_head(self) -> None:
        """Answer 431, then read and drop what the client still sends for `LINGER_S`
        before closing: closing with unread bytes would reset the connection, and the
        client would lose the answer."""
        self._buffer.clear()
        self._dropping = True
        self.transport.write(_TOO_LARGE)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._arm(LINGER_S)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The body length a head announces; None when chunked or not announced."""
    length = None
    for name, value in headers:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
    return length


def protocol_class(limits: HttpLimits) -> type[BoundedHttpProtocol]:
    """A protocol class for uvicorn's ``Config(http=...)`` bound to `limits`."""
    return type("BoundedHttpProtocol", (BoundedHttpProtocol,), {"limits": limits})
