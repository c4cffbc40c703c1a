"""Apply Alembic migrations programmatically (`passerelle db upgrade`, `serve` at start)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from passerelle.exceptions import StoreError
from passerelle.store.location import is_postgres, safe_url

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("passerelle.store")


def sqlalchemy_url(database_url: str) -> str:
    """`database_url` as SQLAlchemy names it: PostgreSQL through asyncpg."""
    if is_postgres(database_url):
        return "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    return database_url


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision` (default: the newest).

    A failure is a StoreError of one line (the driver's reason, without SQLAlchemy's
    background link)."""
    config = alembic_config(database_url)
    try:
        if is_postgres(database_url):
            # asyncpg runs in an event loop of its own: in a thread, so that a caller
            # already inside a loop (a test, an async command) can call this too
            with ThreadPoolExecutor(1) as thread:
                thread.submit(command.upgrade, config, revision).result()
        else:
            command.upgrade(config, revision)
    except (SQLAlchemyError, CommandError, OSError, asyncpg.PostgresError) as error:
        reason = error.orig if isinstance(error, DBAPIError) else error
        first = (str(reason).strip().splitlines() or [type(reason).__name__])[0]
        raise StoreError(f"migrations failed on {safe_url(database_url)}: {first}") from None
    head = ScriptDirectory.from_config(config).get_current_head()
    log.info("migrations applied", extra={"revision": head})
