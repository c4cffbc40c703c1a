"""Whether a database's schema is the newest, read without Alembic.

`serve` migrates at start (`PASSERELLE_MIGRATE_ON_START`), but importing Alembic and
SQLAlchemy to find that there is nothing to do costs the serving process about 30 MiB
for its whole life (docs/performance.md). The revision a database is at is one row of
``alembic_version``: it is read here with the driver alone, and Alembic is imported only
when the database is behind (or cannot be read this way).
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor

from passerelle.store.location import database_file, is_postgres

# the newest migration (store/migrations/versions/); a test checks it is Alembic's head
HEAD = "0016"
_QUERY = "SELECT version_num FROM alembic_version"


def current_revision(database_url: str) -> str | None:
    """The revision the database is at; None when it has none or cannot be read."""
    path = database_file(database_url)
    try:
        if path is not None:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
            try:
                rows = conn.execute(_QUERY).fetchall()
            finally:
                conn.close()
            return str(rows[0][0]) if len(rows) == 1 else None
        if is_postgres(database_url):
            with ThreadPoolExecutor(1) as thread:  # a caller may be inside a loop already
                return thread.submit(asyncio.run, _pg_revision(database_url)).result()
    except Exception:  # unreadable: Alembic will say why, in one line
        return None
    return None


async def _pg_revision(database_url: str) -> str | None:
    import asyncpg

    conn = await asyncpg.connect(database_url, timeout=10.0)
    try:
        rows = await conn.fetch(_QUERY)
    finally:
        await conn.close()
    return str(rows[0][0]) if len(rows) == 1 else None


def up_to_date(database_url: str) -> bool:
    """True when the database is at `HEAD` (no migration to apply)."""
    return current_revision(database_url) == HEAD
