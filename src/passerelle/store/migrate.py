"""Apply Alembic migrations programmatically (`passerelle db upgrade`, `serve` at start)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from passerelle.exceptions import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("passerelle.store")


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` to `revision` (default: the newest).

    A failure is a StoreError of one line (the driver's reason, without SQLAlchemy's
    background link)."""
    config = alembic_config(database_url)
    try:
        command.upgrade(config, revision)
    except (SQLAlchemyError, CommandError) as error:
        reason = error.orig if isinstance(error, DBAPIError) else error
        first = (str(reason).strip().splitlines() or [type(reason).__name__])[0]
        raise StoreError(f"migrations failed on {database_url}: {first}") from None
    head = ScriptDirectory.from_config(config).get_current_head()
    log.info("migrations applied", extra={"revision": head})
