"""Structured logs (one JSON object per line) and redaction of secrets in URLs.

The legacy API carries `apipasse` in URLs, so every URL is passed through
`redact_target` before it is logged: query values and path-style values of secret
parameters become ``***``.

The per-request access line is the one log event on the hot path. With the JSON
format, `setup_logging` installs an `AccessLog` that writes that line directly (no
``LogRecord``, no formatter) into an in-memory buffer flushed to stderr every
`FLUSH_INTERVAL_S`, when it holds `FLUSH_BYTES`, before any other log event (so the
order of lines is kept), and at exit (`flush_access_log`). Every other event goes
through `logging`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
from typing import Any, TextIO
from urllib.parse import unquote_to_bytes

from passerelle.core.params import split_path

SECRET_PARAMS = frozenset({"apipasse", "apipass", "password", "passwd", "pwd", "secret", "token"})
_SECRET_BYTES = frozenset(name.encode() for name in SECRET_PARAMS)
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "color_message",  # uvicorn's coloured duplicate of msg
}
ACCESS_LOGGER = "passerelle.access"
FLUSH_INTERVAL_S = 0.2
FLUSH_BYTES = 64 * 1024
# what json.dumps(ensure_ascii=False) escapes in a string
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _is_secret(raw_name: bytes) -> bool:
    """The name as the API parser reads it (+ and %XX decoded), compared case-blind."""
    if raw_name.isalnum():  # ASCII letters and digits only: nothing to decode or strip
        return raw_name.lower() in _SECRET_BYTES
    name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("latin-1").strip().lower()
    return name in SECRET_PARAMS


def redact_target(raw_path: bytes, query: bytes = b"") -> str:
    """The request target for logs, with secret values replaced by ``***``.

    The path is cut into name/value pairs by the API parser's own `split_path`, so the
    value redacted is the one the parser reads as ``apipasse`` whatever the words
    around it (``/msg/Password/apipasse/x`` hides ``x``, not ``apipasse``). Names are
    decoded as the parser decodes them (so ``api%70asse`` is caught) and values end
    where the parser ends them (``&`` in a query, ``/`` in a path), so a secret is
    hidden whole however it is written.
    """
    target = raw_path
    head, segments, tail = split_path(raw_path)
    changed = False
    for i in range(0, len(segments) - 1, 2):
        if _is_secret(segments[i]):
            segments[i + 1] = b"***"
            changed = True
    if changed:
        target = head + b"/".join(segments) + tail
    if query:
        pairs = query.split(b"&")
        for i, pair in enumerate(pairs):
            name, eq, _value = pair.partition(b"=")
            if eq and _is_secret(name):
                pairs[i] = name + b"=***"
        target += b"?" + b"&".join(pairs)
    return target.decode("latin-1")


def _json_str(value: str) -> str:
    """`value` as a JSON string, as ``json.dumps(value, ensure_ascii=False)`` writes it."""
    if value.isalnum() or _NEEDS_ESCAPE.search(value) is None:
        return '"' + value + '"'
    return json.dumps(value, ensure_ascii=False)


class AccessLog:
    """Buffered writer of the access-log lines (one JSON object per line).

    Lines are appended from the event-loop thread; `flush` may run from any thread
    (another log event, exit), so the buffer is guarded by a lock.
    """

    def __init__(
        self,
        stream: TextIO,
        interval: float = FLUSH_INTERVAL_S,
        max_bytes: int = FLUSH_BYTES,
    ) -> None:
        self.stream = stream
        self._interval = interval
        self._max_bytes = max_bytes
        self._lines: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._second = -1
        self._stamp = ""
        self._logger = logging.getLogger(ACCESS_LOGGER)

    def enabled(self) -> bool:
        """True when the access logger would emit an info event (level, `disabled`)."""
        return self._logger.isEnabledFor(logging.INFO)

    def line(
        self,
        method: str,
        target: str,
        action: str,
        code: str,
        ms: float,
        client: str | None,
    ) -> str:
        """The JSON line `JsonFormatter` would write for this access event."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = '{"ts": "' + time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + "."
        return (
            f'{self._stamp}{int((now - second) * 1000):03d}Z", "level": "info",'
            f' "logger": "{ACCESS_LOGGER}", "msg": "request", "method": {_json_str(method)},'
            f' "target": {_json_str(target)}, "action": {_json_str(action)},'
            f' "code": {_json_str(code)}, "ms": {ms!r},'
            f' "client": {"null" if client is None else _json_str(client)}}}\n'
        )

    def write(
        self,
        method: str,
        target: str,
        action: str,
        code: str,
        ms: float,
        client: str | None,
    ) -> None:
        """Buffer one access line; it reaches the stream within `interval` seconds."""
        text = self.line(method, target, action, code, ms, client)
        with self._lock:
            self._lines.append(text)
            self._size += len(text)
            full = self._size >= self._max_bytes
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (tools, tests): write at once
            self.flush()
            return
        if full:
            self.flush()
        elif self._timer_loop is not loop:  # no flush pending on this loop
            self._timer_loop = loop
            loop.call_later(self._interval, self._tick)

    def _tick(self) -> None:
        self._timer_loop = None
        self.flush()

    def flush(self) -> None:
        """Write the buffered lines to the stream now."""
        with self._lock:
            if not self._lines:
                return
            text = "".join(self._lines)
            self._lines = []
            self._size = 0
            # a closed or broken stderr: logs are best effort
            with contextlib.suppress(OSError, ValueError):
                _write_lines(self.stream, text)


