"""The ASGI application: legacy API on the hot path, Starlette for everything else.

HTTP front doors only: the parts a process runs are built by `passerelle.wiring` and
reach the application as a `Process` (the service, the metrics, the lifecycle).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from passerelle.api.legacy import LegacyApi, is_legacy_path
from passerelle.api.metrics import Metrics
from passerelle.logs import flush_access_log
from passerelle.service import Gateway
from passerelle.settings import Settings

log = logging.getLogger("passerelle")


class Process(Protocol):
    """What the HTTP front doors need of the process they serve (`wiring.Parts`)."""

    settings: Settings
    gateway: Gateway
    metrics: Metrics

    async def start(self) -> None:
        """Open the store and start this process's roles."""

    async def stop(self) -> None:
        """Stop the roles, commit every queued write, close the store."""

    async def close_store(self) -> None:
        """Close the store after a failed start."""

    async def ping(self) -> bool:
        """True when the database answers."""

    async def not_ready(self) -> list[str]:
        """Why the process is not ready, one line each (empty when it is)."""

    async def refresh_metrics(self) -> None:
        """Gather figures kept elsewhere (the delivery process's) before a scrape."""


NOT_HERE = b"404 this process does not serve the API (serve --role without api)\n"


async def not_here(send: Any) -> None:
    """The answer of a process without the `api` role to a legacy API request."""
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(NOT_HERE)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": NOT_HERE})


class App:
    """Routes ``/client/api*`` to the legacy handler and the rest to Starlette."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.settings = process.settings
        self.failure: str | None = None  # why the start failed, once it has
        self.metrics = process.metrics
        self.gateway = process.gateway
        self.legacy = LegacyApi(self.gateway, self.metrics)
        self.serves_api = self.settings.api  # the `api` role
        self.console: Any = None  # the console's pages, when this process serves them
        routes: list[BaseRoute] = [
            Route("/healthz", self.healthz),
            Route("/readyz", self.readyz),
            Route("/metrics", self.prometheus),
        ]
        if self.serves_api:
            from passerelle.api.v1 import create_v1

            routes.append(Mount("/api/v1", app=create_v1(self.gateway)))
        if self.serves_api and self.settings.console:
            from passerelle.console.app import ConsoleApp
            from passerelle.console.pages import PAGES

            self.console = ConsoleApp(self.gateway, PAGES)
            routes += self.console.routes()
        self.web = Starlette(routes=routes, lifespan=self.lifespan)

    def begin_shutdown(self) -> None:
        """Called from the signal handler of `serve`: long-lived answers end now."""
        if self.console is not None:
            self.console.begin_shutdown()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_legacy_path(scope["path"]):
            if self.serves_api:
                await self.legacy(scope, receive, send)
            else:
                await not_here(send)
        elif scope["type"] == "lifespan":
            await self.web(scope, receive, self._without_trace(send))
        else:
            await self.web(scope, receive, send)

    def _without_trace(self, send: Any) -> Any:
        """`send`, but a failed start (already logged in one line) carries no traceback."""

        async def forward(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.failed" and self.failure is not None:
                message = {"type": message["type"], "message": ""}
            await send(message)

        return forward

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Start, serve, stop. A start that fails is logged as one line (uvicorn then
        exits 3): with ``--workers`` the supervisor does not start that worker again."""
        async with contextlib.AsyncExitStack() as stack:
            try:
                await stack.enter_async_context(self.running(app))
            except Exception as error:
                self.failure = str(error) or type(error).__name__
                log.error("cannot start: %s", self.failure)
                with contextlib.suppress(Exception):
                    await self.process.close_store()
                raise
            yield

    @contextlib.asynccontextmanager
    async def running(self, _app: Starlette) -> AsyncIterator[None]:
        """Start the process at start; at shutdown, stop it (queued writes committed)."""
        await self.process.start()
        try:
            yield
        finally:
            await self.process.stop()
            self.legacy.close()
            log.info("stopped: every accepted write is committed")
            flush_access_log()

    async def healthz(self, _request: Request) -> Response:
        """Alive: the process answers."""
        return PlainTextResponse("ok")

    async def readyz(self, _request: Request) -> Response:
        """Ready: the database answers and, when delivering, a connector is bound and every
        queued recipient has a usable route (503 with one reason per line otherwise)."""
        if not await self.process.ping():
            return PlainTextResponse("database unreachable", status_code=503)
        reasons = await self.process.not_ready()
        if reasons:
            return PlainTextResponse("\n".join(reasons), status_code=503)
        return PlainTextResponse("ready")

    async def prometheus(self, _request: Request) -> Response:
        """Prometheus exposition of this process's metrics (and its delivery process's)."""
        await self.process.refresh_metrics()
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)
