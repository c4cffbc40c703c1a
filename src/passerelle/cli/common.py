"""What every `passerelle` command shares: the consoles, settings, the gateway runner."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from passerelle.cli.output import console, plain
from passerelle.exceptions import AdminError, ConfigError, StoreError
from passerelle.service import Gateway
from passerelle.settings import Settings
from passerelle.store.base import open_store

T = TypeVar("T")
out = console()
err = console(stderr=True)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.load(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as error:
        err.print(f"[red]error:[/red] {error}")
        sys.exit(2)


def _prepare(settings: Settings) -> None:
    """Apply migrations (unless PASSERELLE_MIGRATE_ON_START=false) for sqlite URLs."""
    if settings.migrate_on_start and settings.database_url.startswith("sqlite:///"):
        from passerelle.store import migrate  # Alembic is heavy: only where migrating

        migrate.upgrade(settings.database_url)


def _with_gateway(settings: Settings, work: Callable[[Gateway], Awaitable[T]]) -> T:
    async def run() -> T:
        store = open_store(settings.database_url, settings.sqlite_synchronous)
        await store.open()
        gateway = Gateway(store, settings)
        try:
            return await work(gateway)
        finally:
            gateway.close()
            await store.close()

    try:
        _prepare(settings)
        return asyncio.run(run())
    except AdminError as error:
        err.print(f"[red]error:[/red] {plain(error)}")
        sys.exit(1)
    except (ConfigError, StoreError) as error:
        err.print(f"[red]error:[/red] {error}")
        sys.exit(3)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