PIPE_ATOMIC = 4096  # POSIX PIPE_BUF on Linux: a write of at most this size is not interleaved


def _write_lines(stream: TextIO, text: str) -> None:
    """Write whole lines in pieces of at most PIPE_BUF bytes straight to the stream's file
    descriptor, so that several worker processes sharing stderr never interleave inside
    a line; streams without a descriptor (tests) get one plain write."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        stream.write(text)
        stream.flush()
        return
    stream.flush()
    data = text.encode("utf-8", "replace")
    start = 0
    while start < len(data):
        end = len(data)
        if end - start > PIPE_ATOMIC:
            cut = data.rfind(b"\n", start, start + PIPE_ATOMIC)
            end = cut + 1 if cut >= start else start + PIPE_ATOMIC
        view = memoryview(data)[start:end]
        while view:
            written = os.write(fd, view)
            view = view[written:]
        start = end


_access: AccessLog | None = None


def access_log() -> AccessLog | None:
    """The direct access-log writer, or None when access events go through `logging`."""
    return _access


def flush_access_log() -> None:
    """Write out the buffered access lines (call at shutdown; also runs at exit)."""
    if _access is not None:
        _access.flush()


def log_access(
    method: str, target: str, action: str, code: str, ms: float, client: str | None
) -> None:
    """Log one legacy API request (the ``passerelle.access`` ``request`` event)."""
    writer = _access
    if writer is not None:
        if writer.enabled():
            writer.write(method, target, action, code, ms, client)
        return
    logging.getLogger(ACCESS_LOGGER).info(
        "request",
        extra={
            "method": method,
            "target": target,
            "action": action,
            "code": code,
            "ms": ms,
            "client": client,
        },
    )


class JsonFormatter(logging.Formatter):
    """``{"ts": ..., "level": ..., "logger": ..., "msg": ..., <extra fields>}``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``<time> <level> <logger> <message> key=value ...``: the structured fields after
    the message (strings with spaces or quotes JSON-quoted), a traceback below it."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = [
            f"{key}={_text_value(value)}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD and key != "asctime" and not key.startswith("_")
        ]
        if not fields:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} {' '.join(fields)}{newline}{rest}"


def _text_value(value: object) -> str:
    text = str(value)
    if text and not any(c.isspace() or c in '"=' for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)


def _not_uvicorn_startup_failed(record: logging.LogRecord) -> bool:
    """False for uvicorn's "Application startup failed" line: our own line said why."""
    return not record.getMessage().startswith("Application startup failed")


class _OrderedStreamHandler(logging.StreamHandler[TextIO]):
    """A stderr handler that first writes out the buffered access lines (keeps order)."""

    def emit(self, record: logging.LogRecord) -> None:
        flush_access_log()
        super().emit(record)


def setup_logging(level: str = "info", fmt: str = "json") -> None:
    """Route every logger (ours, uvicorn's, alembic's) to stderr in one format."""
    global _access
    flush_access_log()
    handler = _OrderedStreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
        _access = AccessLog(sys.stderr)
    else:
        handler.setFormatter(TextFormatter())
        _access = None
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("uvicorn.error").filters[:] = [_not_uvicorn_startup_failed]
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its info lines are noise to us


atexit.register(flush_access_log)
