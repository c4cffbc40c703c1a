"""The console as Starlette routes: each `Page` of the table (`console/pages.py`) wrapped
in the checks every page gets, in this order:

1. the visitor: the session cookie's session (and the customer's account), the
   language cookie, an anonymous CSRF cookie when there is no session;
2. the method (``405``), then access: a page for customers or operators sends an
   anonymous visitor to ``/user/login`` (GET) or answers ``403`` (POST); a customer on an
   operator page, or an operator on a customer page, gets ``403``;
3. for a POST: the form, read within its bounds, and its ``csrf_token`` (``403``);
4. the handler. A `Refusal` becomes its error page; any other exception a ``500`` page
   with a reference that the log line carries too (never a traceback to the client).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from passerelle import exceptions as exc
from passerelle.console.web import (
    CSRF_COOKIE,
    SAFE_METHODS,
    SESSION_COOKIE,
    Access,
    Ctx,
    Page,
    Refusal,
    lang_of,
    new_csrf,
    read_form,
    same_token,
    secure_headers,
)
from passerelle.core.console import Role
from passerelle.service import Gateway
from passerelle.service_console import Console
from passerelle.service_history import LiveSlots

log = logging.getLogger("passerelle.console")

PACKAGE = files("passerelle.console")


def environment() -> Environment:
    """The templates' environment: HTML autoescaped everywhere."""
    folder = str(PACKAGE.joinpath("templates"))
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


class ConsoleApp:
    """The console's pages over one gateway."""

    def __init__(self, gateway: Gateway, pages: Sequence[Page]) -> None:
        self.gateway = gateway
        self.console = Console(gateway)
        self.settings = gateway.settings
        self.env = environment()
        self.pages = tuple(pages)
        self.closing = False  # set when the process begins to shut down
        self.live = LiveSlots()  # the live-status streams this process serves

    def begin_shutdown(self) -> None:
        """The process is stopping: long-lived answers (live-status streams) end now
        rather than holding the shutdown until its grace runs out."""
        self.closing = True

    def routes(self) -> list[BaseRoute]:
        """One route per page (every method answered, to give 405 our page), and the
        static files."""
        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        routes: list[BaseRoute] = [
            Route(page.path, self._endpoint(page), methods=methods, name=page.name or None)
            for page in self.pages
        ]
        static = StaticFiles(directory=str(PACKAGE.joinpath("static")))
        routes.append(Mount("/static", app=static, name="static"))
        return routes

    def _endpoint(self, page: Page) -> Any:
        async def endpoint(request: Request) -> Response:
            return await self.serve(page, request)

        return endpoint

    async def serve(self, page: Page, request: Request) -> Response:
        """Run one page with every check."""
        try:
            ctx = await self._context(request)
        except Exception:  # the store cannot say who this is: a plain answer
            log.exception("console page %s: no session could be read", page.path)
            return secure_headers(PlainTextResponse("503 Service Unavailable", 503))
        try:
            return await self._checked(page, ctx)
        except Refusal as refusal:
            return self.error(ctx, refusal.status, refusal.key)
        except exc.StoreError:
            return self.error(ctx, 503, "error.500")
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("console page %s failed (reference %s)", page.path, reference)
            return self.error(ctx, 500, "error.500", reference=reference)

    async def _context(self, request: Request) -> Ctx:
        token = request.cookies.get(SESSION_COOKIE, "")
        session = await self.console.session(token) if token else None
        account = None
        if session is not None and session.role is Role.CUSTOMER:
            account = await self.gateway.store.find_account(session.login)
            if account is None:
                session = None
        ctx = Ctx(
            request=request,
            settings=self.settings,
            env=self.env,
            gateway=self.gateway,
            console=self.console,
            session=session,
            account=account,
            lang=lang_of(request),
            stopping=lambda: self.closing,
            live=self.live,
        )
        if session is None:
            ctx.csrf_anonymous = request.cookies.get(CSRF_COOKIE, "")
            if len(ctx.csrf_anonymous) != 43:
                ctx.csrf_anonymous = new_csrf()
                ctx.set_cookie(CSRF_COOKIE, ctx.csrf_anonymous, None)
        if token and session is None:
            ctx.set_cookie(SESSION_COOKIE, "", 0)  # ended or expired: forget it
        return ctx

    async def _checked(self, page: Page, ctx: Ctx) -> Response:
        request = ctx.request
        method = request.method
        if method not in page.methods and not (method == "HEAD" and "GET" in page.methods):
            raise Refusal(405, "error.405")
        if page.access is not Access.PUBLIC:
            if ctx.session is None:
                if method in SAFE_METHODS:
                    return ctx.redirect("/user/login", next=request.url.path)
                raise Refusal(403, "error.403")
            wanted = Role.CUSTOMER if page.access is Access.CUSTOMER else Role.OPERATOR
            if ctx.session.role is not wanted:
                raise Refusal(403, "error.403")
        if method not in SAFE_METHODS:
            ctx.form = await read_form(request, page.max_body, page.max_files, page.max_fields)
            given = ctx.form.get("csrf_token")
            if not isinstance(given, str) or not same_token(given, ctx.csrf):
                raise Refusal(403, "error.csrf")
        return await page.handler(ctx)

    def error(self, ctx: Ctx, status: int, key: str, reference: str = "") -> Response:
        """The error page."""
        return ctx.render("error.html", status=status, message=key, reference=reference)
