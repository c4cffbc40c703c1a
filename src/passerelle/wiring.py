"""The one place that builds a gateway process from its settings.

`build` makes the store (through the store factory, which also owns the backend's own
options and metrics), the services over it (`Gateway` for the front doors,
`Operations` for the workers: no worker is handed the store), the metrics registry,
the workers (receipt handler, connector supervisor, dispatcher, receipt deadline,
callback sender, mail sender, retention purge) and hands them, as `Parts`, to the HTTP
front doors (`api.app.App`, which knows them only as its `Process` protocol).
`Parts.start` and `Parts.stop` run the roles this process has; `serve` runs them inside
the ASGI lifespan.

A process's roles are named (`Role`), not worker numbers: every process answers
/healthz, /readyz and /metrics; `api` answers the legacy API; `delivery` binds the
connectors it owns (exactly one process binds each connector, whatever runs where) and
runs the dispatcher and the receipt deadline; `callbacks` sends delivery-receipt callbacks
and the e-mails of the outbox (`mail/`); `retention` purges old messages. `serve --role`
chooses them; `--workers N` gives delivery and retention to the first worker and
callbacks to the second. A process given both `api` and `delivery` runs the delivery
in a child process (`sidecar.py`); it then holds a `Peer` to ask that child for its
readiness and its delivery metrics.

The command line goes through here too, never to the store itself: `prepare_database`
(file checks and migrations), `probe_database` (the store opens and takes writes),
`open_gateway` (a service over an opened store, for one command), and the maintenance
operations on whole databases, `copy_database` and `backup_database`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from passerelle.api.metrics import Metrics
from passerelle.delivery.deadline import DeadlineJob
from passerelle.delivery.dispatcher import Dispatcher
from passerelle.delivery.metrics import DeliveryMetrics
from passerelle.delivery.receipts import ReceiptHandler
from passerelle.delivery.supervisor import Supervisor
from passerelle.mail.sender import MailSender
from passerelle.retention import RetentionJob
from passerelle.roles import Role, roles_of
from passerelle.service import Gateway
from passerelle.service_workers import Operations
from passerelle.settings import Settings
from passerelle.sidecar import Peer
from passerelle.store.base import Store, open_store, writer_counters
from passerelle.store.location import database_file, is_postgres, prepare_file
from passerelle.store.location import safe_url as safe_url  # for the CLI
from passerelle.store.version import up_to_date
from passerelle.webhooks.metrics import CallbackMetrics
from passerelle.webhooks.sender import CallbackSender

if TYPE_CHECKING:
    from passerelle.api.app import App
    from passerelle.store.backup import BackupReport as BackupReport
    from passerelle.store.copy import CopyReport as CopyReport  # the CLI's name for it

log = logging.getLogger("passerelle")


@dataclass
class Parts:
    """Everything one process runs, built once from its settings."""

    settings: Settings
    roles: frozenset[Role]
    store: Store
    metrics: Metrics
    gateway: Gateway
    operations: Operations
    delivery_metrics: DeliveryMetrics
    receipts: ReceiptHandler
    supervisor: Supervisor
    dispatcher: Dispatcher
    deadline: DeadlineJob
    callbacks: CallbackSender
    mails: MailSender
    retention: RetentionJob
    peer: Peer | None = None  # the delivery process of this one (`sidecar.py`)

    async def start(self) -> None:
        """Open the store, then start the roles of this process."""
        await self.store.open()
        if Role.DELIVERY in self.roles:
            await self.supervisor.start()
            self.dispatcher.start()
            self.deadline.start()
        if Role.CALLBACKS in self.roles:
            self.callbacks.start()
            self.mails.start()
        if Role.RETENTION in self.roles:
            self.retention.start()
        log.info(
            "ready",
            extra={
                "database": safe_url(self.settings.database_url),
                "roles": ",".join(sorted(self.roles)),
            },
        )

    async def stop(self) -> None:
        """Stop the roles (work in flight finishes), then commit and close the store."""
        await self.retention.stop()
        if Role.CALLBACKS in self.roles:
            await self.mails.stop()
            await self.callbacks.stop()
        if Role.DELIVERY in self.roles:
            await self.deadline.stop()
            await self.dispatcher.stop(self.settings.shutdown_grace_s)
            await self.supervisor.stop()
            await self.receipts.drain()
        self.gateway.close()
        await self.store.close()
        if self.peer is not None:
            await self.peer.close()

    async def close_store(self) -> None:
        """Close the store after a failed start."""
        await self.store.close()

    async def ping(self) -> bool:
        """True when the database answers."""
        return await self.store.ping()

    async def not_ready(self) -> list[str]:
        """Why this process (and its delivery process) is not ready, one line each (empty
        when it is)."""
        reasons = self.supervisor.not_ready() if Role.DELIVERY in self.roles else []
        if self.peer is not None:
            reasons += await self.peer.not_ready()
        return reasons

    async def refresh_metrics(self) -> None:
        """Before a scrape: read the delivery process's figures (when there is one)."""
        if self.peer is not None:
            await self.peer.refresh_metrics()


