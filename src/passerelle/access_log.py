"""The access-log writer: one JSON line per legacy API request, buffered.

The access line is the one log event on the hot path, so it does not go through
`logging` or structlog's processors: `AccessLog` writes the line `logs.JsonFormatter`
would write (same keys, same order, same values; measured in docs/performance.md) into
an in-memory buffer flushed to the stream every `FLUSH_INTERVAL_S`, when it holds
`FLUSH_BYTES`, before any other log event (`logs.setup_logging`'s handler flushes it
first, so the order of lines is kept), and at exit. Flushes write whole lines in
pieces of at most `PIPE_ATOMIC` bytes, so workers sharing stderr never interleave
inside a line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import threading
import time
from typing import TextIO

ACCESS_LOGGER = "passerelle.access"
FLUSH_INTERVAL_S = 0.2
FLUSH_BYTES = 64 * 1024
PIPE_ATOMIC = 4096  # POSIX PIPE_BUF on Linux: a write of at most this size is not interleaved
# what json.dumps(ensure_ascii=False) escapes in a string
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _json_str(value: str) -> str:
    """`value` as a JSON string, as ``json.dumps(value, ensure_ascii=False)`` writes it."""
    if value.isalnum() or _NEEDS_ESCAPE.search(value) is None:
        return '"' + value + '"'
    return json.dumps(value, ensure_ascii=False)


def _json_id(value: int | str | None) -> str:
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    return _json_str(str(value))


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
        login: str | None = None,
        msgid: int | str | None = None,
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
            f' "client": {"null" if client is None else _json_str(client)},'
            f' "login": {"null" if login is None else _json_str(login)},'
            f' "msgid": {_json_id(msgid)}}}\n'
        )

    def write(self, text: str) -> None:
        """Buffer one access line (`line`); it reaches the stream within `interval`
        seconds."""
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
