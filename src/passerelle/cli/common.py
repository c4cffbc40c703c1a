"""What every `passerelle` command shares: the consoles, settings, the gateway runner."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from rich.text import Text

from passerelle.cli.output import console, plain
from passerelle.exceptions import AdminError, ConfigError, StoreError
from passerelle.service import Gateway
from passerelle.settings import Settings, unknown_variables

T = TypeVar("T")
out = console()
err = console(stderr=True)


def _settings(**overrides: Any) -> Settings:
    """The settings (exit 2 when invalid), with a warning per unknown PASSERELLE_* variable."""
    settings = _load(**overrides)
    _warn_unknown(lambda line: err.print(Text(f"warning: {line}"), soft_wrap=True))
    return settings


def _load(**overrides: Any) -> Settings:
    try:
        return Settings.load(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as error:
        err.print(f"[red]error:[/red] {error}")
        sys.exit(2)


def _warn_unknown(emit: Callable[[str], object]) -> None:
    """Emit one line per PASSERELLE_* environment variable that names no setting."""
    for line in unknown_variables(os.environ):
        emit(line)


def _fail(error: ConfigError | StoreError) -> NoReturn:
    """A start-up or storage failure: one line on stderr, exit 3."""
    err.print(Text.assemble(("error:", "red"), " ", str(error)), soft_wrap=True)
    sys.exit(3)


def _prepare(settings: Settings, migrate: bool | None = None) -> None:
    """`wiring.prepare_database`: file checks, then migrations (ConfigError, StoreError)."""
    from passerelle import wiring  # the workers and metrics: only for commands that need them

    wiring.prepare_database(settings, migrate)


def _probe(settings: Settings) -> None:
    """Open the store and close it again: it can be opened and written (else StoreError)."""
    from passerelle import wiring

    asyncio.run(wiring.probe_database(settings))


def _with_gateway(settings: Settings, work: Callable[[Gateway], Awaitable[T]]) -> T:
    from passerelle import wiring

    async def run() -> T:
        async with wiring.open_gateway(settings) as gateway:
            return await work(gateway)

    try:
        _prepare(settings)
        return asyncio.run(run())
    except AdminError as error:
        err.print(f"[red]error:[/red] {plain(error)}")
        sys.exit(1)
    except (ConfigError, StoreError) as error:
        _fail(error)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
