"""PostgreSQL callbacks (a mixin of `PgStore`; the SQLite twin is `sqlite_callbacks.py`)."""

from __future__ import annotations

from passerelle.store.postgres_base import PgRole


class PgCallbacks(PgRole):
    """The callbacks role of the PostgreSQL store."""
