"""The console's plumbing: the page table entry, one request's context, forms with
bounds, CSRF, cookies, rendering and the security headers of every answer.

- **Access.** Every page declares who may open it (`Access`): public, a customer, an
  operator. A page that names an object in its path declares which kind (`Page.owns`);
  the page looks it up within the visitor's account only, so another account's id is
  answered ``404`` like an id that does not exist (tests are generated from the table).
- **CSRF.** Every form carries a hidden ``csrf_token``. With a session it must equal
  the session's token; without one (sign-up, log-in, reset) it must equal the
  ``passerelle_csrf`` cookie (double submit). Compared in constant time; a POST without
  it is answered ``403`` before its handler runs.
- **Bounds.** A form body is read up to `Page.max_body` bytes (``413`` beyond), with at
  most `MAX_FIELDS` fields and `Page.max_files` files.
- **Cookies.** HttpOnly, SameSite=Lax, Path=/, Secure when the request came over https
  (or `cookie_secure`).
- **Headers.** A CSP without inline script or style, frame-ancestors none, nosniff, no
  referrer (links from e-mails carry tokens), and no caching of pages.
"""

from __future__ import annotations

import asyncio
import enum
import hmac
import ipaddress
import logging
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import MultiPartParser
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from passerelle.console.i18n import LANGS, TEXTS, translator
from passerelle.core.console import Role, Session
from passerelle.core.values import Account
from passerelle.exceptions import PageRefused
from passerelle.service import Gateway
from passerelle.service_console import Console
from passerelle.service_history import LiveSlots
from passerelle.settings import Settings

log = logging.getLogger("passerelle.console")

SESSION_COOKIE = "passerelle_session"
CSRF_COOKIE = "passerelle_csrf"
LANG_COOKIE = "passerelle_lang"
MAX_FIELDS = 100
MAX_ID_DIGITS = 18  # an id in a path (a 64-bit integer has at most 19 digits)
FORM_BYTES = 64 * 1024
THREAD_BYTES = 64 * 1024  # larger multipart bodies are parsed on a worker thread
SAFE_METHODS = frozenset({"GET", "HEAD"})

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
        "frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
}


class Access(enum.Enum):
    """Who may open a page."""

    PUBLIC = "public"
    CUSTOMER = "customer"
    OPERATOR = "operator"


class Owns(enum.Enum):
    """The kind of object a page's path names by id (scoped to the visitor's account)."""

    MESSAGE = "message"
    CONTACT = "contact"
    GROUP = "group"
    CALLBACK = "callback"
    KEY = "key"


Handler = Callable[["Ctx"], Awaitable[Response]]


@dataclass(frozen=True)
class Page:
    """One entry of the console's route table."""

    path: str
    handler: Handler
    methods: tuple[str, ...] = ("GET",)
    access: Access = Access.CUSTOMER
    owns: Owns | None = None
    max_body: int = FORM_BYTES
    max_files: int = 0
    max_fields: int = MAX_FIELDS
    name: str = ""


Refusal = PageRefused  # the pages raise it as Refusal(status, text key)


