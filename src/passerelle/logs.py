"""Structured logs: one JSON object per line (or text), secrets redacted, request context.

Every log event goes through `logging` (ours, uvicorn's, alembic's) or structlog
(`structlog.get_logger`), and is rendered by structlog's `ProcessorFormatter` with one
processor chain: the record's fields, the request context (`login`, `msgid`, bound per
request in a context variable by the legacy API: `bind_request`, `bind_msgid`), the
redaction processor (`redaction.redact_secrets`), then JSON (`JsonFormatter`) or text
(`TextFormatter`).

The per-request access line is the one event on the hot path: with the JSON format,
`setup_logging` gives the stderr handler an `access_log.AccessLog`, which writes that
line directly (same keys, order and values as `JsonFormatter`, plus the request's
``login`` and ``msgid``) into a buffer that the handler writes out before any other
event, and that is written out at exit. The writer is found through the root logger's
handler (`access_log()`): this module keeps no state of its own.
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import time
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any, TextIO

import structlog

from passerelle.access_log import ACCESS_LOGGER as ACCESS_LOGGER
from passerelle.access_log import AccessLog as AccessLog
from passerelle.redaction import SECRET_PARAMS as SECRET_PARAMS
from passerelle.redaction import redact_secrets
from passerelle.redaction import redact_target as redact_target

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "color_message",  # uvicorn's coloured duplicate of msg
    "_logger",  # structlog's, on records it made
    "_name",
}
_META = frozenset({"event", "_record", "_from_structlog", "exc_info", "stack_info"})
_CONTEXT = ("login", "msgid")
Event = MutableMapping[str, Any]


# --- the request context -----------------------------------------------------------


# One context variable holds the whole request context: setting it costs one call,
# where a variable per key (structlog's `bind_contextvars`) costs several per request
# and reading them back walks every variable of the context.
_REQUEST: ContextVar[tuple[str | None, int | str | None]] = ContextVar(
    "passerelle_request", default=(None, None)
)


def bind_request() -> None:
    """Start a request's log context: what an earlier request bound in this context
    (a test or benchmark calling the handler in one task) is dropped."""
    _REQUEST.set((None, None))


def bind_login(login: str) -> None:
    """Add the request's login: every event logged for the request carries it."""
    _REQUEST.set((login, _REQUEST.get()[1]))


def bind_msgid(msgid: int | str) -> None:
    """Add the request's msgid (the one `envoi` returned, the one `statut` asked about):
    a number when it reads as one, else the text given (logged as it came)."""
    if isinstance(msgid, str) and msgid.isascii() and msgid.isdigit() and len(msgid) <= 18:
        msgid = int(msgid)
    _REQUEST.set((_REQUEST.get()[0], msgid))


def request_context() -> tuple[str | None, int | str | None]:
    """The (login, msgid) bound for the current request, None where not bound."""
    return _REQUEST.get()


# --- processors --------------------------------------------------------------------


def _exc_text(exc_info: Any) -> str | None:
    if not exc_info:
        return None
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    return logging.Formatter().formatException(exc_info)


def _fields(with_exc: bool) -> structlog.typing.Processor:
    """A processor that lays out ts, level, logger, msg, then the event's own fields
    (a `logging` record's extras, or a structlog event's keys), then ``exc``."""

    def fields(_logger: Any, _method: str, event: Event) -> Event:
        record: logging.LogRecord = event["_record"]
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": event["event"],
        }
        if event["_from_structlog"]:
            out.update((k, v) for k, v in event.items() if k not in _META)
        else:
            out.update(
                (k, v)
                for k, v in record.__dict__.items()
                if k not in _STANDARD and not k.startswith("_")
            )
        for key, value in zip(_CONTEXT, _REQUEST.get(), strict=True):
            if value is not None:
                out.setdefault(key, value)
        exc = _exc_text(event.get("exc_info")) if with_exc else None
        if exc:
            out["exc"] = exc
        return out

    return fields


def _render_json(_logger: Any, _method: str, event: Event) -> str:
    return json.dumps(event, ensure_ascii=False, default=str)


def _render_text(_logger: Any, _method: str, event: Event) -> str:
    """``<message> key=value ...`` (the time, level and logger come from the format)."""
    fields = [
        f"{key}={_text_value(value)}"
        for key, value in event.items()
        if key not in ("ts", "level", "logger", "msg")
    ]
    return " ".join([str(event["msg"]), *fields])


def _text_value(value: object) -> str:
    text = str(value)
    if text and not any(c.isspace() or c in '"=' for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)


class JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """``{"ts": ..., "level": ..., "logger": ..., "msg": ..., <fields>, "exc": ...}``."""

    def __init__(self) -> None:
        super().__init__(processors=[_fields(with_exc=True), redact_secrets, _render_json])


class TextFormatter(structlog.stdlib.ProcessorFormatter):
    """``<time> <level> <logger> <message> key=value ...``: the structured fields after
    the message (strings with spaces or quotes JSON-quoted), a traceback below it."""

    def __init__(self) -> None:
        super().__init__(
            processors=[_fields(with_exc=False), redact_secrets, _render_text],
            fmt="%(asctime)s %(levelname)s %(name)s %(message)s",
            keep_exc_info=True,
        )


# --- the access line ---------------------------------------------------------------


class _OrderedStreamHandler(logging.StreamHandler[TextIO]):
    """A stderr handler that first writes out the buffered access lines (keeps order)."""

    def __init__(self, stream: TextIO, access: AccessLog | None) -> None:
        super().__init__(stream)
        self.access = access

    def emit(self, record: logging.LogRecord) -> None:
        if self.access is not None:
            self.access.flush()
        super().emit(record)


def access_log() -> AccessLog | None:
    """The direct access-log writer, or None when access events go through `logging`."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, _OrderedStreamHandler):
            return handler.access
    return None


def flush_access_log() -> None:
    """Write out the buffered access lines (call at shutdown; also runs at exit)."""
    writer = access_log()
    if writer is not None:
        writer.flush()


def log_access(
    method: str,
    target: str,
    action: str,
    code: str,
    ms: float,
    client: str | None,
    writer: AccessLog | None = None,
) -> None:
    """Log one legacy API request (the ``passerelle.access`` ``request`` event), with the
    login and msgid of the request context; `writer` is the direct writer when the caller
    already holds it (`access_log()`, looked up once), else it is looked up here."""
    login, msgid = _REQUEST.get()
    if writer is None:
        writer = access_log()
    if writer is not None:
        if writer.enabled():
            writer.write(writer.line(method, target, action, code, ms, client, login, msgid))
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
            "login": login,
            "msgid": msgid,
        },
    )


# --- set-up ------------------------------------------------------------------------


def _not_uvicorn_startup_failed(record: logging.LogRecord) -> bool:
    """False for uvicorn's "Application startup failed" line: our own line said why."""
    return not record.getMessage().startswith("Application startup failed")


def setup_logging(level: str = "info", fmt: str = "json") -> None:
    """Route every logger (ours, uvicorn's, alembic's, structlog's) to stderr in one format."""
    previous = access_log()
    if previous is not None:
        previous.flush()
        atexit.unregister(previous.flush)
    writer = AccessLog(sys.stderr) if fmt == "json" else None
    if writer is not None:
        atexit.register(writer.flush)
    handler = _OrderedStreamHandler(sys.stderr, writer)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("uvicorn.error").filters[:] = [_not_uvicorn_startup_failed]
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its info lines are noise to us
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request: scrapes, callbacks
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