IDLE_POLL_NOTIFIED_S = 1.0
DISPATCH_POLL_S = 0.1
CALLBACK_POLL_S = 0.2


def build(settings: Settings, store: Store | None = None) -> Parts:
    """The parts of a process for `settings` (a given `store` is used as it is)."""
    if store is None:
        store = open_store(
            settings.database_url,
            settings.sqlite_synchronous,
            settings.group_commit_max_batch,
            settings.database_pool_size,
        )
    metrics = Metrics()
    counters = writer_counters(store)
    if counters is not None:
        metrics.watch_writer(counters)
    gateway = Gateway(store, settings)
    metrics.watch_counter(
        "passerelle_auth_verifications",
        "API password verifications (argon2) started by this process",
        lambda: gateway.verifications,
    )
    operations = Operations(store)
    peer = None
    delivery_registry = metrics.registry
    if settings.delivery_peer:  # delivery runs in a child: show its figures, not ours
        peer = Peer(settings.delivery_peer)
        metrics.registry.register(peer.relayed)
        delivery_registry = CollectorRegistry()
    delivery_metrics = DeliveryMetrics(delivery_registry)
    receipts = ReceiptHandler(operations, delivery_metrics)
    supervisor = Supervisor(operations, settings, delivery_metrics, receipts)
    # PostgreSQL wakes idle workers by NOTIFY, whichever process queued the work: they
    # then only look for work that became due by time once a second. SQLite's signal
    # stays inside one process: its workers poll briskly for the others' accepts.
    idle = IDLE_POLL_NOTIFIED_S if is_postgres(settings.database_url) else 0.0
    return Parts(
        settings=settings,
        roles=roles_of(settings),
        store=store,
        metrics=metrics,
        gateway=gateway,
        operations=operations,
        delivery_metrics=delivery_metrics,
        receipts=receipts,
        supervisor=supervisor,
        dispatcher=Dispatcher(
            operations,
            supervisor,
            delivery_metrics,
            lease=settings.dispatch_lease_s,
            batch=settings.dispatch_batch,
            poll=idle or DISPATCH_POLL_S,
        ),
        deadline=DeadlineJob(operations, settings.receipt_deadline_s, delivery_metrics),
        callbacks=CallbackSender(
            operations, settings, CallbackMetrics(metrics.registry), poll=idle or CALLBACK_POLL_S
        ),
        mails=MailSender(operations, settings),
        retention=RetentionJob(operations, settings.retention_days),
        peer=peer,
    )


def create_app(settings: Settings | None = None, store: Store | None = None) -> App:
    """The ASGI application of a process for `settings` (read from the environment when
    not given)."""
    from passerelle.api.app import App

    return App(build(settings or Settings.load(), store))


def prepare_database(settings: Settings, migrate: bool | None = None) -> None:
    """Check the database URL and, for SQLite, its folder, and create the file 0600; then
    apply migrations (when `migrate`, by default unless PASSERELLE_MIGRATE_ON_START=false).

    Raises ConfigError or StoreError with one line saying what is wrong."""
    path = database_file(settings.database_url)
    if path is not None:
        prepare_file(path, settings.database_url)
    elif not is_postgres(settings.database_url):
        return  # the memory twin: nothing to prepare
    if settings.migrate_on_start if migrate is None else migrate:
        if up_to_date(settings.database_url):
            return  # nothing to apply: Alembic (~30 MiB for the process's life) not loaded
        from passerelle.store import migrate as migrations  # Alembic is heavy: only here

        migrations.upgrade(settings.database_url)


async def probe_database(settings: Settings) -> None:
    """Open the store and close it again: it can be opened and written (else StoreError)."""
    store = open_store(settings.database_url, settings.sqlite_synchronous)
    await store.open()
    await store.close()


@asynccontextmanager
async def open_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """A service over an opened store (for one command); both closed on the way out."""
    store = open_store(settings.database_url, settings.sqlite_synchronous)
    await store.open()
    gateway = Gateway(store, settings)
    try:
        yield gateway
    finally:
        gateway.close()
        await store.close()


async def copy_database(
    source_url: str, target_url: str, progress: Callable[[str, int], object] | None = None
) -> CopyReport:
    """`passerelle db copy`: every row of `source_url` into the empty `target_url`, verified
    (`store/copy.py`; ConfigError or StoreError with one line when it cannot be done)."""
    from passerelle.store import copy  # Alembic and asyncpg: only for this command

    return await copy.copy_database(source_url, target_url, progress=progress)


def backup_database(database_url: str, destination: str, force: bool = False) -> BackupReport:
    """`passerelle db backup`: a consistent copy of the SQLite database, made while it
    serves (`store/backup.py`; InvalidValue, ConfigError or StoreError with one line)."""
    from passerelle.store.backup import backup_sqlite

    return backup_sqlite(database_url, destination, force)