@dataclass
class Ctx:
    """One console request: who asks, their form, and how to answer."""

    request: Request
    settings: Settings
    env: Environment
    gateway: Gateway
    console: Console
    session: Session | None
    account: Account | None
    lang: str
    form: FormData | None = None
    new_cookies: list[tuple[str, str, int | None]] = field(default_factory=list)
    csrf_anonymous: str = ""
    stopping: Callable[[], bool] = lambda: False  # the process is shutting down
    live: LiveSlots = field(default_factory=LiveSlots)  # the process's live streams

    @property
    def t(self) -> Callable[[str], str]:
        """The translation function of the visitor's language."""
        return translator(self.lang)

    @property
    def operator(self) -> bool:
        """True when an operator is logged in."""
        return self.session is not None and self.session.role is Role.OPERATOR

    @property
    def customer(self) -> Account:
        """The logged-in customer's account (pages with Access.CUSTOMER only)."""
        assert self.account is not None
        return self.account

    @property
    def address(self) -> str:
        """The client's address (the failed-login and sign-up limits count by it)."""
        client = self.request.client
        return client.host if client else "unknown"

    @property
    def base_url(self) -> str:
        """The gateway's public base URL: `public_url`, else the request's own."""
        configured = self.settings.public_url.rstrip("/")
        return configured or str(self.request.base_url).rstrip("/")

    @property
    def link_base(self) -> str:
        """The base of the links sent by e-mail (activation, reset): `public_url`; without
        it, the request's own only when it came to a loopback name (the embedded default
        on a laptop). A link built from any other Host header could be a forged one that
        sends someone's reset link to a stranger's server: Refusal 400 then, and a log
        line saying to set PASSERELLE_PUBLIC_URL."""
        configured = self.settings.public_url.rstrip("/")
        if configured:
            return configured
        host = self.request.url.hostname or ""
        if host == "localhost" or _loopback(host):
            return str(self.request.base_url).rstrip("/")
        log.warning("e-mail links need PASSERELLE_PUBLIC_URL (a request came for %r)", host)
        raise Refusal(400, "error.public_url")

    @property
    def csrf(self) -> str:
        """The CSRF token the forms of this page carry."""
        if self.session is not None:
            return self.session.csrf
        return self.csrf_anonymous

    def field(self, name: str, default: str = "") -> str:
        """A text field of the posted form (or of the query string), stripped."""
        source: Mapping[str, Any] = self.form if self.form is not None else {}
        value = source.get(name)
        if value is None:
            value = self.request.query_params.get(name)
        return value.strip() if isinstance(value, str) else default

    def path_id(self, name: str) -> int:
        """The id `name` of the path (ASCII digits, at most `MAX_ID_DIGITS`), else
        Refusal 404: a malformed id is answered like one that does not exist."""
        raw = self.request.path_params.get(name, "")
        if not (isinstance(raw, str) and raw.isascii() and raw.isdigit()):
            raise Refusal(404, "error.404")
        if len(raw) > MAX_ID_DIGITS:
            raise Refusal(404, "error.404")
        return int(raw)

    def secret(self, name: str) -> str:
        """A posted password field as typed (not stripped); "" when absent."""
        value = None if self.form is None else self.form.get(name)
        return value if isinstance(value, str) else ""

    def file(self, name: str) -> UploadFile | None:
        """A file of the posted form, or None."""
        value = None if self.form is None else self.form.get(name)
        return value if isinstance(value, UploadFile) else None

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """A page from `templates/`, with the layout's values."""
        html = self.env.get_template(template).render(
            t=self.t,
            lang=self.lang,
            langs=LANGS,
            csrf_token=self.csrf,
            session=self.session,
            account=self.account,
            is_operator=self.operator,
            path=self.request.url.path,
            notice=known_key(self.request.query_params.get("ok", "")),
            **values,
        )
        return self.finish(HTMLResponse(html, status_code=status))

    def redirect(self, path: str, ok: str = "", **params: str) -> Response:
        """303 to `path` (a local path), with a notice key to show there."""
        query = {**params, **({"ok": ok} if ok else {})}
        target = path + ("?" + urlencode(query) if query else "")
        return self.finish(RedirectResponse(target, status_code=303))

    def set_cookie(self, name: str, value: str, max_age: int | None) -> None:
        """Set a cookie on the answer (max_age 0 deletes it)."""
        self.new_cookies.append((name, value, max_age))

    def finish(self, response: Response) -> Response:
        """Add the cookies and the security headers to an answer."""
        secure = self.settings.cookie_secure or self.request.url.scheme == "https"
        for name, value, max_age in self.new_cookies:
            response.set_cookie(
                name,
                value,
                max_age=max_age,
                httponly=True,
                samesite="lax",
                secure=secure,
                path="/",
            )
        self.new_cookies.clear()
        secure_headers(response)
        return response


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def known_key(key: str) -> str:
    """`key` when it is a text of the console, else "" (a ``?ok=`` notice shows only the
    console's own sentences, never text put in a link by someone else)."""
    return key if key in TEXTS else ""


def secure_headers(response: Response) -> Response:
    """Add the console's security headers to an answer."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison of two tokens; an empty one never matches."""
    return bool(given) and bool(expected) and hmac.compare_digest(given, expected)


def new_csrf() -> str:
    """A fresh anonymous CSRF token (double-submit cookie)."""
    return secrets.token_urlsafe(32)


async def read_form(
    request: Request, max_body: int, max_files: int, max_fields: int = MAX_FIELDS
) -> FormData:
    """The posted form, its body read up to `max_body` bytes (Refusal 413 beyond) and
    parsed with at most `max_fields` fields and `max_files` files (Refusal 400). A
    multipart body over `THREAD_BYTES` is parsed on a worker thread (a 2 MB upload takes
    about 3 ms of CPU, bench/console_uploads.py: the event loop does not wait on it)."""
    declared = request.headers.get("content-length")
    if declared is not None and not (declared.isascii() and declared.isdigit()):
        raise Refusal(413, "error.too_large")  # not a length: refused like a large body
    if declared is not None and int(declared) > max_body:
        raise Refusal(413, "error.too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body:
            raise Refusal(413, "error.too_large")
    data = bytes(body)
    request._body = data  # starlette reads the form from the body read here
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/") and len(data) > THREAD_BYTES:
            return await asyncio.to_thread(
                _parse_multipart, request.headers, data, max_files, max_fields
            )
        return await request.form(
            max_files=max_files, max_fields=max_fields, max_part_size=max_body
        )
    except Exception as error:  # malformed multipart or too many parts: a 400, not a 500
        raise Refusal(400, "error.bad_form") from error


def _parse_multipart(headers: Headers, data: bytes, max_files: int, max_fields: int) -> FormData:
    """Parse a multipart body on the calling (worker) thread, in a loop of its own."""

    async def stream() -> AsyncGenerator[bytes, None]:
        yield data

    parser = MultiPartParser(
        headers, stream(), max_files=max_files, max_fields=max_fields, max_part_size=len(data)
    )
    return asyncio.run(parser.parse())


def lang_of(request: Request) -> str:
    """The visitor's language: the cookie's, else French (the manual's)."""
    lang = request.cookies.get(LANG_COOKIE, "fr")
    return lang if lang in LANGS else "fr"
