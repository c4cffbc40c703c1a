"""The ASGI application: legacy API on the hot path, Starlette for everything else."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from passerelle.api.legacy import LegacyApi, is_legacy_path
from passerelle.api.metrics import Metrics
from passerelle.delivery.deadline import DeadlineJob
from passerelle.delivery.dispatcher import Dispatcher
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.delivery.receipts import ReceiptHandler
from passerelle.delivery.supervisor import Supervisor
from passerelle.logs import flush_access_log
from passerelle.retention import RetentionJob
from passerelle.service import Gateway
from passerelle.settings import Settings
from passerelle.store.base import Store, open_store
from passerelle.store.sqlite import SqliteStore
from passerelle.webhooks.metrics import CallbackMetrics
from passerelle.webhooks.sender import CallbackSender

log = logging.getLogger("passerelle")


class App:
    """Routes ``/client/api*`` to the legacy handler and the rest to Starlette."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.failure: str | None = None  # why the start failed, once it has
        self.store = store or open_store(
            settings.database_url, settings.sqlite_synchronous, settings.group_commit_max_batch
        )
        self.metrics = Metrics()
        if isinstance(self.store, SqliteStore):
            writer = self.store.writer
            self.metrics.watch_writer(lambda: (writer.batches, writer.operations))
        self.gateway = Gateway(self.store, settings)
        gateway = self.gateway
        self.metrics.watch_counter(
            "passerelle_auth_verifications",
            "API password verifications (argon2) started by this process",
            lambda: gateway.verifications,
        )
        self.legacy = LegacyApi(self.gateway, self.metrics)
        self.delivery_metrics = DeliveryMetrics(self.metrics.registry)
        self.receipts = ReceiptHandler(self.store, self.delivery_metrics)
        self.supervisor = Supervisor(self.store, settings, self.delivery_metrics, self.receipts)
        self.dispatcher = Dispatcher(
            self.store,
            self.supervisor,
            self.delivery_metrics,
            lease=settings.dispatch_lease_s,
            batch=settings.dispatch_batch,
        )
        self.deadline = DeadlineJob(self.store, settings.receipt_deadline_s, self.delivery_metrics)
        self.callbacks = CallbackSender(
            self.store, settings, CallbackMetrics(self.metrics.registry)
        )
        self.retention = RetentionJob(self.store, settings.retention_days)
        self.web = Starlette(
            routes=[
                Route("/healthz", self.healthz),
                Route("/readyz", self.readyz),
                Route("/metrics", self.prometheus),
            ],
            lifespan=self.lifespan,
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_legacy_path(scope["path"]):
            await self.legacy(scope, receive, send)
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
                    await self.store.close()
                raise
            yield

    @contextlib.asynccontextmanager
    async def running(self, _app: Starlette) -> AsyncIterator[None]:
        """Open the store at start; at shutdown, finish queued writes, then close."""
        await self.store.open()
        if self.settings.delivery:
            await self.supervisor.start()
            self.dispatcher.start()
            self.deadline.start()
            self.gateway.on_accepted = self.dispatcher.notify
        if self.settings.callbacks:
            self.callbacks.start()
        if self.settings.retention:
            self.retention.start()
        log.info("ready", extra={"database": _safe_url(self.settings.database_url)})
        try:
            yield
        finally:
            await self.retention.stop()
            if self.settings.callbacks:
                await self.callbacks.stop()
            if self.settings.delivery:
                await self.deadline.stop()
                await self.dispatcher.stop(self.settings.shutdown_grace_s)
                await self.supervisor.stop()
                await self.receipts.drain()
            self.gateway.close()
            self.legacy.close()
            await self.store.close()
            log.info("stopped: every accepted write is committed")
            flush_access_log()

    async def healthz(self, _request: Request) -> Response:
        """Alive: the process answers."""
        return PlainTextResponse("ok")

    async def readyz(self, _request: Request) -> Response:
        """Ready: the database answers and, when delivering, a connector is bound and every
        queued recipient has a usable route (503 with one reason per line otherwise)."""
        if not await self.store.ping():
            return PlainTextResponse("database unreachable", status_code=503)
        reasons = self.supervisor.not_ready() if self.settings.delivery else []
        if reasons:
            return PlainTextResponse("\n".join(reasons), status_code=503)
        return PlainTextResponse("ready")

    async def prometheus(self, _request: Request) -> Response:
        """Prometheus exposition of this process's metrics."""
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def create_app(settings: Settings | None = None, store: Store | None = None) -> App:
    """The application for `settings` (read from the environment when not given)."""
    return App(settings or Settings.load(), store)
