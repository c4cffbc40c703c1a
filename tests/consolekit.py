"""Helpers of the console tests: the console's routes in-process over a real store, and
a client that carries the session cookie and the forms' CSRF tokens like a browser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from passerelle.console.app import ConsoleApp
from passerelle.console.pages import PAGES
from passerelle.service import Gateway
from passerelle.settings import Settings
from passerelle.store.base import Store

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r"https?://\S+/user/(?:activate|reset)/[A-Za-z0-9_-]{43}")
PASSWORD = "console-pass-1"


def console_app(store: Store, settings: Settings) -> tuple[Starlette, Gateway]:
    """The console's pages (and static files) over `store`, without the rest of `serve`;
    the `ConsoleApp` is the Starlette app's ``state.console``."""
    gateway = Gateway(store, settings)
    console = ConsoleApp(gateway, PAGES)
    app = Starlette(routes=console.routes())
    app.state.console = console
    return app, gateway


def console_of(client: ConsoleClient) -> ConsoleApp:
    """The `ConsoleApp` a client talks to."""
    transport = client.http._transport
    assert isinstance(transport, httpx.ASGITransport)
    console = transport.app.state.console  # type: ignore[attr-defined]
    assert isinstance(console, ConsoleApp)
    return console


@dataclass
class ConsoleClient:
    """A browser-like client of the console: cookies kept, CSRF tokens read from pages."""

    http: httpx.AsyncClient
    store: Store

    @classmethod
    def of(cls, app: Starlette, store: Store, address: str = "127.0.0.1") -> ConsoleClient:
        """A client of `app` coming from `address`."""
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        http = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
        return cls(http, store)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET `path` (redirects not followed)."""
        return await self.http.get(path, **kwargs)

    async def token(self, page: str = "/user/login") -> str:
        """The CSRF token the forms of `page` carry."""
        response = await self.http.get(page)
        found = CSRF.search(response.text)
        assert found is not None, (page, response.status_code, response.text[:500])
        return found.group(1)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, page: str | None = None, **kw: Any
    ) -> httpx.Response:
        """POST a form to `path` with the CSRF token read from `page` (default: `path`)."""
        fields = dict(data or {})
        fields.setdefault("csrf_token", await self.token(page or path))
        return await self.http.post(path, data=fields, **kw)

    async def links(self) -> list[str]:
        """Every activation or reset link of the e-mails queued so far, oldest first."""
        found: list[str] = []
        mail_id = 1
        while (mail := await self.store.find_mail(mail_id)) is not None:
            found += LINK.findall(mail.body_text)
            mail_id += 1
        return found

    async def sign_up(self, login: str, email: str | None = None) -> httpx.Response:
        """Fill in ``/user/create``."""
        data = {"login": login, "email": email or f"{login}@example.com", "password": PASSWORD}
        return await self.post("/user/create", data)

    async def activate_last(self) -> httpx.Response:
        """Open the newest link and press its button."""
        path = httpx.URL((await self.links())[-1]).path
        return await self.post(path, page=path)

    async def log_in(self, login: str, password: str = PASSWORD) -> httpx.Response:
        """Fill in ``/user/login``."""
        return await self.post("/user/login", {"login": login, "password": password})

    async def customer(self, login: str) -> ConsoleClient:
        """Sign up, activate and log in as `login`; self."""
        assert (await self.sign_up(login)).status_code == 200
        assert (await self.activate_last()).status_code == 200
        answer = await self.log_in(login)
        assert answer.status_code == 303, answer.text[:500]
        return self
